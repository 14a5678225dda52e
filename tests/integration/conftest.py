"""Integration tier: a real local cloud process (``localcloud up``), real workers, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.cli import free_port
from infra.localcloud.endpoint import local_client

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_APP = ROOT / "tests" / "fixtures" / "app" / "template.yaml"


@dataclass
class RunningCloud:
    proc: subprocess.Popen[bytes]
    endpoint_url: str
    api_url: str
    state_dir: Path
    stack_name: str
    log_path: Path
    info: dict[str, Any]

    def client(self, service: str) -> Any:
        return local_client(service, self.endpoint_url, max_attempts=0)

    def physical(self, logical_id: str) -> str:
        return self.info["stack"]["resources"][logical_id]["physical_id"]

    def output(self, name: str) -> str:
        return self.info["stack"]["outputs"][name]

    def terminal(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_cloud(tmp: Path, template: Path, *, stack_name: str = "fixture", extra: list[str] | None = None,
                timeout: float = 180.0, env: dict[str, str] | None = None) -> RunningCloud:
    port, api_port = free_port(), free_port()
    state_dir = tmp / "state"
    log_path = tmp / "cloud.log"
    cmd = [sys.executable, "-m", "infra.localcloud.cli", "up", "--template", str(template), "--port", str(port),
           "--api-port", str(api_port), "--state-dir", str(state_dir), "--stack-name", stack_name, *(extra or [])]
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))
    endpoints = state_dir / "endpoints.json"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"local cloud exited with {proc.returncode}:\n{log_path.read_text()[-5000:]}")
        if endpoints.exists():
            try:
                info = json.loads(endpoints.read_text())
            except ValueError:
                info = None
            if info and info.get("pid") == proc.pid:
                return RunningCloud(proc, info["endpoint_url"], info["api_url"], state_dir, stack_name, log_path, info)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"local cloud not ready after {timeout}s:\n{log_path.read_text()[-5000:]}")


def stop_cloud(cloud: RunningCloud, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
    if cloud.proc.poll() is None:
        cloud.proc.send_signal(sig)
        try:
            cloud.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            cloud.proc.kill()
            cloud.proc.wait(5)
    return cloud.proc.returncode


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="session")
def fixture_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    tmp = tmp_path_factory.mktemp("fixture-cloud")
    cloud = start_cloud(tmp, FIXTURE_APP, extra=[
        "--parameter-overrides", "UploadDelay=2",
        "--async-retry-delays", "0.5,0.5",
        "--schedule-speedup", "30",
    ])
    yield cloud
    stop_cloud(cloud)


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")
