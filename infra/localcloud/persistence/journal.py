"""The data directory's append-only journal and its content-addressed blob store.

Layout under ``<state_dir>/data/``::

    journal.jsonl          one JSON record per line, appended in the order the cloud acknowledged them
    blobs/ab/abcdef…       object bodies, named by their SHA-256 (so no S3 key ever becomes a path)

A record is appended (``os.write`` on an ``O_APPEND`` descriptor) before the API answers the request
that caused it, so a write the API acknowledged survives ``kill -9`` of the local cloud: the bytes
are in the kernel once ``write`` returns. ``fsync=True`` also survives a power cut, at the price of
a disk flush per write. A line torn by a crash mid-write is skipped, with a warning, on load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

LOG = logging.getLogger("localcloud.persistence")

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
JOURNAL = "journal.jsonl"


class RecordKind(StrEnum):
    """A record's ``"k"``: what changed. The values are on disk in every journal; never rename one."""

    S3_BUCKET = "s3.bucket"
    S3_VERSIONING = "s3.versioning"
    S3_BUCKET_DELETED = "s3.bucket_deleted"
    S3_PUT = "s3.put"  # an object version; its body is a blob
    S3_MARKER = "s3.marker"  # a delete marker
    S3_DELETE = "s3.delete"  # a key (unversioned) or one version removed
    DDB_TABLE = "ddb.table"
    DDB_TABLE_DELETED = "ddb.table_deleted"
    DDB_PUT = "ddb.put"  # an item's latest image (PutItem, UpdateItem, batches, transactions)
    DDB_DELETE = "ddb.delete"
    LOGS_GROUP = "logs.group"
    LOGS_RETENTION = "logs.retention"
    LOGS_EVENTS = "logs.events"
    SFN_START = "sfn.start"
    SFN_EVENT = "sfn.event"  # one history event
    SFN_END = "sfn.end"
    SFN_REDRIVE = "sfn.redrive"
    SFN_REDRIVES = "sfn.redrives"  # the redrive count alone (compaction)


class CorruptBlobError(Exception):
    """A blob's content no longer matches its name (disk corruption or a manual edit)."""


class Journal:
    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = root.resolve()
        self.blobs = self.root / "blobs"
        self.path = self.root / JOURNAL
        self.fsync = fsync
        self._lock = threading.Lock()
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # ---- blobs ---------------------------------------------------------------------------------
    def _blob_path(self, digest: str) -> Path:
        if not _DIGEST.match(digest):
            raise ValueError(f"not a blob name: {digest!r}")
        return self.blobs / digest[:2] / digest

    def put_blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._blob_path(digest)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(f".{digest}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(data)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)  # the journal line that names it is written after this
        return digest

    def read_blob(self, digest: str) -> bytes:
        data = self._blob_path(digest).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptBlobError(f"blob {digest} does not match its content")
        return data

    # ---- records -------------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            if self.fsync:
                os.fsync(self._fd)

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.endswith(b"\n"):
                    LOG.warning("journal line %d is incomplete (the cloud died mid-write); skipped", number)
                    continue
                try:
                    record = json.loads(raw)
                except ValueError:
                    LOG.warning("journal line %d is not JSON; skipped", number)
                    continue
                if isinstance(record, dict) and isinstance(record.get("k"), str):
                    yield record
                else:
                    LOG.warning("journal line %d has no record kind; skipped", number)

    def rewrite(self, records: Iterable[dict[str, Any]]) -> int:
        """Replace the journal by `records` (a compacted snapshot) and drop blobs nothing names.

        Only at start, under the state directory's lock: no write is in flight, so every temporary
        blob file is debris from an interrupted write.
        """
        tmp = self.path.with_name(JOURNAL + ".compact")
        kept: set[str] = set()
        count = 0
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            for record in records:
                if isinstance(record.get("blob"), str):
                    kept.add(record["blob"])
                fh.write((json.dumps(record, separators=(",", ":"), default=str) + "\n").encode())
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        with self._lock:
            os.replace(tmp, self.path)
            os.close(self._fd)
            self._fd = self._open()
        for path in self.blobs.glob("*/*"):
            # ".<digest>.<thread>.tmp" is a write that kill -9 interrupted before its os.replace: no
            # journal line names it (the line is appended after the rename), so nothing acknowledged is lost.
            if path.name not in kept:
                path.unlink(missing_ok=True)
        return count

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
