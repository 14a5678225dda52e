"""Executions of every state machine: list, detail (graph + history), start, start again, redrive.

Starting the self-healing state machine is starting a retraining: it takes the lock and claims the
cooldown as the drift function does, and is audited (``console.retraining``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from console.api.deps import StateDep, TokenDep, decode_token, encode_token
from console.asl import layout
from console.history import summarise
from console.retraining import ManualRetraining, ManualStart, RetrainingLimits, cooldown_end
from selfheal.contracts import ExecutionInput
from selfheal.exceptions import CooldownActiveError, LockHeldError, StepInputError

router = APIRouter(prefix="/api", tags=["executions"])

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _duration_s(start: Any, stop: Any) -> float | None:
    if not isinstance(start, datetime):
        return None
    end = stop if isinstance(stop, datetime) else datetime.now(UTC)
    return round((end - start).total_seconds(), 3)


def _trigger(input_text: str | None) -> str | None:
    try:
        doc = json.loads(input_text or "null")
    except ValueError:
        return None
    return str(doc["trigger"]) if isinstance(doc, dict) and "trigger" in doc else None


def _describe(state: StateDep, arn: str) -> dict[str, Any]:
    """DescribeExecution, cached once the execution has ended (a finished execution never changes)."""
    cached = state.cache.get(f"exec:{arn}")
    if cached is not None:
        return cached
    desc = state.cloud.client("stepfunctions").describe_execution(executionArn=arn)
    desc.pop("ResponseMetadata", None)
    if desc.get("status") not in ("RUNNING", "PENDING_REDRIVE"):
        state.cache.put(f"exec:{arn}", desc)
    return desc


def _machines(state: StateDep) -> list[dict[str, Any]]:
    sfn = state.cloud.client("stepfunctions")
    machines: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_state_machines").paginate():
        machines += page["stateMachines"]
    return machines


@router.get("/state-machines")
def state_machines(state: StateDep) -> dict[str, Any]:
    default = state.output("StateMachineArn", "SelfHealingStateMachine")
    return {"default": default, "items": [{"arn": m["stateMachineArn"], "name": m["name"], "type": m.get("type")}
                                          for m in _machines(state)]}


@router.get("/executions")
def list_executions(state: StateDep, state_machine: str | None = None, status: str | None = None,
                    page: str | None = None, limit: int = Query(25, ge=1, le=100)) -> dict[str, Any]:
    """One page of executions, newest first, of one state machine or of all of them in turn."""
    if status and status not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}")
    sfn = state.cloud.client("stepfunctions")
    arns = [state_machine] if state_machine else [m["stateMachineArn"] for m in _machines(state)]
    cursor = decode_token(page) or {"i": 0, "t": None}
    index, token = int(cursor["i"]), cursor["t"]
    rows: list[dict[str, Any]] = []
    next_cursor = None
    while index < len(arns) and len(rows) < limit:
        kwargs: dict[str, Any] = {"stateMachineArn": arns[index], "maxResults": limit - len(rows)}
        if status:
            kwargs["statusFilter"] = status
        if token:
            kwargs["nextToken"] = token
        resp = sfn.list_executions(**kwargs)
        rows += resp["executions"]
        token = resp.get("nextToken")
        if not token:
            index += 1
    if index < len(arns):
        next_cursor = {"i": index, "t": token}
    # The list API has no input, and the trigger lives there: describe this page only, in parallel.
    described = list(state.pool.map(lambda r: _describe(state, r["executionArn"]), rows))
    items = [{
        "arn": r["executionArn"],
        "name": r["name"],
        "state_machine": r["stateMachineArn"].rsplit(":", 1)[-1],
        "status": r["status"],
        "start": _iso(r.get("startDate")),
        "stop": _iso(r.get("stopDate")),
        "duration_s": _duration_s(r.get("startDate"), r.get("stopDate")),
        "trigger": _trigger(d.get("input")),
        "error": d.get("error"),
    } for r, d in zip(rows, described, strict=True)]
    return {"items": items, "next": encode_token(next_cursor)}


@router.get("/execution")
def execution(state: StateDep, arn: str) -> dict[str, Any]:
    """Everything the execution page shows: description, graph, per-state runs, event history."""
    sfn = state.cloud.client("stepfunctions")
    desc = _describe(state, arn)
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn, maxResults=1000):
        events += page["events"]
    key = f"def:{desc['stateMachineArn']}:{desc.get('stateMachineVersionArn', '')}"
    definition = state.cache.get(key) if desc.get("status") != "RUNNING" else None
    if definition is None:
        definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
        if desc.get("status") != "RUNNING":
            state.cache.put(key, definition)
    summary = summarise(events, desc.get("status", "RUNNING"))
    return {
        "arn": arn,
        "name": desc.get("name"),
        "state_machine_arn": desc.get("stateMachineArn"),
        "status": desc.get("status"),
        "start": _iso(desc.get("startDate")),
        "stop": _iso(desc.get("stopDate")),
        "duration_s": _duration_s(desc.get("startDate"), desc.get("stopDate")),
        "input": desc.get("input"),
        "output": desc.get("output"),
        "error": desc.get("error") or summary["error"],
        "cause": desc.get("cause") or summary["cause"],
        "trigger": _trigger(desc.get("input")),
        "graph": layout(definition),
        "definition": definition,
        "states": summary["states"],
        "path": summary["path"],
        "taken": summary["taken"],
        "events": summary["events"],
    }


class CooldownOverride(BaseModel):
    """Start a retraining inside the cooldown: allowed, with a reason that goes to the audit trail."""

    override_cooldown: bool = False
    override_reason: str = Field("", max_length=500)

    def override(self) -> str | None:
        if not self.override_cooldown:
            return None
        if not self.override_reason.strip():
            raise HTTPException(422, "overriding the cooldown needs an override_reason (it is written to the "
                                     "audit trail)")
        return self.override_reason.strip()


class StartRequest(CooldownOverride):
    state_machine_arn: str | None = None
    input: str = "{}"
    name: str | None = None


class ExecutionRef(BaseModel):
    arn: str


class RestartRequest(ExecutionRef, CooldownOverride):
    pass


def _start(state: StateDep, machine: str, input_text: str, name: str | None, *, why: str,
           override: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        json.loads(input_text)
    except ValueError as exc:
        raise HTTPException(400, f"the input is not valid JSON: {exc}") from exc
    name = name or f"console-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    sfn = state.cloud.client("stepfunctions")
    table = state.output("StateTableName", "StateTable")
    if machine != state.output("StateMachineArn", "SelfHealingStateMachine") or not table:
        # Not a retraining (another state machine), or no state table to hold a lock: a plain start.
        resp = sfn.start_execution(stateMachineArn=machine, name=name, input=input_text)
        return {"arn": resp["executionArn"], "start": _iso(resp.get("startDate"))}
    try:
        ExecutionInput.from_event(json.loads(input_text))
    except StepInputError as exc:
        raise HTTPException(400, f"not an input of the self-healing state machine: {exc}") from exc
    limits = RetrainingLimits.from_env(state.function_env("DriftFunction"))
    run = ManualStart(machine_arn=machine, name=name, input=input_text, why=why, override_reason=override,
                      details={"source": "console", "trigger": _trigger(input_text), **(details or {})})
    try:
        started = ManualRetraining(state.cloud.client("dynamodb"), sfn, table, clock=state.clock).start(run, limits)
    except LockHeldError as err:
        raise HTTPException(409, {"error": "lock_held", "holder": err.details.get("holder"),
                                  "message": f"another retraining is running ({err}); start this one once "
                                             "it has finished"}) from err
    except CooldownActiveError as err:
        end = cooldown_end(err)
        raise HTTPException(409, {
            "error": "cooldown_active", "cooldown_ends": end, "cooldown_hours": limits.cooldown_hours,
            "last_started": err.details.get("last_started"),
            "message": f"the retraining cooldown ({limits.cooldown_hours:g} h) is active until {end}: the last "
                       f"retraining started at {err.details.get('last_started')}. Wait until then, or override "
                       "the cooldown with a reason (override_cooldown, override_reason), which is audited"}) from err
    return {"arn": started["arn"], "cooldown_overridden": override is not None, "audit": started["audit"]}


@router.post("/executions")
def start_execution(body: StartRequest, state: StateDep, _: TokenDep) -> dict[str, Any]:
    machine = body.state_machine_arn or state.output("StateMachineArn", "SelfHealingStateMachine")
    if not machine:
        raise HTTPException(400, "no state machine given and the stack has none")
    return _start(state, machine, body.input, body.name, why="started from the console", override=body.override())


@router.post("/execution/restart")
def start_again(body: RestartRequest, state: StateDep, _: TokenDep) -> dict[str, Any]:
    """A new execution with the same input (execution names are unique, so a new name)."""
    override = body.override()
    desc = _describe(state, body.arn)
    name = f"{desc['name'][:60]}-again-{uuid.uuid4().hex[:6]}"
    return _start(state, desc["stateMachineArn"], desc.get("input") or "{}", name, override=override,
                  why=f"started again from the console (same input as {desc['name']})",
                  details={"started_again_from": body.arn})


@router.post("/execution/redrive")
def redrive(body: ExecutionRef, state: StateDep, _: TokenDep) -> dict[str, Any]:
    """RedriveExecution: restart a failed execution from its failed state (AWS, Nov 2023)."""
    try:
        resp = state.cloud.client("stepfunctions").redrive_execution(executionArn=body.arn)
    except ClientError as exc:
        err, status = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500 or err.get("Code") in ("NotImplemented", "UnknownOperationException", "InvalidAction"):
            # An endpoint without RedriveExecution (moto itself; the local cloud implements it).
            raise HTTPException(501, "this endpoint does not support RedriveExecution; "
                                     "use 'Start again with the same input'") from exc
        raise HTTPException(409, f"{err.get('Code')}: {err.get('Message')}") from exc
    state.cache.drop(f"exec:{body.arn}")
    return {"arn": body.arn, "redrive_date": _iso(resp.get("redriveDate"))}
