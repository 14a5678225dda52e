"""One invocation on its way through an execution environment, and what its caller gets back."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..faults import FaultRule
from .process import KillReason
from .spec import FunctionSpec

_MB = 1024 * 1024


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
    crash: FaultRule | None = None  # an injected crash armed for this invocation (faults.py), until it fires

    def answer(self, body: bytes, error_type: str | None) -> None:
        """The runtime client's answer: the caller goes on with it."""
        self.result = body
        self.error_type = error_type
        self.finished = time.perf_counter()
        self.done.set()

    def fail(self, body: dict[str, Any]) -> None:
        """End it as failed without an answer from the function (the environment died)."""
        self.result = json.dumps(body).encode()
        self.error_type = "Unhandled"
        self.finished = time.perf_counter()
        self.picked.set()
        self.done.set()


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


def failure(spec: FunctionSpec, request_id: str, reason: KillReason | None, init_error: bytes | None,
            exit_code: int) -> dict[str, Any]:
    """The error body Lambda answers with when the environment ended before the function answered."""
    rid = request_id
    if reason == KillReason.TIMEOUT:
        return {"errorMessage": f"RequestId: {rid} Error: Task timed out after {spec.timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout"}
    if reason == KillReason.MEMORY:
        return {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed "
                                f"(memory limit of {spec.memory_mb} MB exceeded)",
                "errorType": "Runtime.OutOfMemory"}
    if init_error is not None:
        try:
            return json.loads(init_error)  # the runtime client's own report of the init failure
        except ValueError:
            return {"errorMessage": init_error.decode(errors="replace"), "errorType": "Runtime.Unknown"}
    how = f"signal: {signal.Signals(-exit_code).name}" if exit_code < 0 else f"exit status {exit_code}"
    return {"errorMessage": f"RequestId: {rid} Error: Runtime exited with error: {how}",
            "errorType": "Runtime.ExitError"}


def report_line(spec: FunctionSpec, request_id: str, duration_ms: float, max_rss: int,
                init_ms: float | None) -> str:
    """The REPORT line that ends an invocation's log."""
    report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
              f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\tMemory Size: {spec.memory_mb} MB\t"
              f"Max Memory Used: {max_rss // _MB} MB")
    if init_ms is not None:
        report += f"\tInit Duration: {init_ms:.2f} ms"
    return report
