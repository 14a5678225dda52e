"""Sample events in the shapes AWS sends, like ``sam local generate-event``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from .gateway import build_event, compile_route

KINDS = ("s3-put", "http-api", "schedule")


def s3_put(bucket: str, key: str, size: int = 1024, etag: str = "0123456789abcdef0123456789abcdef") -> dict[str, Any]:
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "EXAMPLE123/abc"},
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
    return build_event(route, {}, method=method.upper(), raw_path=path, raw_query="", headers=headers,
                       body=(body or "").encode(), source_ip="127.0.0.1",
                       host="abcdef1234.execute-api.us-east-1.amazonaws.com")


def schedule(rule_arn: str = "arn:aws:events:us-east-1:123456789012:rule/ExampleRule") -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "us-east-1", "resources": [rule_arn], "detail": {}}


def generate(kind: str, *, bucket: str = "example-bucket", key: str = "incoming/batch.csv", method: str = "GET",
             path: str = "/", body: str | None = None) -> dict[str, Any]:
    table = {
        "s3-put": lambda: s3_put(bucket, key),
        "http-api": lambda: http_api(method, path, body),
        "schedule": schedule,
    }
    return table[kind]()
