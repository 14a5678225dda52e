"""Standard clients, `make invoke` semantics, and clean shutdown with no orphan workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import FIXTURE_APP, ROOT, pid_alive, start_cloud, stop_cloud, wait_for

pytestmark = pytest.mark.integration


def test_localstack_client_works_unchanged(fixture_cloud, monkeypatch):
    import localstack_client.session

    host_port = fixture_cloud.endpoint_url.removeprefix("http://")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("LOCALSTACK_HOST", host_port)  # what users set for a non-default LocalStack port
    session = localstack_client.session.Session(region_name="us-east-1")
    s3 = session.client("s3")
    bucket = fixture_cloud.output("BucketName")
    s3.put_object(Bucket=bucket, Key="via-localstack-client.txt", Body=b"hi")
    assert s3.get_object(Bucket=bucket, Key="via-localstack-client.txt")["Body"].read() == b"hi"
    lam = session.client("lambda")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert fixture_cloud.physical("InfoFunction") in names


def _cli(*args: str, cwd: Path = ROOT, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.localcloud.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_invoke_against_the_running_cloud_prints_result_to_stdout_and_logs_to_stderr(fixture_cloud, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"via": "make-invoke"}))
    r = _cli("invoke", "InfoFunction", "--event", str(event), "--state-dir", str(fixture_cloud.state_dir),
             "--stack-name", fixture_cloud.stack_name)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)  # stdout is exactly the JSON result
    assert result["event"] == {"via": "make-invoke"}
    assert "info called with" in r.stderr and "REPORT RequestId" in r.stderr


def test_invoke_exits_non_zero_on_function_error(fixture_cloud, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"n": 5, "fail_odd": True}))
    r = _cli("invoke", "SquareFunction", "--event", str(event), "--state-dir", str(fixture_cloud.state_dir),
             "--stack-name", fixture_cloud.stack_name)
    assert r.returncode == 1
    assert json.loads(r.stdout)["errorType"] == "OddNumberError"
    assert "5 is odd" in r.stderr


def test_invoke_standalone_starts_a_throwaway_cloud(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"n": 4}))
    r = _cli("invoke", "SquareFunction", "--event", str(event), "--template", str(FIXTURE_APP),
             "--state-dir", str(tmp_path / "state"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout) == {"n": 4, "square": 16}
    assert "REPORT RequestId" in r.stderr


def _pids_with(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return [p for p in pids if pid_alive(p)]


def _after_sleeper(marker: str) -> list[str]:
    return ["--after", f"{sys.executable} -c 'import time; time.sleep(600)' {marker}"]


def test_interrupt_stops_every_child_process(tmp_path):
    marker = f"after-child-{os.getpid()}-int"
    cloud = start_cloud(tmp_path, FIXTURE_APP, stack_name="shutdown", extra=_after_sleeper(marker))
    wait_for(lambda: _pids_with(marker), timeout=10, message="the --after child")
    lam = cloud.client("lambda")
    pids = []
    for logical in ("InfoFunction", "SquareFunction"):
        payload = {"n": 2} if logical == "SquareFunction" else {}
        lam.invoke(FunctionName=cloud.physical(logical), Payload=json.dumps(payload).encode())
    info = json.loads(lam.invoke(FunctionName=cloud.physical("InfoFunction"), Payload=b"{}")["Payload"].read())
    pids.append(info["pid"])
    assert pid_alive(info["pid"])
    assert stop_cloud(cloud, signal.SIGINT) == 0
    assert not (cloud.state_dir / "endpoints.json").exists()
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10, message="workers to exit")
    wait_for(lambda: not _pids_with(marker), timeout=10, message="the --after child to exit")


def test_kill_9_of_the_cloud_leaves_no_orphan_workers(tmp_path):
    marker = f"after-child-{os.getpid()}-kill"
    cloud = start_cloud(tmp_path, FIXTURE_APP, stack_name="killed", extra=_after_sleeper(marker))
    wait_for(lambda: _pids_with(marker), timeout=10, message="the --after child")
    lam = cloud.client("lambda")
    info = json.loads(lam.invoke(FunctionName=cloud.physical("InfoFunction"), Payload=b"{}")["Payload"].read())
    assert pid_alive(info["pid"])
    cloud.proc.kill()
    cloud.proc.wait(10)
    # PR_SET_PDEATHSIG takes the workers down with their parent, even on SIGKILL.
    wait_for(lambda: not pid_alive(info["pid"]), timeout=10, message="the orphan worker to die")
    wait_for(lambda: not _pids_with(marker), timeout=10, message="the orphan --after child to die")
    time.sleep(0.1)
