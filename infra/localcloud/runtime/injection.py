"""Fault injection around the handler: the runtime's side of an invocation's fault rule (faults.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from ..faults import FaultRule
from .invocation import Invocation
from .process import KillReason


class FaultHooks:
    """Applies an error, delay or crash rule to one worker's invocations."""

    def __init__(self, timeout_s: float, log: Callable[[str], None], kill: Callable[[KillReason], None],
                 fail: Callable[[Invocation, int], None]):
        self._timeout_s = timeout_s
        self._log = log
        self._kill = kill
        self._fail = fail  # ends the invocation as failed by the environment's exit code
        self._lock = threading.Lock()

    def error(self, inv: Invocation, fault: FaultRule) -> None:
        """Fail the invocation with the rule's error; the handler never sees the event."""
        self._log(f"[localcloud] {fault.describe()}: the handler did not run")
        inv.started = inv.finished = time.perf_counter()
        inv.result = json.dumps({"errorMessage": fault.message, "errorType": fault.error_type}).encode()
        inv.error_type = "Unhandled"
        inv.picked.set()
        inv.done.set()

    def delay(self, inv: Invocation, fault: FaultRule) -> bool:
        """Hold the event back; False when the delay used up the whole timeout."""
        self._log(f"[localcloud] {fault.describe()}: event delayed {fault.delay_ms} ms")
        inv.started = time.perf_counter()
        if fault.delay_ms / 1000 < self._timeout_s:
            time.sleep(fault.delay_ms / 1000)
            return True
        time.sleep(self._timeout_s)
        self._kill(KillReason.TIMEOUT)
        if not inv.done.wait(5):
            self._fail(inv, -9)
        return False

    def arm_crash(self, inv: Invocation, fault: FaultRule) -> None:
        """Crash ``after_ms`` after the handler got the event (or at its answer, if that comes first)."""
        timer = threading.Timer(fault.after_ms / 1000, self.crash, args=(inv,))
        timer.daemon = True
        timer.start()

    def crash(self, inv: Invocation) -> None:
        """Fire the invocation's armed crash once: the environment dies before it answers."""
        with self._lock:
            fault, inv.crash = inv.crash, None
        if fault is not None and not inv.done.is_set():
            self._log(f"[localcloud] {fault.describe()}: killing the execution environment")
            self._kill(KillReason.INJECTED_CRASH)
