"""AWS's request size limits on a running local cloud: HTTP API, Lambda Invoke and S3 keys."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

MB = 1024 * 1024
TOO_LARGE = {"message": "Request Entity Too Large"}


def _refused(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_http_api_answers_413_to_a_20_mb_body_and_no_worker_sees_it(fixture_cloud):
    api = fixture_cloud.api_url
    before = len(fixture_cloud.terminal())
    r = requests.post(f"{api}/echo", data=b"x" * (20 * MB), headers={"Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 413 and r.json() == TOO_LARGE
    # Under 10 MB, but base64 makes its Lambda event 6.7 MB: over the Invoke limit, so a 413 as well.
    r = requests.post(f"{api}/echo", data=b"\x00" * (5 * MB), headers={"Content-Type": "application/octet-stream"},
                      timeout=60)
    assert r.status_code == 413 and r.json() == TOO_LARGE
    r = requests.post(f"{api}/echo", json={"after": "the refusals"}, timeout=30)
    assert r.status_code == 201 and json.loads(r.json()["body"]) == {"after": "the refusals"}
    # The function printed "echo /echo" once: for the request that reached it, not for the refused ones.

    def logged_since() -> str | None:
        text = fixture_cloud.terminal()[before:]
        return text if "echo /echo" in text else None

    new = wait_for(logged_since, message="the echo function's log line")
    assert new.count("echo /echo") == 1, new[-3000:]
    assert "Runtime.OutOfMemory" not in new


def test_invoke_over_6_mb_is_refused_as_aws_does_and_2_mb_still_works(fixture_cloud):
    lam = fixture_cloud.client("lambda")
    name = fixture_cloud.physical("PlainFunction")
    answer = _refused(lambda: lam.invoke(FunctionName=name, Payload=json.dumps({"pad": "x" * (7 * MB)}).encode()))
    assert answer["Error"]["Code"] == "RequestEntityTooLargeException"
    assert answer["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 413
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"pad": "x" * (2 * MB)}).encode())
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    assert json.loads(resp["Payload"].read()) == {"hello": "world"}


def test_event_invoke_over_256_kb_is_refused_and_a_smaller_one_is_accepted(fixture_cloud):
    lam = fixture_cloud.client("lambda")
    name = fixture_cloud.physical("PlainFunction")
    payload = json.dumps({"pad": "x" * (300 * 1024)}).encode()
    answer = _refused(lambda: lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload))
    assert answer["Error"]["Code"] == "RequestEntityTooLargeException"
    assert answer["Error"]["Message"] == (
        f"{len(payload)} byte payload is too large for the Event invocation type (limit 262144 bytes)")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 413
    resp = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"pad": "x" * (200 * 1024)}).encode())
    assert resp["StatusCode"] == 202


def test_s3_refuses_a_1025_byte_key_and_keeps_a_1024_byte_one(fixture_cloud):
    s3 = fixture_cloud.client("s3")
    bucket = fixture_cloud.physical("UploadBucket")
    answer = _refused(lambda: s3.put_object(Bucket=bucket, Key="limits/" + "k" * 1018, Body=b"x"))
    assert answer["Error"]["Code"] == "KeyTooLongError" and answer["Error"]["Message"] == "Your key is too long"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    key = "limits/" + "k" * 1017
    s3.put_object(Bucket=bucket, Key=key, Body=b"fits")
    try:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"fits"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="limits/")["Contents"]] == [key]
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
