"""The Runtime API's backend for one worker: invocations handed to its runtime client, answers taken back."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from .invocation import Invocation


class Handoff:
    """What api.py's RuntimeBackend asks for: the next invocation, its answer, an init failure."""

    def __init__(self, timeout_s: float, crash: Callable[[Invocation], None]):
        self._timeout_s = timeout_s
        self._crash = crash  # fires an armed crash instead of taking the answer (injection.py)
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
        self.current: Invocation | None = None  # the invocation the worker runs
        self.spawned_at = 0.0
        self.initialized = False
        self.init_ms: float | None = None  # from spawn to the runtime client's first /next
        self.init_error: bytes | None = None

    def put(self, inv: Invocation) -> None:
        self._inbox.put(inv)

    def close(self) -> None:
        """The environment is gone: a waiting /next gets 410."""
        self._inbox.put(None)

    def next_invocation(self) -> Invocation | None:
        if not self.initialized:
            self.initialized = True
            self.init_ms = (time.perf_counter() - self.spawned_at) * 1000
        inv = self._inbox.get()
        if inv is None:
            return None
        inv.started = time.perf_counter()
        inv.deadline_ms = int(time.time() * 1000 + self._timeout_s * 1000)
        inv.picked.set()
        return inv

    def complete(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        inv = self.current
        if inv is None or inv.request_id != request_id or inv.done.is_set():
            return False
        if inv.crash is not None:
            self._crash(inv)
            return False
        inv.answer(body, error_type)
        return True

    def init_failed(self, body: bytes) -> None:
        self.init_error = body
