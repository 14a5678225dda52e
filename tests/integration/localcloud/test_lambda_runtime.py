"""The Lambda runtime through the Invoke API of a running local cloud."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def invoke(cloud, logical_id: str, event: dict, **kwargs) -> tuple[dict, dict]:
    resp = cloud.client("lambda").invoke(FunctionName=cloud.physical(logical_id), Payload=json.dumps(event).encode(),
                                         **kwargs)
    return resp, json.loads(resp["Payload"].read())


def test_cold_start_once_then_warm_reuse_of_the_same_worker(fixture_cloud):
    lam = fixture_cloud.client("lambda")
    name = fixture_cloud.physical("PlainFunction")
    timeout = lam.get_function_configuration(FunctionName=name)["Timeout"]
    # A configuration update retires warm workers (as on AWS), so the next call is a cold start.
    lam.update_function_configuration(FunctionName=name, Timeout=timeout + 1)
    try:
        calls = [lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail") for _ in range(3)]
        logs = [base64.b64decode(c["LogResult"]).decode() for c in calls]
        pids = [json.loads(c["Payload"].read()) for c in calls]
        assert all(p == {"hello": "world"} for p in pids)
        # The REPORT line of a cold start carries the init duration, as on AWS; warm ones do not.
        assert "Init Duration" in logs[0]
        assert "Init Duration" not in logs[1] and "Init Duration" not in logs[2]
    finally:
        lam.update_function_configuration(FunctionName=name, Timeout=timeout)
    _, a = invoke(fixture_cloud, "InfoFunction", {"n": 1})
    _, b = invoke(fixture_cloud, "InfoFunction", {"n": 2})
    assert a["pid"] == b["pid"] == b["cold_pid"]  # the same process, whose module state survived


def test_context_environment_and_layer_are_the_real_ones(fixture_cloud):
    _, body = invoke(fixture_cloud, "InfoFunction", {"hello": "there"})
    name = fixture_cloud.physical("InfoFunction")
    assert "InfoFunction" in name
    assert body["function_name"] == name
    assert body["function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert len(body["request_id"]) == 36
    assert 0 < body["remaining_ms"] <= 10_000
    assert body["memory_limit_in_mb"] == 256
    assert body["log_group"] == f"/aws/lambda/{name}"
    env = body["env"]
    assert env["GREETING"] == "hello"
    assert env["TABLE_NAME"] == fixture_cloud.output("TableName")
    assert env["AWS_ENDPOINT_URL"] == fixture_cloud.endpoint_url
    assert env["AWS_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] == body["cwd"]
    assert body["layer"] == 42  # imported from the layer's python/ folder
    assert body["event"] == {"hello": "there"}


def test_handler_exception_is_an_unhandled_function_error_with_aws_shape(fixture_cloud):
    resp, body = invoke(fixture_cloud, "SquareFunction", {"n": 3, "fail_odd": True})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "OddNumberError"
    assert body["errorMessage"] == "3 is odd"
    assert isinstance(body["stackTrace"], list)


def test_timeout_kills_the_worker_and_returns_the_aws_error(fixture_cloud):
    start = time.monotonic()
    resp, body = invoke(fixture_cloud, "SleepFunction", {"seconds": 30})
    elapsed = time.monotonic() - start
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert elapsed < 15  # cold start + 1 s timeout, not the 30 s sleep
    # The next call gets a fresh worker that works.
    resp, body = invoke(fixture_cloud, "SleepFunction", {"seconds": 0})
    assert body == {"slept": True}


def test_memory_overrun_is_a_runtime_error_not_a_hang(fixture_cloud):
    start = time.monotonic()
    resp, body = invoke(fixture_cloud, "HogFunction", {"mb": 400})
    assert time.monotonic() - start < 20
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert "128 MB" in body["errorMessage"]


def test_reserved_concurrency_throttles_synchronous_calls(fixture_cloud):
    invoke(fixture_cloud, "InfoFunction", {})  # warm
    results: list[object] = []

    def call() -> None:
        try:
            _, body = invoke(fixture_cloud, "InfoFunction", {"sleep": 2})
            results.append(body["pid"])
        except ClientError as err:
            results.append(err.response["Error"]["Code"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    throttled = [r for r in results if r == "TooManyRequestsException"]
    served = [r for r in results if isinstance(r, int)]
    assert len(served) == 2, results  # ReservedConcurrentExecutions: 2
    assert len(throttled) == 2, results


def test_event_invocation_returns_202_at_once(fixture_cloud):
    start = time.monotonic()
    resp = fixture_cloud.client("lambda").invoke(FunctionName=fixture_cloud.physical("SleepFunction"),
                                                 InvocationType="Event", Payload=b'{"seconds": 0.5}')
    assert resp["StatusCode"] == 202
    assert time.monotonic() - start < 1.0


def test_logs_reach_cloudwatch_and_the_terminal_prefixed_by_function(fixture_cloud):
    _, body = invoke(fixture_cloud, "InfoFunction", {"marker": "cw-check"})
    name = fixture_cloud.physical("InfoFunction")
    logs = fixture_cloud.client("logs")

    def found() -> bool:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}").get("events", [])
        text = "\n".join(e["message"] for e in events)
        return "cw-check" in text and f"REPORT RequestId: {body['request_id']}" in text and "stderr line" in text

    from tests.integration.conftest import wait_for

    wait_for(found, timeout=10, message="CloudWatch log lines")
    terminal = fixture_cloud.terminal()
    assert f"[{name}] " in terminal and "cw-check" in terminal


def test_configuration_update_recycles_warm_workers(fixture_cloud):
    lam = fixture_cloud.client("lambda")
    name = fixture_cloud.physical("InfoFunction")
    _, before = invoke(fixture_cloud, "InfoFunction", {})
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    try:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**env, "GREETING": "changed"}})
        _, after = invoke(fixture_cloud, "InfoFunction", {})
        assert after["env"]["GREETING"] == "changed"
        assert after["pid"] != before["pid"]
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})


def test_code_update_recycles_workers_and_runs_the_new_code(fixture_cloud):
    import io
    import zipfile
    from pathlib import Path

    lam = fixture_cloud.client("lambda")
    name = fixture_cloud.physical("PlainFunction")
    src = Path(__file__).resolve().parents[2] / "fixtures" / "app" / "src" / "app.py"

    def package(text: str) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", text)
        return buf.getvalue()

    original = src.read_text()
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == {"hello": "world"}
    lam.update_function_code(FunctionName=name, ZipFile=package(original.replace('"world"', '"new code"')))
    try:
        assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == {"hello": "new code"}
    finally:
        lam.update_function_code(FunctionName=name, ZipFile=package(original))
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == {"hello": "world"}
