"""The console without a token, without a cloud, and with 500 executions and 100 model versions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, free_port, wait_for
from tests.integration.console.conftest import Console

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, float, dict]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        body = json.loads(resp.read())
        return resp.status, time.perf_counter() - t0, body


def test_mutating_actions_need_the_token(browser, console: Console) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{console.url}/#/models")  # no ?token=: a read-only session
    page.wait_for_selector("#auth-state[data-authorized=false]")
    before = console.production()["version"]
    page.click("#rollback")
    page.click("#modal-ok")
    page.wait_for_selector("#toast.error")
    assert "token" in page.locator("#toast").inner_text()
    assert console.production()["version"] == before
    req = urllib.request.Request(f"{console.url}/api/executions", data=b'{"input": "{}"}', method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 403
    # Pasting the token unlocks the session (as the link would).
    page.fill("#auth input[type=password]", console.token)
    page.click("#auth button")
    page.wait_for_selector("#auth-state[data-authorized=true]")
    context.close()


def test_cloud_down_is_said_plainly(browser, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    endpoints = tmp_path / "endpoints.json"
    endpoints.write_text(json.dumps({"endpoint_url": dead, "region": "us-east-1", "stack_name": "selfheal",
                                     "stack": {"outputs": {}, "resources": {}}}))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "console", "--endpoints", str(endpoints), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (tmp_path / "console-token").exists(), 20, message="console token")
        page = browser.new_page()
        for route in ("executions", "models", "functions"):
            page.goto(f"http://127.0.0.1:{port}/#/{route}")
            banner = page.locator("#banner")
            banner.wait_for(state="visible", timeout=15_000)
            assert dead in banner.inner_text() and "not reachable" in banner.inner_text()
            assert "Traceback" not in page.content()
        page.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert b"Traceback" not in proc.stderr.read()


def test_lists_stay_fast_with_500_executions_and_100_versions(console: Console) -> None:
    sfn, s3 = console.cloud.client("stepfunctions"), console.cloud.client("s3")
    machine = sfn.create_state_machine(
        name="console-load", roleArn="arn:aws:iam::123456789012:role/console-load",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    for i in range(500):
        sfn.start_execution(stateMachineArn=machine, name=f"load-{i:03d}", input='{"trigger": "load"}')
    bucket = console.cloud.output("ModelBucketName")
    for n in range(1, 101):
        v = f"v{n:04d}"
        s3.put_object(Bucket=bucket, Key=f"models/load-model/{v}/manifest.json", Body=json.dumps({
            "version": v, "created_at": "2026-01-01T00:00:00Z", "data_fingerprint": f"{n:016x}",
            "metrics": {"r2": 0.8 + n / 1000, "rmse": 0.5 - n / 1000, "mae": 0.3, "mape": 0.2}}).encode())
    base = f"{console.url}/api"
    status, first, body = _get(f"{base}/executions?state_machine={machine}&limit=25")
    assert status == 200 and len(body["items"]) == 25 and body["next"]
    _, warm, _ = _get(f"{base}/executions?state_machine={machine}&limit=25&page={body['next']}")
    status, models_first, models = _get(f"{base}/models?model=load-model")
    assert len(models["versions"]) == 100
    _, models_warm, _ = _get(f"{base}/models?model=load-model")
    print(f"executions page: {first:.3f}s first, {warm:.3f}s next; models: {models_first:.3f}s first, "
          f"{models_warm:.3f}s cached")
    assert max(first, warm, models_warm) < 1.0
    assert models_first < 2.0  # 100 manifests read once, in parallel; cached after that


def test_redrive_restarts_a_failed_execution_under_the_same_arn(console: Console) -> None:
    sfn = console.cloud.client("stepfunctions")
    machine = console.cloud.output("StateMachineArn")
    # An input without batches: FixData fails, the execution ends FAILED after its clean-up.
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"trigger": "manual"}))["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "FAILED", 60, message="a failed execution")
    req = urllib.request.Request(f"{console.url}/api/execution/redrive", data=json.dumps({"arn": arn}).encode(),
                                 method="POST", headers={"Content-Type": "application/json",
                                                         "X-Console-Token": console.token})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200 and json.loads(resp.read())["redrive_date"]
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, message="the redriven run")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert [e["type"] for e in events].count("ExecutionRedriven") == 1
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
