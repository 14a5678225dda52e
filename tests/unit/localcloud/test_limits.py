"""AWS's request size limits: bounded body reads, Invoke payload checks and S3 key lengths, without IO."""

from __future__ import annotations

import io

import pytest

from infra.localcloud.apiserver import _body_limit
from infra.localcloud.limits import (
    INVOKE_LIMITS,
    SYNC_INVOKE,
    RequestEntityTooLargeError,
    check_invoke_payload,
    read_body,
    s3_key_too_long,
)


class CountingReader:
    """A body stream that remembers the largest read it was asked for."""

    def __init__(self, data: bytes):
        self._stream = io.BytesIO(data)
        self.largest = 0
        self.consumed = 0

    def read(self, n: int) -> bytes:
        self.largest = max(self.largest, n)
        chunk = self._stream.read(n)
        self.consumed += len(chunk)
        return chunk


def test_a_body_within_the_limit_is_read_whole():
    body = read_body(CountingReader(b"x" * 100).read, 100, 100)
    assert body.data == b"x" * 100 and body.size == 100 and body.complete
    assert read_body(CountingReader(b"").read, 0, 100).data == b""


def test_a_declared_body_over_the_limit_is_drained_in_small_reads_and_not_kept():
    reader = CountingReader(b"x" * 1_000_000 + b"NEXT REQUEST")
    body = read_body(reader.read, 1_000_000, 1000)
    assert body.data is None and body.size == 1_000_000 and body.complete
    assert reader.consumed == 1_000_000  # exactly the body: the next request on the connection is untouched
    assert reader.largest <= 64 * 1024


def test_a_declared_body_past_the_drain_cap_is_not_read_at_all():
    reader = CountingReader(b"x" * 10_000)
    body = read_body(reader.read, 10_000, 100, drain_max=1000)
    assert body.data is None and body.size == 10_000 and not body.complete
    assert reader.consumed == 0


def test_a_chunked_body_is_kept_up_to_the_limit_then_drained_and_counted():
    assert read_body(CountingReader(b"y" * 500).read, None, 500) == read_body(
        CountingReader(b"y" * 500).read, 500, 500)
    reader = CountingReader(b"y" * 300_000)
    body = read_body(reader.read, None, 1000)
    assert body.data is None and body.size == 300_000 and body.complete
    cut = read_body(CountingReader(b"y" * 300_000).read, None, 1000, drain_max=200_000)
    assert cut.data is None and not cut.complete


def test_synchronous_invoke_limit_is_6_mb_with_awss_message():
    assert SYNC_INVOKE.max_bytes == 6_291_456
    check_invoke_payload("RequestResponse", 6_291_456)
    check_invoke_payload(None, 6_291_456)
    with pytest.raises(RequestEntityTooLargeError) as err:
        check_invoke_payload("RequestResponse", 6_291_457)
    assert err.value.status == 413 and err.value.error_type == "RequestEntityTooLargeException"
    assert str(err.value) == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    with pytest.raises(RequestEntityTooLargeError):
        check_invoke_payload("DryRun", 7_000_000)


def test_event_invoke_limit_is_256_kb_with_awss_message():
    assert INVOKE_LIMITS["Event"].max_bytes == 262_144
    check_invoke_payload("Event", 262_144)
    with pytest.raises(RequestEntityTooLargeError) as err:
        check_invoke_payload("Event", 300_000)
    assert str(err.value) == "300000 byte payload is too large for the Event invocation type (limit 262144 bytes)"


def test_only_lambda_invoke_requests_get_a_payload_limit():
    path = "/2015-03-31/functions/my-fn/invocations"
    assert _body_limit("POST", path, None) is SYNC_INVOKE
    assert _body_limit("POST", path + "?Qualifier=live", "Event") is INVOKE_LIMITS["Event"]
    assert _body_limit("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations",
                       "RequestResponse") is SYNC_INVOKE
    assert _body_limit("PUT", "/bucket/key", None) is None  # S3 uploads have their own, larger limits
    assert _body_limit("GET", path, None) is None


def test_s3_keys_are_limited_to_1024_bytes_of_utf8_not_characters():
    assert not s3_key_too_long("k" * 1024)
    assert s3_key_too_long("k" * 1025)
    assert not s3_key_too_long("é" * 512)  # two bytes each
    assert s3_key_too_long("é" * 513)
