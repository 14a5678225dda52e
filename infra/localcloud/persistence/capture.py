"""Turns writes inside moto's backends into journal records, before the API acknowledges them.

The write hooks (motoseam/state.py) report each write to the active `Capture` as a builder of its
record. Inside an HTTP request the capture only notes the builders; the API server calls `commit()`
once moto has built the response and before sending it, so the record holds the object's final
state (metadata and content type are set after ``put_object``). Writes made outside a request (the
log sink, the Step Functions interpreter) are recorded at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .. import motoseam
from .journal import Journal

LOG = logging.getLogger("localcloud.persistence")

_active: Capture | None = None
_local = threading.local()


class Capture:
    """Writes records for the changes the hooks report; one per cloud process."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.suspended = False  # while the restore replays the journal into the backends

    # ---- request scope -------------------------------------------------------------------------
    def begin(self) -> None:
        _local.pending = []

    def commit(self) -> None:
        pending: list[Callable[[], dict[str, Any] | None]] = getattr(_local, "pending", None) or []
        _local.pending = None
        for build in pending:
            self._write(build)

    def note(self, build: Callable[[], dict[str, Any] | None]) -> None:
        if self.suspended:
            return
        pending = getattr(_local, "pending", None)
        if pending is None:
            self._write(build)
        else:
            pending.append(build)

    def put_blob(self, data: bytes) -> str:
        return self.journal.put_blob(data)

    def _write(self, build: Callable[[], dict[str, Any] | None]) -> None:
        record = build()
        if record is not None:
            self.journal.append(record)


def activate(capture: Capture | None) -> None:
    """Make `capture` receive the hooks' notes (None: record nothing). Installs the hooks once."""
    global _active
    motoseam.install_write_hooks(active, _event_offset)
    _active = capture


def active() -> Capture | None:
    return _active


def _event_offset(execution_arn: str) -> int:
    from .executions import offset_for  # executions imports this module

    return offset_for(execution_arn)
