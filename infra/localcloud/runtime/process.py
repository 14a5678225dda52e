"""The worker process: its command and environment, spawning it so it dies with the cloud, killing it."""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from .spec import FunctionSpec

PYRIC = Path(__file__).with_name("pyric.py")
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


def command(spec: FunctionSpec, settings: WorkerSettings) -> list[str]:
    """The runtime client that runs ``spec``'s handler: awslambdaric, or the pure-Python pyric.py."""
    if settings.use_awslambdaric:
        return [settings.python, "-m", "awslambdaric", spec.handler]
    return [settings.python, str(PYRIC), spec.handler]


def environment(spec: FunctionSpec, settings: WorkerSettings, *, runtime_api: str, log_stream: str) -> dict[str, str]:
    """The process environment Lambda gives a function (and nothing of the cloud's own environment)."""
    s = settings
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
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
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


_Make = Callable[[], subprocess.Popen[bytes]]  # builds the Popen, in the spawner thread


class _Spawner:
    """Forks workers from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Request
    threads are short-lived, so forking from them would kill warm workers after one request.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[_Make, Future[subprocess.Popen[bytes]]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="worker-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            make, fut = self._queue.get()
            try:
                fut.set_result(make())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller, who raises it
                fut.set_exception(exc)

    def spawn(self, make: _Make) -> subprocess.Popen[bytes]:
        fut: Future[subprocess.Popen[bytes]] = Future()
        self._queue.put((make, fut))
        return fut.result()


_spawner_lock = threading.Lock()
_spawner: _Spawner | None = None


def _spawn(make: _Make) -> subprocess.Popen[bytes]:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.spawn(make)


class WorkerProcess:
    """One worker's OS process: started once, killed (with its whole group) for the first reason given."""

    def __init__(self) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        self.kill_reason: KillReason | None = None
        self._lock = threading.Lock()

    def start(self, cmd: list[str], env: dict[str, str], cwd: Path) -> list[IO[bytes]]:
        """Spawn the process; returns its stdout and stderr."""
        self.popen = popen = _spawn(lambda: subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGKILL),  # workers die with the cloud: no orphans
        ))
        streams = []
        for stream in (popen.stdout, popen.stderr):
            assert stream is not None
            streams.append(stream)
        return streams

    @property
    def pid(self) -> int:
        return self.popen.pid if self.popen else 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, reason: KillReason) -> None:
        with self._lock:
            if self.kill_reason is None:
                self.kill_reason = reason
        if self.popen and self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it exited on its own between poll() and killpg()

    def wait(self) -> int:
        """The exit code once the process has ended (negative: the signal that ended it)."""
        assert self.popen is not None
        return self.popen.wait()
