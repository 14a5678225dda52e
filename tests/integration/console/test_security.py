"""Security of the running product (`make up`'s process tree): loopback listeners, no secrets in logs.

Uses the console session's cloud: the local cloud, its workers, the HTTP API and the console.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.integration.console.conftest import SENTINEL_SECRETS, Console

pytestmark = pytest.mark.integration

_LOOPBACK_V4 = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
_LOOPBACK_V6 = "00000000000000000000000001000000"  # ::1


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[1]) == pid:
            child = int(stat.parent.name)
            out += [child, *_children(child)]
    return out


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if m := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(m.group(1))
    return inodes


def _listening() -> dict[str, str]:
    """inode -> local address (hex, as the kernel writes it) of every listening TCP socket."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A":  # LISTEN
                out[f[9]] = f[1].split(":")[0]
    return out


def test_every_listener_of_the_product_binds_loopback(console: Console) -> None:
    tree = [console.cloud.proc.pid, *_children(console.cloud.proc.pid)]
    listening = _listening()
    found = {}
    for pid in tree:
        for inode in _socket_inodes(pid) & set(listening):
            found[(pid, inode)] = listening[inode]
    # The AWS APIs, the HTTP API, the console, and one Runtime API per warm worker.
    assert len(found) >= 4, found
    exposed = {k: v for k, v in found.items() if v not in (_LOOPBACK_V4, _LOOPBACK_V6)}
    assert not exposed, f"listeners not on loopback: {exposed}"


def test_secrets_never_reach_the_logs_or_the_data(console: Console) -> None:
    # The session token is printed once, in the console's banner (as Jupyter prints its own); the
    # credentials in the cloud's environment are never printed, logged or stored.
    terminal = console.cloud.terminal()
    banner = [line for line in terminal.splitlines() if console.token in line]
    assert all(re.search(r"Console +http://127\.0\.0\.1:\d+/\?token=", line) for line in banner), banner
    assert len(banner) == 1, banner
    for secret in SENTINEL_SECRETS:
        assert secret not in terminal
    logs = console.cloud.client("logs")
    text = []
    for group in logs.get_paginator("describe_log_groups").paginate():
        for g in group["logGroups"]:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=g["logGroupName"]):
                text += [e["message"] for e in page["events"]]
    assert text, "the functions have logged"
    everything = "\n".join(text)
    for secret in (console.token, *SENTINEL_SECRETS):
        assert secret not in everything
    # Nor in the data directory (S3 objects, items, logs and executions as persisted).
    data = console.cloud.state_dir / "data"
    for path in data.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for secret in (console.token, *SENTINEL_SECRETS):
                assert secret.encode() not in blob, path
