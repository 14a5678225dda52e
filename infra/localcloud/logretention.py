"""CloudWatch Logs retention: events older than their log group's `RetentionInDays` are deleted.

On AWS, events are deleted within about 72 hours of expiring; log streams stay, even empty ones,
and a group without a retention policy keeps its events forever (PutRetentionPolicy's reference).
Locally, expiry is enforced when the persisted state is restored (the compaction that follows
drops the events from the data directory) and, while the cloud runs, by a sweep over the log
groups every hour (`RetentionSweeper`), which frees the memory; the disk is freed at the next start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

DAY_MS = 86_400_000
Event = TypeVar("Event", bound=Sequence[Any])

#: The values PutRetentionPolicy accepts, which are also `AWS::Logs::LogGroup`'s `RetentionInDays`.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)


def oldest_kept_ms(retention_days: int | None, now_ms: int) -> int | None:
    """The timestamp (ms) events must have reached to be kept; None when the group keeps all."""
    if not retention_days:
        return None
    return now_ms - int(retention_days) * DAY_MS


def unexpired(events: Iterable[Event], retention_days: int | None, now_ms: int) -> list[Event]:
    """The `(timestamp ms, message)` events a group with `retention_days` still holds at `now_ms`."""
    oldest = oldest_kept_ms(retention_days, now_ms)
    if oldest is None:
        return list(events)
    return [event for event in events if int(event[0]) >= oldest]


def expire_stream(stream: Any, oldest: int) -> int:
    """Delete a moto log stream's events older than `oldest`; returns how many."""
    events = stream.events
    count = 0
    while count < len(events) and events[count].timestamp < oldest:
        count += 1
    if count:
        # Only a leading run is deleted: the log sink appends to the same list from its own thread,
        # and one `del` of a slice cannot lose an append. A stream's events arrive in time order
        # (PutLogEvents demands it within a batch); a straggler goes at the next start's compaction.
        gone = events[:count]
        del events[:count]
        stream.stored_bytes = max(0, stream.stored_bytes - sum(len(e.message) for e in gone))
    return count


class RetentionSweeper:
    """Expires the events of the running cloud's log groups, every `interval_s` on a daemon thread.

    `groups` returns moto's log groups (objects with `retention_in_days` and `streams`).
    """

    def __init__(self, groups: Callable[[], Iterable[Any]], *, clock: Callable[[], float] = time.time,
                 interval_s: float = 3600.0) -> None:
        self._groups = groups
        self._clock = clock
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-retention", daemon=True)

    def sweep(self) -> int:
        """Delete every expired event now; returns how many."""
        now_ms = int(self._clock() * 1000)
        deleted = 0
        for group in list(self._groups()):
            oldest = oldest_kept_ms(group.retention_in_days, now_ms)
            if oldest is not None:
                deleted += sum(expire_stream(stream, oldest) for stream in list(group.streams.values()))
        return deleted

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self.sweep()

    def start(self) -> RetentionSweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
