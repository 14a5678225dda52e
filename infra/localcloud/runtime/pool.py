"""The local Lambda service: execution environments per function, concurrency, recycling."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..faults import FaultInjector
from .errors import RuntimeStoppedError, TooManyRequestsError
from .spec import FunctionSpec
from .worker import Invocation, InvokeResult, KillReason, LogEmitter, Worker, WorkerSettings

logger = logging.getLogger("localcloud.runtime")

# Told of every invocation: (function, the ARN it was invoked by, its result, or None when throttled).
# Lambda publishes its AWS/Lambda metrics from here (lambdametrics.py).
InvocationObserver = Callable[[FunctionSpec, str, InvokeResult | None], None]


@dataclass
class RuntimeConfig:
    worker: WorkerSettings
    # AWS's account-wide default is 1000; a laptop cannot host 1000 processes per function, so
    # unreserved functions get this many concurrent environments locally.
    default_concurrency: int = 10
    faults: FaultInjector | None = None  # misbehaviour set through the cloud's API (faults.py)
    # Lambda reclaims execution environments that stay idle; so does the local cloud, which also
    # frees the workers of versions nothing invokes any more (an alias moved on).
    idle_timeout_s: float = 600.0
    observe: InvocationObserver | None = None


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0


class FunctionPool:
    """Warm workers of one function, and the concurrency slots they run in."""

    def __init__(self, spec: FunctionSpec, config: RuntimeConfig, emit: LogEmitter):
        self.spec = spec
        self._config = config
        self._emit = emit
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._busy = 0
        self.stats = FunctionStats()
        self.closed = False

    @property
    def limit(self) -> int:
        reserved = self.spec.reserved_concurrency
        return int(reserved) if reserved is not None else self._config.default_concurrency

    def update(self, spec: FunctionSpec) -> None:
        """New code or configuration: every current environment is retired, as AWS does."""
        with self._cond:
            if spec.fingerprint == self.spec.fingerprint:
                self.spec = spec
                return
            logger.info("%s: configuration changed, recycling %d worker(s)", spec.name, len(self._workers))
            self.spec = spec
            old, self._idle = list(self._workers), []
        for w in old:
            w.retire()

    def _acquire(self, wait: bool, timeout: float | None) -> Worker:
        with self._cond:
            if self.closed:
                raise RuntimeStoppedError("local cloud is stopping")
            if self._busy >= self.limit:
                if not wait:
                    self.stats.throttles += 1
                    raise TooManyRequestsError("Rate Exceeded.")
                if not self._cond.wait_for(lambda: self._busy < self.limit or self.closed, timeout):
                    self.stats.throttles += 1
                    raise TooManyRequestsError("Rate Exceeded.")
                if self.closed:
                    raise RuntimeStoppedError("local cloud is stopping")
            self._busy += 1
            # Reuse the most recently used warm environment first.
            while self._idle:
                w = self._idle.pop()
                if w.alive and not w.retired and w.spec.fingerprint == self.spec.fingerprint:
                    return w
            spec = self.spec
        try:
            w = Worker(spec, self._config.worker, self._emit, self._worker_exited)
            with self._cond:
                self._workers.add(w)
                self.stats.cold_starts += 1
            w.start()
            return w
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _release(self, w: Worker) -> None:
        with self._cond:
            self._busy -= 1
            if w.alive and not w.retired and not self.closed and w.spec.fingerprint == self.spec.fingerprint:
                self._idle.append(w)
            elif w.alive:
                w.kill(KillReason.RECYCLED)
            self._cond.notify()

    def _worker_exited(self, w: Worker) -> None:
        with self._cond:
            self._workers.discard(w)
            if w in self._idle:
                self._idle.remove(w)
            self._cond.notify_all()
        if w.kill_reason not in (None, KillReason.RECYCLED, KillReason.SHUTDOWN):
            logger.warning("%s: worker %d ended (%s)", w.spec.name, w.pid, w.kill_reason)

    def invoke(self, payload: bytes, *, invoked_arn: str, request_id: str | None = None,
               client_context: str | None = None, wait: bool = False, wait_timeout: float | None = None,
               tail: bool = False) -> InvokeResult:
        try:
            w = self._acquire(wait, wait_timeout)
        except TooManyRequestsError:
            self._observe(invoked_arn, None)
            raise
        try:
            inv = Invocation(request_id=request_id or str(uuid.uuid4()), payload=payload,
                             invoked_arn=invoked_arn, client_context=client_context)
            faults = self._config.faults
            fault = faults.for_invocation(self.spec.name) if faults is not None else None
            result = w.run(inv, tail=tail, fault=fault)
        finally:
            self._release(w)
        with self._cond:
            self.stats.invocations += 1
            if result.function_error:
                self.stats.errors += 1
        self._observe(invoked_arn, result)
        return result

    def _observe(self, invoked_arn: str, result: InvokeResult | None) -> None:
        observe = self._config.observe
        if observe is None:
            return
        try:
            observe(self.spec, invoked_arn, result)
        except Exception:  # noqa: BLE001 - metrics must never fail an invocation; the failure is logged
            logger.exception("%s: could not record the invocation's metrics", self.spec.name)

    def reap_idle(self, idle_for_s: float) -> int:
        """Stop environments idle for longer than `idle_for_s`; returns how many."""
        deadline = time.monotonic() - idle_for_s
        with self._cond:
            idle = [w for w in self._idle if w.last_used < deadline]
            self._idle = [w for w in self._idle if w not in idle]
        for w in idle:
            w.kill(KillReason.RECYCLED)
        return len(idle)

    def kill_running(self, reason: KillReason) -> int:
        """Kill the environments that are running an invocation now; returns how many."""
        with self._cond:
            running = [w for w in self._workers if w.alive and w.busy]
        for w in running:
            w.kill(reason)
        return len(running)

    def worker_pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._workers if w.alive]

    def close(self) -> None:
        with self._cond:
            self.closed = True
            workers = list(self._workers)
            self._cond.notify_all()
        for w in workers:
            w.kill(KillReason.SHUTDOWN)


class LambdaRuntime:
    """All function pools of the local cloud, keyed by function ARN."""

    def __init__(self, config: RuntimeConfig, emit: LogEmitter):
        self.config = config
        self._emit = emit
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        timeout = self.config.idle_timeout_s
        while not self._stop.wait(min(30.0, timeout / 2)):
            for pool in self.pools().values():
                n = pool.reap_idle(timeout)
                if n:
                    logger.info("%s: %d idle environment(s) reclaimed", pool.spec.name, n)

    def pool(self, spec: FunctionSpec) -> FunctionPool:
        with self._lock:
            if self._closed:
                raise RuntimeStoppedError("local cloud is stopping")
            pool = self._pools.get(spec.arn)
            if pool is None:
                pool = self._pools[spec.arn] = FunctionPool(spec, self.config, self._emit)
                return pool
        pool.update(spec)
        return pool

    def invoke(self, spec: FunctionSpec, payload: bytes, **kwargs) -> InvokeResult:
        kwargs.setdefault("invoked_arn", spec.arn)
        return self.pool(spec).invoke(payload, **kwargs)

    def function_names(self) -> list[str]:
        return [p.spec.name for p in self.pools().values()]

    def kill_running(self, function_name: str, reason: KillReason) -> int:
        return sum(p.kill_running(reason) for p in self.pools().values() if p.spec.name == function_name)

    def pools(self) -> dict[str, FunctionPool]:
        with self._lock:
            return dict(self._pools)

    def shutdown(self) -> None:
        self._stop.set()
        with self._lock:
            self._closed = True
            pools = list(self._pools.values())
        for p in pools:
            p.close()
