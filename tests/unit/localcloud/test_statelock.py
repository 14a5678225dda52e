"""One local cloud per state directory: the flock, the refusal message, and --fresh keeping the lock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra.localcloud.statelock import LOCK_FILE, StateDirBusyError, StateDirLock, wipe_except_lock


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_ports(tmp_path):
    first = StateDirLock(tmp_path)
    first.acquire({"pid": 4242, "port": 4566, "api_port": 3000})
    with pytest.raises(StateDirBusyError) as refused:
        StateDirLock(tmp_path).acquire({"pid": 1, "port": 4567, "api_port": 3001})
    message = str(refused.value)
    assert "pid 4242" in message and "port 4566" in message and "port 3000" in message
    assert "STATE=" in message and "PORT=4567" in message
    first.release()
    again = StateDirLock(tmp_path)
    again.acquire({"pid": 5, "port": 4566})
    again.release()


def test_the_lock_is_released_when_its_process_is_killed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from infra.localcloud.statelock import StateDirLock;"
        f"StateDirLock(Path({str(tmp_path)!r})).acquire({{'pid': 1, 'port': 1}}); print('held', flush=True);"
        "time.sleep(60)")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(StateDirBusyError):
            StateDirLock(tmp_path).acquire({"pid": 2})
    finally:
        holder.kill()
        holder.wait(10)
    lock = StateDirLock(tmp_path)
    lock.acquire({"pid": 2})  # kill -9 leaves no stale lock
    lock.release()


def test_fresh_wipes_everything_but_the_lock(tmp_path):
    lock = StateDirLock(tmp_path)
    lock.acquire({"pid": 1})
    (tmp_path / "data" / "blobs").mkdir(parents=True)
    (tmp_path / "data" / "journal.jsonl").write_text("{}\n")
    (tmp_path / "endpoints.json").write_text("{}")
    wipe_except_lock(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [LOCK_FILE]
    assert lock.held
    lock.release()
