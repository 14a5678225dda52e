"""Where function output goes: the terminal (prefixed by function) and CloudWatch Logs."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from .emf import might_be_emf
from .runtime.spec import FunctionSpec

terminal = logging.getLogger("localcloud.functions")

# (log group, log stream, [(timestamp ms, message)])
CloudWatchWriter = Callable[[str, str, list[tuple[int, str]]], None]
# (log group, [(timestamp ms, message)]): what CloudWatch Logs does next with a batch, e.g. EMF extraction
MetricFilter = Callable[[str, list[tuple[int, str]]], object]


class LogSink:
    """Fans each function log line out to the terminal and, in batches, to CloudWatch Logs."""

    def __init__(self, cloudwatch: CloudWatchWriter | None = None, flush_interval_s: float = 0.1,
                 metrics: MetricFilter | None = None):
        self._cloudwatch = cloudwatch
        self._metrics = metrics
        self._queue: queue.Queue[tuple[str, str, int, str] | None] = queue.Queue()
        self._interval = flush_interval_s
        self._thread = threading.Thread(target=self._run, name="logsink", daemon=True)
        self._thread.start()

    def emit(self, spec: FunctionSpec, stream: str, line: str) -> None:
        # EMF documents are for CloudWatch, not for people: the terminal shows the readable lines.
        if not might_be_emf(line):
            terminal.info(line, extra={"function": spec.name})
        if self._cloudwatch is not None:
            self._queue.put((spec.log_group, stream, int(time.time() * 1000), line))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch: dict[tuple[str, str], list[tuple[int, str]]] = {}
            deadline = time.time() + self._interval
            while item is not None:
                group, stream, ts, line = item
                batch.setdefault((group, stream), []).append((ts, line))
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.time()))
                except queue.Empty:
                    break
            self._write(batch)
            if item is None:
                return

    def _write(self, batch: dict[tuple[str, str], list[tuple[int, str]]]) -> None:
        for (group, stream), events in batch.items():
            try:
                self._cloudwatch(group, stream, events)  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - log delivery must never take the cloud down; say so loudly
                logging.getLogger("localcloud").exception("could not write logs to %s", group)
            if self._metrics is not None:
                try:
                    self._metrics(group, events)
                except Exception:  # noqa: BLE001 - same: metrics extraction must never stop log delivery
                    logging.getLogger("localcloud").exception("could not extract metrics from %s", group)

    def flush(self, timeout: float = 2.0) -> None:
        end = time.time() + timeout
        while not self._queue.empty() and time.time() < end:
            time.sleep(0.01)
        time.sleep(self._interval)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=2)
