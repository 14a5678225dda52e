"""Sample events in the shapes AWS sends, like ``sam local generate-event``.

Like SAM's samples they are deterministic: a fixed time, and ids derived from the arguments, so
`make events` regenerating the committed files leaves git with nothing to commit.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from .gateway import build_event, compile_route

KINDS = ("s3-put", "http-api", "schedule")
SAMPLE_TIME = "2026-01-01T12:00:00"  # UTC


def _sample_id(*parts: str) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.sha256("\0".join(parts).encode()).digest()[:16], version=4)


def s3_put(bucket: str, key: str, size: int = 1024, etag: str = "0123456789abcdef0123456789abcdef") -> dict[str, Any]:
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": f"{SAMPLE_TIME}.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": _sample_id(bucket, key).hex[:16].upper(),
                             "x-amz-id-2": "EXAMPLE123/abc"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, "size": size, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"},
        },
    }]}


def http_api(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    route = compile_route("abcdef1234", f"{method.upper()} {path}", "")
    headers = [("Content-Type", "application/json"), ("User-Agent", "curl/8.0"), ("Host", "abcdef1234.execute-api.us-east-1.amazonaws.com")]
    event = build_event(route, {}, method=method.upper(), raw_path=path, raw_query="", headers=headers,
                        body=(body or "").encode(), source_ip="127.0.0.1",
                        host="abcdef1234.execute-api.us-east-1.amazonaws.com")
    context = event["requestContext"]
    context["requestId"] = _sample_id(method, path, body or "").hex[:16].upper()
    context["time"], context["timeEpoch"] = "01/Jan/2026:12:00:00 +0000", 1767268800000
    return event


def schedule(rule_arn: str = "arn:aws:events:us-east-1:123456789012:rule/ExampleRule") -> dict[str, Any]:
    return {"version": "0", "id": str(_sample_id(rule_arn)), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": f"{SAMPLE_TIME}Z",
            "region": "us-east-1", "resources": [rule_arn], "detail": {}}


def generate(kind: str, *, bucket: str = "example-bucket", key: str = "incoming/batch.csv", method: str = "GET",
             path: str = "/", body: str | None = None) -> dict[str, Any]:
    table = {
        "s3-put": lambda: s3_put(bucket, key),
        "http-api": lambda: http_api(method, path, body),
        "schedule": schedule,
    }
    return table[kind]()
