"""AWS's request size limits, in-process: the HTTP API gateway with a stub Lambda, and S3 keys in moto."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.models import S3Backend

from infra.localcloud.gateway import HttpApiGateway, compile_route
from infra.localcloud.motoseam import s3 as seam_s3
from infra.localcloud.runtime.worker import InvokeResult

ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"
MB = 1024 * 1024
TOO_LARGE = {"message": "Request Entity Too Large"}


class StubLambda:
    """Answers each invocation with the size of the event it got, and remembers them."""

    def __init__(self) -> None:
        self.event_sizes: list[int] = []

    def __call__(self, arn: str, event: bytes) -> InvokeResult:
        self.event_sizes.append(len(event))
        answer = {"statusCode": 200, "body": json.dumps({"event_bytes": len(event)})}
        return InvokeResult("rid", json.dumps(answer).encode(), None, "", 1.0, None, 0, 0)


@pytest.fixture
def gateway() -> Iterator[tuple[str, StubLambda]]:
    stub = StubLambda()
    gw = HttpApiGateway("127.0.0.1", 0, stub)
    gw.routes.replace([compile_route("api", "POST /echo", ARN)])
    gw.start()
    try:
        yield f"http://127.0.0.1:{gw.port}", stub
    finally:
        gw.stop()


def test_a_body_over_10_mb_is_a_413_and_the_function_is_not_invoked(gateway):
    url, stub = gateway
    r = requests.post(f"{url}/echo", data=b"x" * (20 * MB), headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json() == TOO_LARGE
    assert r.headers["Connection"] == "close"
    assert stub.event_sizes == []
    r = requests.post(f"{url}/echo", json={"k": "v"}, timeout=30)
    assert r.status_code == 200 and len(stub.event_sizes) == 1


def test_a_chunked_body_over_10_mb_is_a_413_too(gateway):
    url, stub = gateway

    def chunks() -> Iterator[bytes]:
        for _ in range(11):
            yield b"y" * MB

    r = requests.post(f"{url}/echo", data=chunks(), headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 413 and r.json() == TOO_LARGE
    assert stub.event_sizes == []
    r = requests.post(f"{url}/echo", data=iter([b'{"k":', b' "v"}']), headers={"Content-Type": "application/json"},
                      timeout=30)
    assert r.status_code == 200 and stub.event_sizes  # a small chunked body is passed on whole


def test_a_body_whose_lambda_event_passes_6_mb_is_a_413_before_any_invoke(gateway):
    url, stub = gateway
    # 5 MB of binary is base64-encoded in the event: 6.7 MB, over Lambda's 6 MB Invoke limit.
    r = requests.post(f"{url}/echo", data=b"\x00" * (5 * MB), headers={"Content-Type": "application/octet-stream"},
                      timeout=30)
    assert r.status_code == 413 and r.json() == TOO_LARGE
    assert stub.event_sizes == []
    # The same 5 MB as text is sent as it is, and fits.
    r = requests.post(f"{url}/echo", data=b"a" * (5 * MB), headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 200 and 5 * MB < stub.event_sizes[0] < 6 * MB


def test_expect_100_continue_over_the_limit_is_refused_before_the_body_is_sent(gateway):
    url, stub = gateway
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 20971520\r\nExpect: 100-continue\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(json.dumps(TOO_LARGE, separators=(",", ":")).encode())
    assert stub.event_sizes == []


@pytest.fixture
def s3(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # The local cloud installs these wrappers at start-up (motoseam.install_fixes); here only for this test.
    for name, argument in seam_s3.KEY_WRITES.items():
        monkeypatch.setattr(S3Backend, name, seam_s3.refusing_long_keys(getattr(S3Backend, name), argument))
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="keys")
        yield client


def _refused(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_s3_refuses_keys_over_1024_bytes_as_aws_does(s3):
    answer = _refused(lambda: s3.put_object(Bucket="keys", Key="k" * 1025, Body=b"x"))
    assert answer["Error"] == {"Code": "KeyTooLongError", "Message": "Your key is too long"}
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _refused(lambda: s3.put_object(Bucket="keys", Key="é" * 513, Body=b"x"))["Error"]["Code"] == "KeyTooLongError"
    s3.put_object(Bucket="keys", Key="k" * 1024, Body=b"fits")
    s3.put_object(Bucket="keys", Key="é" * 512, Body=b"fits")  # 1,024 bytes of UTF-8
    assert s3.get_object(Bucket="keys", Key="k" * 1024)["Body"].read() == b"fits"
    assert s3.list_objects_v2(Bucket="keys")["KeyCount"] == 2


def test_s3_copy_and_multipart_upload_refuse_a_long_destination_key(s3):
    s3.put_object(Bucket="keys", Key="src", Body=b"x")
    copy = _refused(lambda: s3.copy_object(Bucket="keys", Key="c" * 1025, CopySource={"Bucket": "keys", "Key": "src"}))
    assert copy["Error"]["Code"] == "KeyTooLongError"
    upload = _refused(lambda: s3.create_multipart_upload(Bucket="keys", Key="m" * 1025))
    assert upload["Error"]["Code"] == "KeyTooLongError"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="keys")["Contents"]] == ["src"]
    assert s3.list_multipart_uploads(Bucket="keys").get("Uploads", []) == []
