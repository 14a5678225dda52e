"""Step Functions execution history -> what happened to each state, and the path taken (no I/O).

The event types are the ones ``GetExecutionHistory`` returns (``TaskStateEntered``,
``LambdaFunctionScheduled``, ``TaskFailed``, ``ExecutionFailed``, ...). A state's status is:

* ``succeeded``: exited after its last attempt succeeded on the first try;
* ``retried``: exited after its last attempt succeeded, but only after a retry;
* ``caught``: exited after its last attempt failed, so a ``Catch`` moved the execution on;
* ``failed``: its failure ended the execution (or it is a ``Fail`` state that was entered);
* ``running``: entered and not exited while the execution runs;
* ``aborted``: entered and not exited when the execution was stopped;
* states that never appear are "not reached" (the page's default).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypedDict

# Every "attempt started" event, whatever the integration (service integration, Lambda ARN, activity).
_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_EXECUTION_END = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionAborted": "ABORTED",
                  "ExecutionTimedOut": "TIMED_OUT"}


class Attempt(TypedDict):
    started: str | None
    ended: str | None
    error: str | None
    cause: str | None


class StateRun(TypedDict):
    name: str
    status: str
    visits: int
    entered: str | None
    exited: str | None
    duration_ms: float | None
    input: str | None
    output: str | None
    error: str | None
    cause: str | None
    retries: int
    attempts: list[Attempt]


class EventRow(TypedDict):
    id: int
    type: str
    timestamp: str
    elapsed_ms: float
    state: str | None
    details: dict[str, Any]


class Summary(TypedDict):
    states: dict[str, StateRun]
    path: list[str]
    taken: list[dict[str, str]]
    events: list[EventRow]
    error: str | None
    cause: str | None


def details_of(event: dict[str, Any]) -> dict[str, Any]:
    """The one ``...EventDetails`` member of an event (``{}`` for events that carry none)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _iso(ts: Any) -> str:
    return ts.isoformat() if isinstance(ts, datetime) else str(ts)


def _ms(a: Any, b: Any) -> float | None:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return round((b - a).total_seconds() * 1000, 1)
    return None


def _is_failure(event_type: str) -> bool:
    return not event_type.startswith("Execution") and event_type.endswith(("Failed", "TimedOut"))


def summarise(events: list[dict[str, Any]], execution_status: str = "RUNNING") -> Summary:
    """Fold a history (oldest first) into per-state runs, the path taken and a table of events."""
    states: dict[str, StateRun] = {}
    entered_at: dict[str, Any] = {}
    last_failed: dict[str, bool] = {}
    path: list[str] = []
    taken: list[dict[str, str]] = []
    rows: list[EventRow] = []
    current: str | None = None
    start = events[0]["timestamp"] if events else None
    error = cause = None
    for ev in events:
        etype, d, ts = ev["type"], details_of(ev), ev["timestamp"]
        if etype.endswith("StateEntered"):
            name = d.get("name", "?")
            run = states.get(name)
            if run is None:
                run = states[name] = {"name": name, "status": "running", "visits": 0, "entered": None, "exited": None,
                                      "duration_ms": None, "input": None, "output": None, "error": None,
                                      "cause": None, "retries": 0, "attempts": []}
            if path:
                prev = states[path[-1]]
                taken.append({"source": path[-1], "target": name,
                              "via": "catch" if prev["status"] == "caught" else "next"})
            run.update({"status": "running", "entered": _iso(ts), "exited": None, "duration_ms": None,
                        "input": d.get("input"), "output": None, "error": None, "cause": None, "attempts": []})
            run["visits"] += 1
            entered_at[name] = ts
            last_failed[name] = False
            path.append(name)
            current = name
            if etype == "FailStateEntered":
                run["status"] = "failed"
        elif etype.endswith("StateExited"):
            name = d.get("name", current or "?")
            run = states.get(name)
            if run is not None:
                run["exited"] = _iso(ts)
                run["output"] = d.get("output")
                run["duration_ms"] = _ms(entered_at.get(name), ts)
                if last_failed.get(name):
                    run["status"] = "caught"
                else:
                    run["status"] = "retried" if len(run["attempts"]) > 1 else "succeeded"
            current = None
        elif etype in _SCHEDULED and current in states:
            states[current]["attempts"].append({"started": _iso(ts), "ended": None, "error": None, "cause": None})
            states[current]["retries"] = max(0, len(states[current]["attempts"]) - 1)
            last_failed[current] = False
        elif _is_failure(etype) and current in states:
            run = states[current]
            run["error"], run["cause"] = d.get("error"), d.get("cause")
            if run["attempts"]:
                run["attempts"][-1].update({"ended": _iso(ts), "error": d.get("error"), "cause": d.get("cause")})
            last_failed[current] = True
        elif etype.endswith("Succeeded") and not etype.startswith("Execution") and current in states:
            if states[current]["attempts"]:
                states[current]["attempts"][-1]["ended"] = _iso(ts)
        elif etype in _EXECUTION_END:
            execution_status = _EXECUTION_END[etype]
            if etype != "ExecutionSucceeded":
                error, cause = d.get("error"), d.get("cause")
            if current in states and states[current]["status"] in ("running", "failed"):
                run = states[current]
                run["status"] = "aborted" if etype == "ExecutionAborted" else "failed"
                run["error"] = run["error"] or error
                run["cause"] = run["cause"] or cause
                run["duration_ms"] = _ms(entered_at.get(current), ts)
        rows.append({"id": ev.get("id", len(rows) + 1), "type": etype, "timestamp": _iso(ts),
                     "elapsed_ms": _ms(start, ts) or 0.0, "state": current, "details": d})
    if execution_status != "RUNNING":
        for run in states.values():
            if run["status"] == "running":
                run["status"] = "aborted" if execution_status == "ABORTED" else "failed"
    return {"states": states, "path": path, "taken": taken, "events": rows, "error": error, "cause": cause}


def parse_json(text: str | None) -> Any:
    """A JSON document from the history, or the raw text when it is not JSON."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
