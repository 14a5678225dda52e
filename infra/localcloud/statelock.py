"""One local cloud per state directory: an exclusive ``flock`` held for the cloud's whole lifetime.

Two clouds on one ``.localcloud`` would share ``data/journal.jsonl``: the second compacts the journal
under the first (which then appends to a deleted file, so acknowledged writes vanish at the next
restart), and overwrites ``endpoints.json`` and ``console-token``. The lock is taken before anything
in the directory is read, compacted, wiped (``--fresh``) or written, and the kernel drops it when the
process dies, even on ``kill -9``, so a crashed cloud never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

LOCK_FILE = "cloud.lock"


class StateDirBusyError(Exception):
    """Another running local cloud holds the state directory."""

    def __init__(self, state_dir: Path, holder: dict[str, Any]):
        self.state_dir = state_dir
        self.holder = holder
        super().__init__(describe_refusal(state_dir, holder))


def describe_refusal(state_dir: Path, holder: dict[str, Any]) -> str:
    who = f"pid {holder.get('pid', '?')}"
    ports = [f"AWS APIs on port {holder['port']}" if holder.get("port") else "",
             f"HTTP API on port {holder['api_port']}" if holder.get("api_port") else ""]
    where = ", ".join(p for p in ports if p)
    port = int(holder.get("port") or 4566) + 1
    api_port = int(holder.get("api_port") or 3000) + 1
    return (f"another local cloud ({who}{', ' + where if where else ''}) is using the state directory {state_dir}; "
            f"stop it first (Ctrl-C in its terminal), or run a second cloud with its own state directory, "
            f"e.g. make up PORT={port} API_PORT={api_port} CONSOLE_PORT=8081 "
            f"(a PORT other than 4566 implies STATE=.localcloud-{port}; STATE=dir chooses one)")


class StateDirLock:
    """``acquire()`` or raise StateDirBusyError; the holder's pid and ports are readable in the lock file."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd = -1

    def acquire(self, holder: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = _read_holder(fd)
            os.close(fd)
            raise StateDirBusyError(self.state_dir, current) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data) if data else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def wipe_except_lock(state_dir: Path, keep: frozenset[str] = frozenset()) -> None:
    """``--fresh``: empty the directory the caller has locked, keeping the lock file (and `keep`)."""
    import shutil

    for entry in state_dir.iterdir():
        if entry.name == LOCK_FILE or entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
