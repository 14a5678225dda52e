"""Jobs that run on a few threads, each at or after its due time; a retry is a job submitted later.

Waiting for a retry holds no thread: the job sits in a heap until it is due. ``threads=0`` runs
nothing by itself; tests then call :meth:`WorkQueue.run_due` with their own clock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger("localcloud.delivery")

Job = Callable[[], None]


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    job: Job = field(compare=False)
    label: str = field(compare=False)


class WorkQueue:
    def __init__(self, *, threads: int = 8, clock: Callable[[], float] = time.time, name: str = "delivery"):
        self._clock = clock
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._running = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, job: Job, *, label: str, delay_s: float = 0.0) -> None:
        """Run ``job`` once ``delay_s`` seconds have passed; its exceptions are logged with ``label``."""
        with self._cond:
            if self._closed:
                logger.warning("%s dropped: the local cloud is stopping", label)
                return
            heapq.heappush(self._heap, _Entry(self._clock() + delay_s, next(self._seq), job, label))
            self._cond.notify()

    def run_due(self) -> int:
        """Run every job that is due now, on the calling thread; returns how many ran."""
        ran = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0].due > self._clock():
                    return ran
                entry = heapq.heappop(self._heap)
                self._running += 1
            self._run(entry)
            ran += 1

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._running

    def idle(self) -> bool:
        return self.pending() == 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _next(self) -> _Entry | None:
        with self._cond:
            while not self._closed:
                if self._heap:
                    wait = self._heap[0].due - self._clock()
                    if wait <= 0:
                        self._running += 1
                        return heapq.heappop(self._heap)
                    self._cond.wait(min(wait, 0.5))
                else:
                    self._cond.wait(0.5)
            return None

    def _loop(self) -> None:
        while (entry := self._next()) is not None:
            self._run(entry)

    def _run(self, entry: _Entry) -> None:
        try:
            entry.job()
        except Exception:  # noqa: BLE001 - one broken job must not stop the queue; it is logged
            logger.exception("%s failed", entry.label)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()
