"""AWS's request size limits, enforced before a function is invoked or a body is held whole in memory.

- Lambda Invoke: 6 MB (6,291,456 bytes) for a synchronous payload, 256 KB (262,144 bytes) for
  ``InvocationType=Event`` (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html);
- API Gateway HTTP API: 10 MB per request
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html); the Lambda
  event built from it must still fit the 6 MB Invoke limit;
- S3: an object key is at most 1,024 bytes of UTF-8
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).

A body over its limit is drained (read and dropped, so the client, still sending, gets to read the
answer instead of a connection reset) but never kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .runtime.errors import LambdaServiceError

MB = 1024 * 1024
HTTP_API_MAX_BYTES = 10 * MB
S3_KEY_MAX_BYTES = 1024
# An over-limit body larger than this is not drained; the connection is closed instead.
DRAIN_MAX_BYTES = 256 * MB
_CHUNK = 64 * 1024


class RequestEntityTooLargeError(LambdaServiceError):
    """An Invoke payload over the limit of its invocation type (AWS: 413 RequestEntityTooLargeException)."""

    error_type = "RequestEntityTooLargeException"
    status = 413


@dataclass(frozen=True)
class InvokeLimit:
    max_bytes: int
    message: str  # AWS's wording, with {size} and {limit}

    def error(self, size: int) -> RequestEntityTooLargeError:
        return RequestEntityTooLargeError(self.message.format(size=size, limit=self.max_bytes))


SYNC_INVOKE = InvokeLimit(6 * MB, "Request must be smaller than {limit} bytes for the InvokeFunction operation")
# By invocation type; RequestResponse and DryRun get SYNC_INVOKE.
INVOKE_LIMITS: dict[str, InvokeLimit] = {
    "Event": InvokeLimit(256 * 1024,
                         "{size} byte payload is too large for the Event invocation type (limit {limit} bytes)"),
}


def invoke_limit(invocation_type: str | None) -> InvokeLimit:
    return INVOKE_LIMITS.get(invocation_type or "", SYNC_INVOKE)


def check_invoke_payload(invocation_type: str | None, size: int) -> None:
    """Raise RequestEntityTooLargeError, in AWS's words, for a payload over its invocation type's limit."""
    limit = invoke_limit(invocation_type)
    if size > limit.max_bytes:
        raise limit.error(size)


@dataclass(frozen=True)
class Body:
    """A request body read under a size limit."""

    data: bytes | None  # None: over the limit, drained and dropped
    size: int  # bytes declared (Content-Length) or, for a chunked body, counted
    complete: bool  # every byte was read: the connection is at the next request's start


def read_body(read: Callable[[int], bytes], length: int | None, limit: int, *,
              drain_max: int = DRAIN_MAX_BYTES) -> Body:
    """A body of ``length`` bytes (None: chunked, read to its end) if it is at most ``limit`` bytes.

    Never holds more than ``limit`` bytes of it; a body over the limit is drained up to ``drain_max``.
    """
    if length is not None and length <= limit:
        data = read(length) if length else b""
        return Body(data, length, len(data) == length)
    if length is not None and length > drain_max:
        return Body(None, length, False)
    cap = max(drain_max, limit + 1) if length is None else length
    kept: list[bytes] | None = [] if length is None else None  # a chunked body is kept until it is too big
    seen, ended = 0, False
    while seen < cap:
        chunk = read(min(_CHUNK, cap - seen))
        if not chunk:
            ended = True
            break
        seen += len(chunk)
        if kept is not None:
            kept.append(chunk)
            if seen > limit:
                kept = None
    if kept is not None:
        return Body(b"".join(kept), seen, True)
    if length is None:
        return Body(None, seen, ended)
    return Body(None, length, seen == length)


def s3_key_too_long(key: str) -> bool:
    return len(key.encode("utf-8")) > S3_KEY_MAX_BYTES
