"""The function's output: stdout and stderr read line by line into the log sink and the invocation's tail."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterable
from typing import IO

from .invocation import Invocation
from .spec import FunctionSpec

LogEmitter = Callable[[FunctionSpec, str, str], None]  # (spec, log stream, line)


class LogPump:
    """Forwards one worker's log lines to the log sink, and to the invocation running (for LogType=Tail)."""

    def __init__(self, spec: FunctionSpec, log_stream: str, emit: LogEmitter,
                 current: Callable[[], Invocation | None]):
        self._spec = spec
        self._log_stream = log_stream
        self._emit = emit
        self._current = current
        self._busy = 0  # pump threads handling a chunk they have read
        self._pipes: list[int] = []

    def start(self, streams: Iterable[IO[bytes]]) -> None:
        """A reader thread per stream, until the process closes it."""
        for stream in streams:
            self._pipes.append(stream.fileno())
            threading.Thread(target=self._pump, args=(stream.fileno(),), daemon=True,
                             name=f"logs-{self._spec.name}").start()

    def write(self, line: str) -> None:
        """One line of the function's log: its output, or the runtime's START/END/REPORT and errors."""
        inv = self._current()
        if inv is not None:
            inv.logs.append(line)
        self._emit(self._spec, self._log_stream, line)

    def _pump(self, fd: int) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self._busy += 1
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                # awslambdaric keeps multi-line records together with \r; show them as lines.
                for line in raw.decode("utf-8", errors="replace").split("\r"):
                    if line:
                        self.write(line)
            self._busy -= 1
        if buf:
            self.write(buf.decode("utf-8", errors="replace"))

    def drain(self, budget_s: float = 0.05) -> None:
        """Wait briefly until the function's pending output has been read (for LogType=Tail)."""
        end = time.perf_counter() + budget_s
        while time.perf_counter() < end:
            try:
                readable, _, _ = select.select(self._pipes, [], [], 0)
            except (OSError, ValueError):
                return
            if not readable and self._busy == 0:
                return
            time.sleep(0.001)
