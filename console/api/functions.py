"""Functions of the stack: invocations, errors, cold starts, p50/p99 duration, and recent log lines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from console.api.deps import StateDep
from console.logstats import is_error_line, stats

router = APIRouter(prefix="/api", tags=["functions"])


def _functions(state: StateDep) -> list[dict[str, Any]]:
    """The stack's functions (every function of the account when the stack is unknown)."""
    lam = state.cloud.client("lambda")
    found: list[dict[str, Any]] = []
    for page in lam.get_paginator("list_functions").paginate():
        found += page["Functions"]
    logical = {v: k for k, v in state.cloud.info().physical_ids("AWS::Lambda::Function").items()}
    if logical:
        found = [f for f in found if f["FunctionName"] in logical]
    for f in found:
        f["_logical"] = logical.get(f["FunctionName"])
    return sorted(found, key=lambda f: f.get("_logical") or f["FunctionName"])


def _group(fn: dict[str, Any]) -> str:
    return (fn.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{fn['FunctionName']}"


@router.get("/functions")
def functions(state: StateDep) -> dict[str, Any]:
    logs = state.cloud.client("logs")
    fns = _functions(state)
    figures = list(state.pool.map(lambda f: stats(state.logs.refresh(logs, _group(f))), fns))
    return {"items": [{
        "name": f["FunctionName"],
        "logical_id": f["_logical"],
        "runtime": f.get("Runtime"),
        "handler": f.get("Handler"),
        "memory_mb": f.get("MemorySize"),
        "timeout_s": f.get("Timeout"),
        "log_group": _group(f),
        **fig,
    } for f, fig in zip(fns, figures, strict=True)]}


@router.get("/functions/{name}/logs")
def function_logs(name: str, state: StateDep, limit: int = Query(200, ge=1, le=2000)) -> dict[str, Any]:
    fn = next((f for f in _functions(state) if name in (f["FunctionName"], f["_logical"])), None)
    if fn is None:
        raise HTTPException(404, f"no function {name!r} in the stack")
    events = state.logs.refresh(state.cloud.client("logs"), _group(fn))
    recent = sorted(events, key=lambda e: e["timestamp"])[-limit:]
    return {"name": fn["FunctionName"], "log_group": _group(fn), "lines": [
        {"timestamp": e["timestamp"], "stream": e["logStreamName"], "message": e["message"],
         "level": "error" if is_error_line(e["message"]) or e["message"].startswith("[ERROR]") else
                  "report" if e["message"].startswith(("START", "END", "REPORT")) else "info"}
        for e in recent]}
