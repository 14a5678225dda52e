"""Step Functions executions across restarts: restored executions, and RedriveExecution.

moto keeps executions as live interpreter objects. A restored execution is a read-only stand-in
with the same attributes moto's responses read (describe, list, history). ``RedriveExecution``
(which moto lacks) restarts a FAILED, TIMED_OUT or ABORTED execution, under the same ARN, from the
state that did not finish, with the input that state received; its history continues the old one
after an ``ExecutionRedriven`` event, as on AWS. What touches moto is in motoseam/state.py.

Difference from AWS: inside a redriven run, ``$$.Execution.Input`` is the restarted state's input
(DescribeExecution still shows the original input). Map and Parallel states restart whole.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from .. import motoseam
from . import capture
from .journal import RecordKind
from .restore import State

LOG = logging.getLogger("localcloud.persistence")

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")

# arn -> number of history events before the redriven run; read when its interpreter starts.
_offsets: dict[str, int] = {}
_offsets_lock = threading.Lock()


class ExecutionNotRedrivable(Exception):
    """AWS's error name for a redrive of a running, succeeded or unknown-state execution."""


class ExecutionDoesNotExist(Exception):
    """AWS's error name for an unknown execution ARN."""


def load_executions(state: State, account_id: str, region: str) -> int:
    """Attach restored executions to their (redeployed) state machines; returns how many."""
    loaded = 0
    for execution in state.executions.values():
        if execution.start is None or execution.end is None:
            continue
        try:
            if motoseam.attach_restored_execution(execution, account_id, region):
                loaded += 1
        except motoseam.StateMachineNotFound:
            LOG.warning("execution %s not restored: its state machine is no longer deployed", execution.arn)
    return loaded


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


def redrive(account_id: str, region: str, execution_arn: str) -> datetime:
    try:
        old = motoseam.execution_history(account_id, region, execution_arn)
    except motoseam.ExecutionNotFound as exc:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'") from exc
    if old.status not in REDRIVABLE:
        raise ExecutionNotRedrivable(f"Execution is {old.status}: only {', '.join(REDRIVABLE)} can be redriven")
    events = old.events
    state_name, state_input = _unfinished_state(events)
    count = old.redrive_count + 1
    now = datetime.now(UTC)
    last_id = max((int(e.get("id", 0)) for e in events), default=0)
    redriven = {"id": last_id + 1, "previousEventId": last_id, "type": "ExecutionRedriven",
                "timestamp": now.isoformat(), "executionRedrivenEventDetails": {"redriveCount": count}}

    def before_start() -> None:
        active = capture.active()
        if active is not None:
            active.note(lambda: {"k": RecordKind.SFN_REDRIVE, "arn": execution_arn, "count": count, "event": redriven})
        with _offsets_lock:
            _offsets[execution_arn] = last_id + 1
        LOG.info("execution %s redriven (%d) from state %s", execution_arn, count, state_name)

    try:
        motoseam.start_redriven_run(account_id, region, execution_arn, start_at=state_name, state_input=state_input,
                                    previous_events=events + [redriven], redrive_count=count,
                                    before_start=before_start)
    except motoseam.ExecutionNotFound as exc:
        raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'") from exc
    return now


def offset_for(execution_arn: str) -> int:
    with _offsets_lock:
        return _offsets.get(execution_arn, 0)
