"""Step Functions executions across restarts: restored executions, and RedriveExecution.

moto keeps executions as live interpreter objects. A restored execution is a read-only stand-in
with the same attributes moto's responses read (describe, list, history). ``RedriveExecution``
(which moto lacks) restarts a FAILED, TIMED_OUT or ABORTED execution, under the same ARN, from the
state that did not finish, with the input that state received; its history continues the old one
after an ``ExecutionRedriven`` event, as on AWS.

Difference from AWS: inside a redriven run, ``$$.Execution.Input`` is the restarted state's input
(DescribeExecution still shows the original input). Map and Parallel states restart whole.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any, cast

from moto.stepfunctions.exceptions import ExecutionDoesNotExist as MotoExecutionDoesNotExist
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from . import capture
from .journal import RecordKind
from .restore import ExecutionState, State, parse_time

LOG = logging.getLogger("localcloud.persistence")

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")

# arn -> number of history events before the redriven run; read when its interpreter starts.
_offsets: dict[str, int] = {}
_offsets_lock = threading.Lock()


class ExecutionNotRedrivable(Exception):
    """AWS's error name for a redrive of a running, succeeded or unknown-state execution."""


class ExecutionDoesNotExist(Exception):
    """AWS's error name for an unknown execution ARN."""


class RestoredExecution:
    """An execution from before the restart: described, listed and read like a live one."""

    def __init__(self, state: ExecutionState, state_machine: Any) -> None:
        assert state.start is not None and state.end is not None
        self.execution_arn = self.exec_arn = state.arn
        self.name = state.start["name"]
        self.state_machine = state_machine
        self.state_machine_arn = state.start["state_machine"]
        self.execution_input = state.start["input"]
        self.input_data = json.loads(self.execution_input or "{}")
        self.start_date = parse_time(state.start["start"])
        self.stop_date = parse_time(state.end.get("stop"))
        self.exec_status = ExecutionStatus(state.end["status"])
        self.error = state.end.get("error")
        self.cause = state.end.get("cause")
        self.output = state.end.get("output")
        self.output_details = {"included": True}
        self.exec_worker = None
        self.redrive_count = state.redrives
        self.events = state.events

    @property
    def status(self) -> str:
        return str(self.exec_status.value)

    def to_history_output(self) -> dict[str, Any]:
        return {"events": copy.deepcopy(self.events)}

    def stop(self, stop_date: datetime, error: str | None, cause: str | None) -> None:
        """Stopping a finished execution changes nothing (AWS answers without error too)."""


def load_executions(state: State, account_id: str, region: str) -> int:
    """Attach restored executions to their (redeployed) state machines; returns how many."""
    backend = stepfunctions_parser_backends[account_id][region]
    loaded = 0
    for execution in state.executions.values():
        if execution.start is None or execution.end is None:
            continue
        try:
            machine = backend.describe_state_machine(execution.start["state_machine"])
        except StateMachineDoesNotExist:
            LOG.warning("execution %s not restored: its state machine is no longer deployed", execution.arn)
            continue
        if any(e.execution_arn == execution.arn for e in machine.executions):
            continue
        machine.executions.append(cast(Any, RestoredExecution(execution, machine)))
        loaded += 1
    return loaded


def _history(execution: Any) -> list[dict[str, Any]]:
    return list(execution.to_history_output().get("events") or [])


def _unfinished_state(events: list[dict[str, Any]]) -> tuple[str, Any]:
    """The last state entered and never exited, with the input it received."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            name = str(details.get("name"))
            open_states[name] = details.get("input")
            order.append(name)
        elif kind.endswith("StateExited"):
            open_states.pop(str((event.get("stateExitedEventDetails") or {}).get("name")), None)
    for name in reversed(order):
        if name in open_states:
            raw = open_states[name]
            return name, json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
    raise ExecutionNotRedrivable("no unfinished state in the execution's history")


class RedrivenExecution(Execution):
    """A redriven run: its history continues the history of the runs before it."""

    def __init__(self, *, previous: list[dict[str, Any]], redrive_count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.previous_events = previous
        self.redrive_count = redrive_count

    def to_history_output(self) -> Any:
        offset = len(self.previous_events) and int(self.previous_events[-1]["id"])
        new_events = list(super().to_history_output().get("events") or [])
        shifted = [capture.shift_event(dict(e), offset - 1) for e in new_events if e.get("type") != "ExecutionStarted"]
        return {"events": copy.deepcopy(self.previous_events) + shifted}


def redrive(account_id: str, region: str, execution_arn: str) -> datetime:
    backend = stepfunctions_parser_backends[account_id][region]
    try:
        old = backend.describe_execution(execution_arn)
        machine = backend._get_state_machine_for_execution(execution_arn)
    except MotoExecutionDoesNotExist as exc:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'") from exc
    if old.status not in REDRIVABLE:
        raise ExecutionNotRedrivable(f"Execution is {old.status}: only {', '.join(REDRIVABLE)} can be redriven")
    events = _history(old)
    state_name, state_input = _unfinished_state(events)
    count = int(getattr(old, "redrive_count", 0)) + 1
    now = datetime.now(UTC)
    last_id = max((int(e.get("id", 0)) for e in events), default=0)
    redriven = {"id": last_id + 1, "previousEventId": last_id, "type": "ExecutionRedriven",
                "timestamp": now.isoformat(), "executionRedrivenEventDetails": {"redriveCount": count}}
    definition = json.loads(machine.definition)
    definition["StartAt"] = state_name
    clone = copy.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})
    clone.definition = json.dumps(definition)

    new = RedrivenExecution(
        previous=events + [redriven], redrive_count=count,
        name=old.name, sm_type=clone.sm_type, role_arn=clone.roleArn, exec_arn=execution_arn,
        account_id=account_id, region_name=region, state_machine=clone, start_date=old.start_date,
        cloud_watch_logging_session=None, input_data=json.dumps(state_input), activity_store={})
    new.execution_input = old.execution_input  # DescribeExecution keeps the original input
    new.state_machine_arn = machine.arn
    active = capture.active()
    if active is not None:
        active.note(lambda: {"k": RecordKind.SFN_REDRIVE, "arn": execution_arn, "count": count, "event": redriven})
    with _offsets_lock:
        _offsets[execution_arn] = last_id + 1
    # moto types the list with its classic Execution; the parser's executions live there too.
    replaced: list[Any] = [new if e.execution_arn == execution_arn else e for e in machine.executions]
    machine.executions[:] = replaced
    LOG.info("execution %s redriven (%d) from state %s", execution_arn, count, state_name)
    new.start()
    return now


def offset_for(execution_arn: str) -> int:
    with _offsets_lock:
        return _offsets.get(execution_arn, 0)
