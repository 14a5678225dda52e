"""One execution environment: a worker process running the function through a runtime client.

The parts live in their own modules; ``Worker`` composes them:

    process.py    the OS process: command, environment, spawn, kill (KillReason, WorkerSettings)
    handoff.py    the Runtime API's backend: invocations handed to the runtime client, answers back
    logpump.py    the function's stdout/stderr into the log sink and the invocation's tail
    memwatch.py   resident memory against MemorySize (Runtime.OutOfMemory)
    injection.py  error, delay and crash faults around the handler (faults.py holds the rules)
    invocation.py the invocation, its result, the failure bodies and the REPORT line
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from ..faults import FaultKind, FaultRule
from .api import RuntimeApiServer
from .handoff import Handoff
from .injection import FaultHooks
from .invocation import Invocation, InvokeResult, failure, report_line
from .logpump import LogEmitter, LogPump
from .memwatch import MemoryWatch
from .process import PYRIC, KillReason, WorkerProcess, WorkerSettings, command, die_with_parent, environment
from .spec import FunctionSpec

# What pool.py, the servers and the tests import from here.
__all__ = ["PYRIC", "Invocation", "InvokeResult", "KillReason", "LogEmitter", "Worker", "WorkerSettings",
           "die_with_parent"]

_MB = 1024 * 1024


class Worker:
    """A worker process plus its private Runtime API. Serves one invocation at a time."""

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings, emit: LogEmitter,
                 on_exit: Callable[[Worker], None]):
        self.spec = spec
        self.settings = settings
        self._on_exit = on_exit
        self.id = uuid.uuid4().hex
        now = time.gmtime()
        self.log_stream = f"{now.tm_year}/{now.tm_mon:02d}/{now.tm_mday:02d}/[{spec.version}]{self.id}"
        self.alive = False
        self.retired = False
        self.served = 0
        self.last_used = time.monotonic()
        self._process = WorkerProcess()
        self._logs = LogPump(spec, self.log_stream, emit, lambda: self._handoff.current)
        self._faults = FaultHooks(spec.timeout, self._logs.write, self.kill, self._fail_current)
        self._handoff = Handoff(spec.timeout, self._faults.crash)
        self._memory = MemoryWatch(spec.memory_mb * _MB, settings.memory_poll_s)
        self._api = RuntimeApiServer(self._handoff)

    # ---- process lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._api.start()
        self._handoff.spawned_at = time.perf_counter()
        env = environment(self.spec, self.settings, runtime_api=self._api.address, log_stream=self.log_stream)
        streams = self._process.start(command(self.spec, self.settings), env, cwd=self.spec.code_dir)
        self.alive = True
        self._logs.start(streams)
        threading.Thread(target=self._watch, daemon=True, name=f"watch-{self.spec.name}").start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def kill_reason(self) -> KillReason | None:
        return self._process.kill_reason

    def kill(self, reason: KillReason) -> None:
        self._process.kill(reason)

    def retire(self) -> None:
        """Stop after the current invocation (a configuration or code update recycles workers)."""
        self.retired = True
        if self._handoff.current is None:
            self.kill(KillReason.RECYCLED)

    def _watch(self) -> None:
        """The memory watch while the process lives; then whatever it was running fails, and it is gone."""
        self._memory.watch(self._process, lambda: self._handoff.current is not None)
        code = self._process.wait()
        self.alive = False
        self._handoff.close()
        self._logs.drain()
        inv = self._handoff.current
        if inv is not None and not inv.done.is_set():
            self._fail_current(inv, code)
        self._api.stop()
        self._on_exit(self)

    def _fail_current(self, inv: Invocation, exit_code: int) -> None:
        body = failure(self.spec, inv.request_id, self.kill_reason, self._handoff.init_error, exit_code)
        self._logs.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}")
        inv.fail(body)

    # ---- invoking ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._handoff.current is not None

    def run(self, inv: Invocation, *, tail: bool = False, fault: FaultRule | None = None) -> InvokeResult:
        cold = self.served == 0
        self.served += 1
        self._handoff.current = inv
        self._memory.busy.set()
        self._logs.write(f"START RequestId: {inv.request_id} Version: {self.spec.version}")
        if fault is not None and fault.fault == FaultKind.ERROR:
            self._faults.error(inv, fault)
        elif fault is None or fault.fault != FaultKind.DELAY or self._faults.delay(inv, fault):
            self._deliver(inv, fault if fault is not None and fault.fault == FaultKind.CRASH else None)
        return self._finish(inv, cold, tail)

    def _deliver(self, inv: Invocation, crash: FaultRule | None) -> None:
        # Armed before the handler can answer: a fast handler dies at its answer at the latest.
        inv.crash = crash
        self._handoff.put(inv)
        init_timeout = max(self.settings.min_init_timeout_s, self.spec.timeout)
        if not inv.picked.wait(init_timeout) and not inv.done.is_set():
            self.kill(KillReason.TIMEOUT)
            inv.done.wait(5)
        if crash is not None:
            self._faults.arm_crash(inv, crash)
        if not inv.done.wait(self.spec.timeout):
            self.kill(KillReason.TIMEOUT)
            inv.done.wait(5)
        if not inv.done.is_set():  # the process would not die; still answer the caller
            self._fail_current(inv, -9)

    def _finish(self, inv: Invocation, cold: bool, tail: bool) -> InvokeResult:
        duration = (inv.finished - inv.started) * 1000 if inv.started else 0.0
        if tail or inv.error_type:
            self._logs.drain()
        self._memory.sample(self.pid)
        init_ms = self._handoff.init_ms if cold else None
        self._logs.write(f"END RequestId: {inv.request_id}")
        self._logs.write(report_line(self.spec, inv.request_id, duration, self._memory.max_rss, init_ms))
        self._handoff.current = None
        self.last_used = time.monotonic()
        self._memory.busy.clear()
        if self.retired:
            self.kill(KillReason.RECYCLED)
        return InvokeResult(
            request_id=inv.request_id,
            payload=inv.result,
            function_error=inv.error_type,
            logs="\n".join(inv.logs),
            duration_ms=duration,
            init_ms=init_ms,
            worker_pid=self.pid,
            max_memory_mb=self._memory.max_rss // _MB,
        )
