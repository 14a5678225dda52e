"""The memory limit: a worker's resident memory, sampled while it runs an invocation, against MemorySize."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from .process import KillReason, WorkerProcess

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_of(pid: int) -> int:
    """Resident memory of process ``pid`` in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


class MemoryWatch:
    """Kills a worker that outgrows its memory (Runtime.OutOfMemory) and keeps its peak for REPORT."""

    def __init__(self, limit_bytes: int, poll_s: float):
        self.limit_bytes = limit_bytes
        self.poll_s = poll_s
        self.max_rss = 0
        self.busy = threading.Event()  # set while an invocation runs: wakes the watch

    def sample(self, pid: int) -> int:
        rss = rss_of(pid)
        self.max_rss = max(self.max_rss, rss)
        return rss

    def watch(self, process: WorkerProcess, running: Callable[[], bool]) -> None:
        """Until the process ends: sample while ``running()``; past the limit, kill it and return."""
        while process.running:
            if not running():
                # Idle: nothing can outgrow its memory; wake rarely (many idle workers would
                # otherwise wake 50 times a second each and add jitter to the busy ones).
                self.busy.wait(0.5)
                continue
            if self.sample(process.pid) > self.limit_bytes:
                process.kill(KillReason.MEMORY)
                return
            time.sleep(self.poll_s)
