"""Persistence of the local cloud's data: what the API acknowledged survives kill -9 and a restart.

Kept: S3 buckets with every object version and delete marker, DynamoDB tables and items,
CloudWatch Logs with each group's retention policy (events past it are dropped at every start), and
Step Functions executions with their history. Not kept: the control plane (functions, state
machines, APIs, rules, bucket notification settings), which `up` redeploys from the template on top
of the restored data, and SQS messages.

Order at start: `restore_data()` before the deploy (the buckets and tables exist when the template
is applied again), `restore_executions()` after it (the state machines exist again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from . import capture
from .executions import load_executions
from .journal import Journal
from .restore import State, compacted, expire_logs, fold, load_data, mark_interrupted

LOG = logging.getLogger("localcloud.persistence")

__all__ = ["Persistence"]


class Persistence:
    def __init__(self, data_dir: Path, *, fsync: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.data_dir = data_dir
        self.clock = clock  # seconds since the epoch, like time.time: log retention is measured with it
        self.journal = Journal(data_dir, fsync=fsync)
        self.capture = capture.Capture(self.journal)
        self.state: State | None = None
        self.interrupted: list[str] = []

    def restore_data(self, account_id: str) -> State:
        started = time.perf_counter()
        self.capture.suspended = True
        capture.activate(self.capture)
        try:
            state = fold(self.journal)
            self.interrupted = mark_interrupted(state)
            expired = expire_logs(state, int(self.clock() * 1000))
            if expired:
                LOG.info("deleted %d log event(s) older than their log group's retention", expired)
            kept = self.journal.rewrite(compacted(state))
            load_data(state, self.journal, account_id)
        finally:
            self.capture.suspended = False
        self.state = state
        if state.records:
            counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in state.counts().items())
            LOG.info("restored from %s in %.2f s: %s (journal compacted from %d to %d records)",
                     self.data_dir, time.perf_counter() - started, counts, state.records, kept)
        return state

    def restore_executions(self, account_id: str, region: str) -> int:
        if self.state is None:
            return 0
        loaded = load_executions(self.state, account_id, region)
        if loaded:
            LOG.info("restored %d execution(s); %d interrupted by the restart marked FAILED (redrivable)",
                     loaded, len(self.interrupted))
        return loaded

    def replay_logs(self, sink: Callable[[str, list[tuple[int, str]]], object], region: str) -> int:
        """Feed the restored log events of `region` to `sink` (the metric filter); returns how many."""
        count = 0
        for (group_region, group), streams in (self.state.logs.items() if self.state else []):
            if group_region != region:
                continue
            for events in streams.values():
                sink(group, [(int(ts), str(msg)) for ts, msg in events])
                count += len(events)
        return count

    def begin(self) -> None:
        self.capture.begin()

    def commit(self) -> None:
        self.capture.commit()

    def close(self) -> None:
        capture.activate(None)
        self.journal.close()
