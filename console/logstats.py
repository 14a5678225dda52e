"""Lambda log lines -> invocations, errors, cold starts and duration percentiles (no I/O).

AWS writes ``START``/``END``/``REPORT`` lines for each invocation into the function's log group,
one worker (execution environment) per log stream, and adds ``Init Duration`` to the ``REPORT``
line of a cold start. AWS counts errors in CloudWatch *metrics*, which the logs do not carry, so an
invocation counts as an error here when its lines show what the Lambda runtime prints for one: an
uncaught exception (``[ERROR] SomeError: ...``), a timeout, or a runtime exit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import TypedDict

_REPORT = re.compile(r"^REPORT RequestId: (?P<rid>\S+)\s+Duration: (?P<dur>[\d.]+) ms"
                     r"(?:.*?Init Duration: (?P<init>[\d.]+) ms)?")
_START = re.compile(r"^START RequestId: (?P<rid>\S+)")
_ERROR_LINES = (
    re.compile(r"^\[ERROR\] [\w.]+: "),          # awslambdaric: uncaught exception, "[ERROR] Type: message"
    re.compile(r"Task timed out after [\d.]+ seconds"),
    re.compile(r"Runtime exited with error"),
    re.compile(r'"errorType"\s*:'),               # an error payload logged as JSON
)


class LogEvent(TypedDict):
    timestamp: int  # ms since the epoch, as CloudWatch Logs stores it
    message: str
    logStreamName: str


class Stats(TypedDict):
    invocations: int
    errors: int
    cold_starts: int
    p50_ms: float | None
    p99_ms: float | None
    mean_init_ms: float | None
    last_invoked: int | None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (what CloudWatch's pNN statistics approximate)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def is_error_line(message: str) -> bool:
    return any(p.search(message) for p in _ERROR_LINES)


def stats(events: Iterable[LogEvent]) -> Stats:
    """Per-function figures from its log events (any order; grouped per stream, then by time)."""
    by_stream: dict[str, list[LogEvent]] = {}
    for ev in events:
        by_stream.setdefault(ev.get("logStreamName", ""), []).append(ev)
    durations: list[float] = []
    inits: list[float] = []
    errors = 0
    last: int | None = None
    for stream in by_stream.values():
        stream.sort(key=lambda e: e["timestamp"])
        failed = False
        for ev in stream:
            msg = ev["message"]
            if _START.match(msg):
                failed = False
            elif is_error_line(msg):
                failed = True
            else:
                m = _REPORT.match(msg)
                if m:
                    durations.append(float(m["dur"]))
                    if m["init"]:
                        inits.append(float(m["init"]))
                    errors += failed
                    failed = False
                    last = max(last or 0, ev["timestamp"])
    return {"invocations": len(durations), "errors": errors, "cold_starts": len(inits),
            "p50_ms": percentile(durations, 50), "p99_ms": percentile(durations, 99),
            "mean_init_ms": round(sum(inits) / len(inits), 2) if inits else None, "last_invoked": last}
