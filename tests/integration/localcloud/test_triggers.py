"""Every invocation path reaches the runtime: S3 notifications, Step Functions, schedules, HTTP API."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def _objects(s3, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_s3_put_returns_before_the_slow_triggered_function_finishes(fixture_cloud):
    s3 = fixture_cloud.client("s3")
    bucket = fixture_cloud.output("BucketName")
    start = time.monotonic()
    s3.put_object(Bucket=bucket, Key="incoming/slow.csv", Body=b"a,b\n1,2\n")
    put_seconds = time.monotonic() - start
    assert put_seconds < 1.5  # the function sleeps 2 s (UploadDelay=2)
    assert "processed/slow.csv" not in _objects(s3, bucket, "processed/")
    wait_for(lambda: "processed/slow.csv" in _objects(s3, bucket, "processed/"), timeout=30,
             message="the triggered function's output")


def test_s3_filter_ignores_keys_outside_the_prefix_and_suffix(fixture_cloud):
    s3 = fixture_cloud.client("s3")
    bucket = fixture_cloud.output("BucketName")
    s3.put_object(Bucket=bucket, Key="other/x.csv", Body=b"x")
    s3.put_object(Bucket=bucket, Key="incoming/x.txt", Body=b"x")
    time.sleep(1.5)
    processed = _objects(s3, bucket, "processed/")
    assert "processed/x.csv" not in processed and "processed/x.txt" not in processed


def test_failing_triggered_function_is_retried_twice_and_the_failure_is_logged(fixture_cloud):
    s3 = fixture_cloud.client("s3")
    bucket = fixture_cloud.output("BucketName")
    s3.put_object(Bucket=bucket, Key="incoming/fail-me.csv", Body=b"x")
    name = fixture_cloud.physical("UploadFunction")
    logs = fixture_cloud.client("logs")

    def attempts() -> int:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}").get("events", [])
        return sum(1 for e in events if "cannot process incoming/fail-me.csv" in e["message"] and "[ERROR]" in e["message"])

    wait_for(lambda: attempts() >= 3, timeout=30, message="three attempts")
    time.sleep(1.0)
    assert attempts() == 3  # the first try plus AWS's two retries
    wait_for(lambda: "FAILED after 3 attempt(s)" in fixture_cloud.terminal(), timeout=10,
             message="the final failure on the terminal")


def _run_execution(cloud, payload: dict) -> tuple[dict, list[dict]]:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.output("StateMachineArn"), input=json.dumps(payload))["executionArn"]
    desc = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=60, message="the execution to finish")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return desc, events


def test_state_machine_retry_map_choice_through_lambda_tasks(fixture_cloud):
    desc, events = _run_execution(fixture_cloud, {"numbers": [4, 2], "fail_odd": False, "key": "run-a"})
    assert desc["status"] == "SUCCEEDED"
    out = json.loads(desc["output"])
    assert out["flaky"] == {"attempts": 2}  # failed once with FlakyError, retried by the Retry block
    assert [s["square"] for s in out["squares"]] == [16, 4]
    assert out["size"] == "big"  # Choice on the first square
    types = [e["type"] for e in events]
    assert "LambdaFunctionFailed" in types  # the first Flaky attempt, function-ARN form
    failed = next(e for e in events if e["type"] == "LambdaFunctionFailed")
    assert failed["lambdaFunctionFailedEventDetails"]["error"] == "FlakyError"
    assert "MapStateStarted" in types and "TaskSucceeded" in types  # the lambda:invoke form inside Map
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert "Big" in entered and "Small" not in entered


def test_state_machine_catch_routes_a_domain_error_to_its_handler(fixture_cloud):
    desc, events = _run_execution(fixture_cloud, {"numbers": [3], "fail_odd": True, "key": "run-b"})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "OddNumberError"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    assert "Rejected" in entered and "Big?" not in entered
    task_failed = [e for e in events if e["type"] == "TaskFailed"]
    assert task_failed and task_failed[0]["taskFailedEventDetails"]["error"] == "OddNumberError"


def test_task_states_see_lambda_and_state_timeouts_as_aws_names_them(fixture_cloud):
    sfn = fixture_cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=fixture_cloud.output("TimeoutStateMachineArn"), input="{}")["executionArn"]
    desc = wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                    timeout=60, message="the timeout execution")
    assert desc["status"] == "SUCCEEDED", desc
    out = json.loads(desc["output"])
    assert out["first"]["Error"] == "Sandbox.Timedout"  # the function's own Timeout (1 s)
    assert out["second"]["Error"] == "States.Timeout"  # the Task's TimeoutSeconds (1 s) on a 4 s call


def test_rate_schedule_invokes_its_target(fixture_cloud):
    ddb = fixture_cloud.client("dynamodb")
    table = fixture_cloud.output("TableName")

    def ticks() -> int:
        items = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "tick"}})["Items"]
        assert all(i["source"]["S"] == "aws.events" for i in items)
        return len(items)

    # rate(1 minute) with --schedule-speedup 30 fires every 2 s.
    wait_for(lambda: ticks() >= 2, timeout=30, message="two scheduled ticks")


# ---- HTTP API ----------------------------------------------------------------------------------

def test_http_api_builds_a_payload_v2_event_and_maps_the_response(fixture_cloud):
    r = requests.post(f"{fixture_cloud.api_url}/echo?a=1&a=2&b=x", json={"k": "v"},
                      headers={"X-Custom": "Yes"}, cookies={"c1": "v1"}, timeout=30)
    assert r.status_code == 201
    assert r.headers["x-fixture"] == "yes"
    assert r.headers["set-cookie"].startswith("session=abc")
    assert r.headers.get("apigw-requestid")
    ev = r.json()
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "POST /echo"
    assert ev["rawPath"] == "/echo"
    assert ev["rawQueryString"] == "a=1&a=2&b=x"
    assert ev["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert ev["headers"]["x-custom"] == "Yes"  # header names lowercased
    assert all(k == k.lower() for k in ev["headers"])
    assert ev["cookies"] == ["c1=v1"]
    assert json.loads(ev["body"]) == {"k": "v"} and ev["isBase64Encoded"] is False
    assert ev["method"] == "POST"


def test_http_api_path_parameters_and_binary_bodies(fixture_cloud):
    r = requests.get(f"{fixture_cloud.api_url}/items/42", timeout=30)
    assert r.status_code == 201 and r.json()["pathParameters"] == {"id": "42"}
    r = requests.post(f"{fixture_cloud.api_url}/echo", data=b"\x00\x01\xff",
                      headers={"Content-Type": "application/octet-stream"}, timeout=30)
    ev = r.json()
    assert ev["isBase64Encoded"] is True and ev["body"] == "AAH/"


def test_http_api_errors_match_api_gateway(fixture_cloud):
    r = requests.get(f"{fixture_cloud.api_url}/nope", timeout=30)
    assert r.status_code == 404 and r.json() == {"message": "Not Found"}
    r = requests.delete(f"{fixture_cloud.api_url}/echo", timeout=30)
    assert r.status_code == 404
    r = requests.get(f"{fixture_cloud.api_url}/boom", timeout=30)
    assert r.status_code == 500 and r.json() == {"message": "Internal Server Error"}
    r = requests.get(f"{fixture_cloud.api_url}/plain", timeout=30)
    assert r.status_code == 200 and r.json() == {"hello": "world"}
    assert r.headers["content-type"] == "application/json"
