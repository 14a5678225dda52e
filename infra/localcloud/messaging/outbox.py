"""Where ``email`` and ``email-json`` SNS deliveries go: files on this machine, never a mail server.

One JSON file per delivered message, ``<state_dir>/outbox/<YYYYmmddTHHMMSS.ffffffZ>-<message id>.json``,
holding ``to``, ``protocol``, ``topic_arn``, ``message_id``, ``subject``, ``message`` and
``timestamp``. A file appears whole or not at all (written aside, then linked into place), and a
name is never reused: two subscribers of one message get two files.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time):
        self.directory = directory
        self._clock = clock

    def write(self, mail: dict[str, Any]) -> Path:
        """Store one message; returns its file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = json.dumps(mail, indent=2).encode()
        tmp = self.directory / f".{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            moment = datetime.fromtimestamp(self._clock(), UTC)
            while True:
                path = self.directory / f"{moment:%Y%m%dT%H%M%S.%f}Z-{mail['message_id']}.json"
                try:
                    os.link(tmp, path)  # fails if the name exists: a file is never overwritten
                    return path
                except FileExistsError:
                    moment += timedelta(microseconds=1)
        finally:
            tmp.unlink(missing_ok=True)

    def messages(self) -> list[dict[str, Any]]:
        """Every stored message, oldest first."""
        if not self.directory.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.directory.glob("*.json"))]
