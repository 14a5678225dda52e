"""Prediction capture: the record format and its place on S3 (the one owner of both).

Every answered prediction becomes one record; records reach the data bucket as gzip JSON Lines::

    capture/dt=2026-12-03/hour=09/20261203T091502Z-<writer id>-<sequence>.jsonl.gz

partitioned by the UTC hour the object was written (Hive style, so Athena or a Glue crawler reads
it as is). Each line is a ``CaptureRecord``. The writer side (the buffer that the predict function
flushes inside its invocations) and the reader side (the monitor) both go through this module.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

CAPTURE_PREFIX = "capture/"


class CaptureRecord(TypedDict):
    prediction_id: str  # UUID4, also returned to the caller (body and X-Prediction-Id)
    ts: str  # ISO 8601 UTC time the prediction was answered
    model_version: str  # the registry version that answered ("v0003")
    features: dict[str, Any]  # the validated input record, as the model saw it
    prediction: float  # in the target's own units
    latency_ms: float  # time to validate and predict the request this record was part of


def partition_prefix(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{CAPTURE_PREFIX}dt={moment:%Y-%m-%d}/hour={moment:%H}/"


def object_key(moment: datetime, writer_id: str, sequence: int) -> str:
    """Unique per writer (an execution environment) and sequence number; sorts by time within an hour."""
    return f"{partition_prefix(moment)}{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}-{writer_id}-{sequence:06d}.jsonl.gz"


def encode(records: Iterable[CaptureRecord]) -> bytes:
    lines = "".join(json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n" for r in records)
    return gzip.compress(lines.encode(), compresslevel=5)


def decode(body: bytes) -> Iterator[CaptureRecord]:
    """Records of one capture object; a line that is not a JSON object is skipped (never a crash)."""
    for line in gzip.decompress(body).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("prediction_id"), str):
            yield record  # type: ignore[misc]


def put_records(s3: Any, bucket: str, key: str, records: list[CaptureRecord]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=encode(records), ContentType="application/x-ndjson")


def hour_prefixes(start: datetime, end: datetime) -> list[str]:
    """The hourly partitions that can hold objects written in [start, end]."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    while hour <= end:
        out.append(partition_prefix(hour))
        hour += timedelta(hours=1)
    return out


def list_objects(s3: Any, bucket: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Capture objects whose LastModified is in (start, end], oldest first.

    The partition is the writer's clock, LastModified is S3's: one hour earlier is listed too, so an
    object written just before an hour boundary and stored just after it is not missed.
    """
    found: list[dict[str, Any]] = []
    for prefix in hour_prefixes(start - timedelta(hours=1), end):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [o for o in page.get("Contents", []) if start < o["LastModified"] <= end]
    return sorted(found, key=lambda o: (o["LastModified"], o["Key"]))


def read_records(s3: Any, bucket: str, keys: Iterable[str]) -> Iterator[CaptureRecord]:
    for key in keys:
        yield from decode(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
