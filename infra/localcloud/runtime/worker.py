"""One execution environment: a worker process running the function through a runtime client."""

from __future__ import annotations

import ctypes
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..faults import FaultKind
from .api import RuntimeApiServer
from .spec import FunctionSpec

PYRIC = Path(__file__).with_name("pyric.py")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_PR_SET_PDEATHSIG = 1


class KillReason(StrEnum):
    """Why the runtime killed a worker; the first reason given is the one kept."""

    TIMEOUT = "timeout"  # the invocation (or its init) outlived the function's Timeout: Sandbox.Timedout
    MEMORY = "memory"  # the process outgrew MemorySize: Runtime.OutOfMemory
    INJECTED_CRASH = "injected crash"  # a crash or crash_after_call fault (faults.py)
    RECYCLED = "recycled"  # new code or configuration, or idle too long: expected, not logged
    SHUTDOWN = "shutdown"  # the local cloud is stopping: expected, not logged


@dataclass
class WorkerSettings:
    """Environment-wide settings every worker gets."""

    endpoint_url: str  # where the function's boto3 calls go (the local cloud)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    use_awslambdaric: bool = True  # False forces the pure-Python runtime client
    python: str = sys.executable
    memory_poll_s: float = 0.02
    # AWS allows 10 s of init, then retries init inside the invoke with the function timeout.
    min_init_timeout_s: float = 10.0


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    client_context: str | None = None
    deadline_ms: int = 0
    picked: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: bytes = b""
    error_type: str | None = None  # X-Amz-Function-Error: "Unhandled" when the function failed
    logs: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    crash: Any = None  # an injected crash armed for this invocation (faults.py), until it fires


@dataclass
class InvokeResult:
    request_id: str
    payload: bytes
    function_error: str | None
    logs: str
    duration_ms: float
    init_ms: float | None  # set on a cold start
    worker_pid: int
    max_memory_mb: int

    @property
    def error_type(self) -> str | None:
        if not self.function_error:
            return None
        try:
            return json.loads(self.payload).get("errorType")
        except (ValueError, AttributeError):
            return None


LogEmitter = Callable[[FunctionSpec, str, str], None]  # (spec, log stream, line)


def die_with_parent(sig: int) -> Callable[[], None]:
    """A ``preexec_fn``: own process group, and ``sig`` when the parent dies (even by kill -9).

    PR_SET_PDEATHSIG needs glibc's prctl (Linux); where it is missing the child still gets its own
    group, which a clean stop kills as a whole.
    """

    def setup() -> None:
        os.setsid()
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        except OSError:
            pass  # not Linux/glibc: no parent-death signal, see the docstring

    return setup


