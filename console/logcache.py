"""An incremental copy of each function's CloudWatch Logs group, so a refresh reads only new lines."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from botocore.exceptions import ClientError

from console.logstats import LogEvent

AwsClient = Any


class _Group:
    def __init__(self, limit: int) -> None:
        self.events: deque[LogEvent] = deque(maxlen=limit)
        self.last_ts = 0
        self.ids_at_last_ts: set[str] = set()  # startTime is inclusive: these come back next time
        self.lock = threading.Lock()


class LogCache:
    """Keeps the newest ``limit`` events of each log group; ``refresh`` fetches only what is new."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()

    def _group(self, name: str) -> _Group:
        with self._lock:
            return self._groups.setdefault(name, _Group(self._limit))

    def refresh(self, logs: AwsClient, group_name: str) -> list[LogEvent]:
        """All events held for the group, after fetching those newer than the last refresh."""
        group = self._group(group_name)
        with group.lock:
            kwargs: dict[str, Any] = {"logGroupName": group_name}
            if group.last_ts:
                kwargs["startTime"] = group.last_ts
            since, known = group.last_ts, group.ids_at_last_ts
            try:
                for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                    for ev in page.get("events", []):
                        eid = ev.get("eventId") or f"{ev.get('logStreamName')}/{ev['timestamp']}/{ev['message']}"
                        ts = ev["timestamp"]
                        if ts < since or (ts == since and eid in known):
                            continue
                        if ts > group.last_ts:
                            group.last_ts, group.ids_at_last_ts = ts, set()
                        if ts == group.last_ts:
                            group.ids_at_last_ts.add(eid)
                        group.events.append({"timestamp": ts, "message": ev["message"],
                                             "logStreamName": ev.get("logStreamName", "")})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise  # a missing group only means the function was never invoked
            return list(group.events)