class _Spawner:
    """Forks workers from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Request
    threads are short-lived, so forking from them would kill warm workers after one request.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="worker-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            make, fut = self._queue.get()
            try:
                fut.set_result(make())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller, who raises it
                fut.set_exception(exc)

    def spawn(self, make: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        fut: Future[subprocess.Popen[bytes]] = Future()
        self._queue.put((make, fut))
        return fut.result()


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def _spawn(make: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.spawn(make)


class Worker:
    """A worker process plus its private Runtime API. Serves one invocation at a time."""

    def __init__(self, spec: FunctionSpec, settings: WorkerSettings, emit: LogEmitter,
                 on_exit: Callable[[Worker], None]):
        self.spec = spec
        self.settings = settings
        self._emit = emit
        self._on_exit = on_exit
        self.id = uuid.uuid4().hex
        now = time.gmtime()
        self.log_stream = f"{now.tm_year}/{now.tm_mon:02d}/{now.tm_mday:02d}/[{spec.version}]{self.id}"
        self._inbox: queue.Queue[Invocation | None] = queue.Queue()
        self._current: Invocation | None = None
        self._busy = threading.Event()  # set while an invocation runs (wakes the memory watch)
        self._lock = threading.Lock()
        self._api = RuntimeApiServer(self)
        self.proc: subprocess.Popen[bytes] | None = None
        self.initialized = False
        self.alive = False
        self.retired = False
        self.kill_reason: KillReason | None = None
        self._init_error: bytes | None = None
        self.init_ms: float | None = None
        self._spawned_at = 0.0
        self.max_rss = 0
        self.served = 0
        self.last_used = time.monotonic()
        self._pumps_busy = 0
        self._pipes: list[int] = []

    # ---- process lifecycle -------------------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        s, spec = self.settings, self.spec
        paths = [str(spec.code_dir)]
        for layer in spec.layer_dirs:  # /opt/python and its site-packages, in layer order
            paths += [str(layer / "python"), str(layer / "python" / "lib" / "python3.11" / "site-packages")]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "HOME": os.environ.get("HOME", "/tmp"),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(spec.environment)
        env.update({
            "PYTHONPATH": os.pathsep.join(paths),
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(PYRIC.parent),
            "_HANDLER": spec.handler,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_REGION": s.region,
            "AWS_DEFAULT_REGION": s.region,
            # Dummy credentials and the local endpoint: the function's boto3 calls reach the local cloud.
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_SESSION_TOKEN": "test",
            "AWS_ENDPOINT_URL": s.endpoint_url,
        })
        return env

    def _command(self) -> list[str]:
        if self.settings.use_awslambdaric:
            return [self.settings.python, "-m", "awslambdaric", self.spec.handler]
        return [self.settings.python, str(PYRIC), self.spec.handler]

    def start(self) -> None:
        self._api.start()
        self._spawned_at = time.perf_counter()
        cmd, env = self._command(), self._environment()
        self.proc = _spawn(lambda: subprocess.Popen(
            cmd,
            cwd=self.spec.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGKILL),  # workers die with the cloud: no orphans
        ))
        self.alive = True
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            self._pipes.append(stream.fileno())
            threading.Thread(target=self._pump, args=(stream.fileno(),), daemon=True,
                             name=f"logs-{self.spec.name}").start()
        threading.Thread(target=self._watch, daemon=True, name=f"watch-{self.spec.name}").start()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def kill(self, reason: KillReason) -> None:
        with self._lock:
            if self.kill_reason is None:
                self.kill_reason = reason
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it exited on its own between poll() and killpg()

    def retire(self) -> None:
        """Stop after the current invocation (a configuration or code update recycles workers)."""
        self.retired = True
        if self._current is None:
            self.kill(KillReason.RECYCLED)

    def _watch(self) -> None:
        assert self.proc is not None
        while self.proc.poll() is None:
            if self._current is None:
                # Idle: nothing can outgrow its memory; wake rarely (many idle workers would
                # otherwise wake 50 times a second each and add jitter to the busy ones).
                self._busy.wait(0.5)
                continue
            rss = self._rss()
            self.max_rss = max(self.max_rss, rss)
            if rss > self.spec.memory_mb * 1024 * 1024:
                self.kill(KillReason.MEMORY)
                break
            time.sleep(self.settings.memory_poll_s)
        code = self.proc.wait()
        self.alive = False
        self._inbox.put(None)
        self._drain_logs()
        inv = self._current
        if inv is not None and not inv.done.is_set():
            self._fail_current(inv, code)
        self._api.stop()
        self._on_exit(self)

    def _rss(self) -> int:
        try:
            with open(f"/proc/{self.pid}/statm", "rb") as f:
                return int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def _fail_current(self, inv: Invocation, exit_code: int) -> None:
        reason = self.kill_reason
        rid = inv.request_id
        if reason == KillReason.TIMEOUT:
            body = {"errorMessage": f"RequestId: {rid} Error: Task timed out after {self.spec.timeout:.2f} seconds",
                    "errorType": "Sandbox.Timedout"}
        elif reason == KillReason.MEMORY:
            body = {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed "
                                    f"(memory limit of {self.spec.memory_mb} MB exceeded)",
                    "errorType": "Runtime.OutOfMemory"}
        elif self._init_error is not None:
            try:
                body = json.loads(self._init_error)
            except ValueError:
                body = {"errorMessage": self._init_error.decode(errors="replace"), "errorType": "Runtime.Unknown"}
        else:
            how = f"signal: {signal.Signals(-exit_code).name}" if exit_code < 0 else f"exit status {exit_code}"
            body = {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: {how}",
                    "errorType": "Runtime.ExitError"}
        self._log(f"[ERROR] {body['errorType']}: {body['errorMessage']}")
        inv.result = json.dumps(body).encode()
        inv.error_type = "Unhandled"
        inv.finished = time.perf_counter()
        inv.picked.set()
        inv.done.set()

    # ---- logs --------------------------------------------------------------------------------
    def _pump(self, fd: int) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self._pumps_busy += 1
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                # awslambdaric keeps multi-line records together with \r; show them as lines.
                for line in raw.decode("utf-8", errors="replace").split("\r"):
                    if line:
                        self._log(line)
            self._pumps_busy -= 1
        if buf:
            self._log(buf.decode("utf-8", errors="replace"))

    def _log(self, line: str) -> None:
        inv = self._current
        if inv is not None:
            inv.logs.append(line)
        self._emit(self.spec, self.log_stream, line)

    def _drain_logs(self, budget_s: float = 0.05) -> None:
        """Wait briefly until the function's pending output has been read (for LogType=Tail)."""
        end = time.perf_counter() + budget_s
        while time.perf_counter() < end:
            try:
                readable, _, _ = select.select(self._pipes, [], [], 0)
            except (OSError, ValueError):
                return
            if not readable and self._pumps_busy == 0:
                return
            time.sleep(0.001)

    # ---- the Runtime API backend ------------------------------------------------------------
    def next_invocation(self) -> Invocation | None:
        if not self.initialized:
            self.initialized = True
            self.init_ms = (time.perf_counter() - self._spawned_at) * 1000
        inv = self._inbox.get()
        if inv is None:
            return None
        inv.started = time.perf_counter()
        inv.deadline_ms = int(time.time() * 1000 + self.spec.timeout * 1000)
        inv.picked.set()
        return inv

    def complete(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        inv = self._current
        if inv is None or inv.request_id != request_id or inv.done.is_set():
            return False
        if inv.crash is not None:
            self._crash(inv)
            return False
        inv.result = body
        inv.error_type = error_type
        inv.finished = time.perf_counter()
        inv.done.set()
        return True

    def init_failed(self, body: bytes) -> None:
        self._init_error = body

    # ---- invoking ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._current is not None

    def _inject_error(self, inv: Invocation, fault: Any) -> None:
        self._log(f"[localcloud] {fault.describe()}: the handler did not run")
        inv.started = inv.finished = time.perf_counter()
        inv.result = json.dumps({"errorMessage": fault.message, "errorType": fault.error_type}).encode()
        inv.error_type = "Unhandled"
        inv.picked.set()
        inv.done.set()

    def _inject_delay(self, inv: Invocation, fault: Any) -> bool:
        """Hold the event back; False when the delay used up the whole timeout."""
        self._log(f"[localcloud] {fault.describe()}: event delayed {fault.delay_ms} ms")
        inv.started = time.perf_counter()
        if fault.delay_ms / 1000 < self.spec.timeout:
            time.sleep(fault.delay_ms / 1000)
            return True
        time.sleep(self.spec.timeout)
        self.kill(KillReason.TIMEOUT)
        if not inv.done.wait(5):
            self._fail_current(inv, -9)
        return False

    def _crash(self, inv: Invocation) -> None:
        """Fire the invocation's armed crash once: the environment dies before it answers."""
        with self._lock:
            fault, inv.crash = inv.crash, None
        if fault is not None and not inv.done.is_set():
            self._log(f"[localcloud] {fault.describe()}: killing the execution environment")
            self.kill(KillReason.INJECTED_CRASH)

    def _arm_crash(self, inv: Invocation, fault: Any) -> None:
        timer = threading.Timer(fault.after_ms / 1000, self._crash, args=(inv,))
        timer.daemon = True
        timer.start()

    def run(self, inv: Invocation, *, tail: bool = False, fault: Any = None) -> InvokeResult:
        cold = self.served == 0
        self.served += 1
        self._current = inv
        self._busy.set()
        self._log(f"START RequestId: {inv.request_id} Version: {self.spec.version}")
        kind = fault.fault if fault is not None else None
        if kind == FaultKind.ERROR:
            self._inject_error(inv, fault)
        elif kind != FaultKind.DELAY or self._inject_delay(inv, fault):
            self._deliver(inv, fault if kind == FaultKind.CRASH else None)
        return self._finish(inv, cold, tail)

    def _deliver(self, inv: Invocation, crash: Any) -> None:
        # Armed before the handler can answer: a fast handler dies at its answer at the latest.
        inv.crash = crash
        self._inbox.put(inv)
        init_timeout = max(self.settings.min_init_timeout_s, self.spec.timeout)
        if not inv.picked.wait(init_timeout) and not inv.done.is_set():
            self.kill(KillReason.TIMEOUT)
            inv.done.wait(5)
        if crash is not None:
            self._arm_crash(inv, crash)
        if not inv.done.wait(self.spec.timeout):
            self.kill(KillReason.TIMEOUT)
            inv.done.wait(5)
        if not inv.done.is_set():  # the process would not die; still answer the caller
            self._fail_current(inv, -9)

    def _finish(self, inv: Invocation, cold: bool, tail: bool) -> InvokeResult:
        duration = (inv.finished - inv.started) * 1000 if inv.started else 0.0
        if tail or inv.error_type:
            self._drain_logs()
        self.max_rss = max(self.max_rss, self._rss())
        init_ms = self.init_ms if cold else None
        self._log(f"END RequestId: {inv.request_id}")
        report = (f"REPORT RequestId: {inv.request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {max(1, int(duration + 0.999))} ms\tMemory Size: {self.spec.memory_mb} MB\t"
                  f"Max Memory Used: {self.max_rss // (1024 * 1024)} MB")
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        self._log(report)
        self._current = None
        self.last_used = time.monotonic()
        self._busy.clear()
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
            max_memory_mb=self.max_rss // (1024 * 1024),
        )
