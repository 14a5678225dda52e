"""Prediction capture: the record format, its place on S3 (the one owner of both), and the writer.

Every answered prediction becomes one record; records reach the data bucket as gzip JSON Lines::

    capture/dt=2026-12-03/hour=09/20261203T091502Z-<writer id>-<sequence>.jsonl.gz

partitioned by the UTC hour the object was written (Hive style, so Athena or a Glue crawler reads
it as is). Each line is a ``CaptureRecord``. The writer side (``CaptureBuffer``, which the predict
function flushes inside its invocations) and the reader side (the monitor) both go through this
module.

**Why a buffer flushed inside invocations.** One PutObject per prediction would add an S3 round
trip to every answer; a background thread cannot do the writing, because Lambda freezes an
execution environment between invocations, and the environment gets no shutdown signal unless an
extension is registered. So records wait in the environment's memory, and a request that finds a
flush due (``CaptureMaxRecords`` records buffered, or the oldest ``CaptureMaxAgeSeconds`` old,
checked on every request after adding its own records) writes them all, in one PutObject, before
its invocation ends. Under Mangum the flush runs as the response's background task: after the body
is ready, before the handler returns (under uvicorn, after the answer is sent).

**What can be lost (the bound).** A record is lost only when its execution environment ends
before the environment's next successful flush: reclaimed after idling (on AWS when Lambda
decides; locally after 10 minutes idle), retired by a configuration or code update (a deploy, a
recovery recycle), crashed, timed out, out of memory, or killed (``kill -9`` of a local worker).
Because a flush is due as soon as either threshold is reached, and it is checked after every
request's records are added, an invocation that ends normally leaves at most
``CaptureMaxRecords - 1`` records behind, all answered less than ``CaptureMaxAgeSeconds`` before
that invocation. Hence, while S3 accepts the writes:

    an environment that ends loses at most ``CaptureMaxRecords - 1`` answered predictions, all
    answered within ``CaptureMaxAgeSeconds`` before its last completed invocation; every answer
    older than that, or followed by ``CaptureMaxRecords - 1`` more in the same environment, is on
    S3. An environment dying in the middle of an invocation also loses that invocation's records,
    whose caller got an error instead of an answer (if it dies after that invocation's flush was
    written, S3 holds records whose caller got an error).

The age is checked only when a request arrives, so the wall-clock time records wait is not
bounded: an environment that stops receiving requests keeps its last records until it is invoked
again or reclaimed. ``CaptureMaxAgeSeconds=0`` writes at every request (nothing answered is ever
left behind; one PutObject per request). The bound is per environment: N environments that end
together lose at most N x (``CaptureMaxRecords - 1``). Lambda runs one request at a time per
environment; under uvicorn (``make serve``), requests answered while a flush is in flight wait for
the next one, and stopping the server loses what is buffered.

While S3 refuses the writes, a failed flush keeps its records and is retried after another
``CaptureMaxRecords`` records or ``CaptureMaxAgeSeconds``, whichever comes first (so an outage
costs one failed PutObject per that many records, not one per request). At most
``KEEP_FACTOR * CaptureMaxRecords`` records are kept; older ones are dropped and counted
(``CaptureDropped``), and an environment that ends during the outage loses up to that many. A
PutObject that fails after S3 stored the object (a lost answer) is retried under a new key: the
monitor may then read those records twice.

A sampled-out prediction (``CaptureSamplingRate``) gets its ``prediction_id`` but no record.
Nothing on this path logs features: a failure is logged once per failed flush, with its reason.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypedDict, TypeGuard

from botocore.exceptions import BotoCoreError, ClientError

from selfheal.telemetry import Telemetry

logger = logging.getLogger(__name__)

CAPTURE_PREFIX = "capture/"
# Sent by RecoverFunction's health check and smoke test (selfheal.flows.recover): its fixed example
# record is not traffic, so such requests get ids but are never captured or monitored.
HEALTH_CHECK_HEADER = "X-Selfheal-Health-Check"
KEEP_FACTOR = 10  # while S3 refuses the flushes, at most this many times CaptureMaxRecords are kept


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


_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # json.dumps would build one per record


def encode(records: Iterable[CaptureRecord]) -> bytes:
    lines = "".join(_JSON.encode(r) + "\n" for r in records)
    return gzip.compress(lines.encode(), compresslevel=5)


def decode(body: bytes) -> Iterator[CaptureRecord]:
    """Records of one capture object; a line that is not a well-formed record is skipped (never a crash)."""
    for line in gzip.decompress(body).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if _well_formed(record):
            yield record


def _well_formed(record: Any) -> TypeGuard[CaptureRecord]:
    return (isinstance(record, dict) and isinstance(record.get("prediction_id"), str)
            and isinstance(record.get("features"), dict) and isinstance(record.get("model_version"), str)
            and isinstance(record.get("prediction"), int | float) and not isinstance(record.get("prediction"), bool))


def put_records(s3: Any, bucket: str, key: str, records: list[CaptureRecord], *,
                encoder: Callable[[list[CaptureRecord]], bytes] | None = None) -> None:
    body = (encoder or encode)(records)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")


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


# ---- the writer: a buffer per execution environment -------------------------------------------


def new_ids(n: int) -> list[str]:
    """``n`` random UUID4 strings; one ``os.urandom`` call for all (three times ``uuid.uuid4``'s speed)."""
    digits = os.urandom(16 * n).hex()
    ids = []
    for i in range(0, 32 * n, 32):
        h = digits[i:i + 32]  # version nibble 4, variant bits 10 (RFC 9562), 122 random bits
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


class Captured(NamedTuple):
    ids: list[str]  # one per record of the request, in request order (sampled out or not)
    recorded: int  # how many of them the buffer kept (sampling)
    flush_due: bool  # call ``CaptureBuffer.flush`` before the invocation ends


class CaptureBuffer:
    """Answered predictions of one execution environment, written to S3 in one PutObject per flush.

    ``capture`` adds a request's records and says whether a flush is due; ``flush`` writes
    everything buffered if one still is. The caller runs ``flush`` before its invocation ends
    (see the module docstring for why, and for what an environment can lose). A failed flush never
    raises: its records are kept for the next try, up to ``max_kept`` (default
    ``KEEP_FACTOR * max_records``), the oldest dropped beyond it.

    ``clock`` (monotonic seconds) decides ages; ``now`` (a UTC datetime) stamps records and object
    keys; ``random`` samples; ``writer_id`` names this environment's objects (random by default).
    """

    def __init__(self, s3: Any, bucket: str, *, max_records: int = 1000, max_age_seconds: float = 60.0,
                 sampling_rate: float = 1.0, max_kept: int | None = None, telemetry: Telemetry | None = None,
                 writer_id: str | None = None, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 random: Callable[[], float] = random.random) -> None:
        if max_records < 1 or max_age_seconds < 0 or not 0 <= sampling_rate <= 1:
            raise ValueError("max_records >= 1, max_age_seconds >= 0 and 0 <= sampling_rate <= 1")
        self.s3 = s3
        self.bucket = bucket
        self.max_records = max_records
        self.max_age_seconds = max_age_seconds
        self.sampling_rate = sampling_rate
        self.max_kept = max(max_kept or KEEP_FACTOR * max_records, max_records)
        self.writer_id = writer_id or uuid.uuid4().hex[:12]
        self._telemetry = telemetry or Telemetry()
        self._clock = clock
        self._now = now
        self._random = random
        self._lock = threading.Lock()  # uvicorn runs flushes in a thread pool; Lambda one request at a time
        self._entries: deque[tuple[float, CaptureRecord]] = deque()  # (clock time captured, record)
        self._sequence = 0
        self._flushing = False
        self._failed_at: float | None = None  # clock time of the last failed flush, while S3 refuses
        self._added_since_failure = 0
        self.dropped = 0  # since this environment started

    @property
    def enabled(self) -> bool:
        return self.sampling_rate > 0

    def __len__(self) -> int:
        return len(self._entries)

    def capture(self, model_version: str, features: Sequence[dict[str, Any]], predictions: Sequence[float],
                latency_ms: float) -> Captured:
        """Ids for a request's records, the sampled ones buffered; whether a flush is now due."""
        ids = new_ids(len(predictions))
        rate = self.sampling_rate
        if rate <= 0:
            return Captured(ids, 0, False)
        keep: Sequence[int] = range(len(ids)) if rate >= 1 else [i for i in range(len(ids)) if self._random() < rate]
        if not all(map(math.isfinite, predictions)):  # never answered: JSON has no NaN, the answer is a 500
            keep = [i for i in keep if math.isfinite(predictions[i])]
        ts = self._now().astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        latency = round(latency_ms, 3)
        dropped = 0
        with self._lock:
            at = self._clock()
            self._entries.extend((at, CaptureRecord(prediction_id=ids[i], ts=ts, model_version=model_version,
                                                    features=features[i], prediction=predictions[i],
                                                    latency_ms=latency)) for i in keep)
            if self._failed_at is not None:
                self._added_since_failure += len(keep)
                dropped = self._trim()
            due = self._due(at)
        if dropped:
            self._telemetry.capture_dropped(dropped)
        return Captured(ids, len(keep), due)

    def _due(self, now: float) -> bool:
        if not self._entries or self._flushing:
            return False
        if self._failed_at is None:
            return len(self._entries) >= self.max_records or now - self._entries[0][0] >= self.max_age_seconds
        # S3 refused the last flush: try again after as many records, or as long, as a flush waits for.
        return (self._added_since_failure >= self.max_records
                or now - self._failed_at >= self.max_age_seconds)

    def _trim(self) -> int:
        over = len(self._entries) - self.max_kept
        for _ in range(over):
            self._entries.popleft()
        if over > 0:
            self.dropped += over
        return max(over, 0)

    def flush(self) -> bool | None:
        """Write everything buffered if a flush is due: True written, False failed (kept), None not due."""
        with self._lock:
            if not self._due(self._clock()):
                return None
            batch = list(self._entries)
            self._entries.clear()
            self._flushing = True
            self._sequence += 1
            key = object_key(self._now(), self.writer_id, self._sequence)
        try:
            put_records(self.s3, self.bucket, key, [record for _, record in batch], encoder=_encode_fast)
        except (BotoCoreError, ClientError) as err:
            with self._lock:
                self._entries.extendleft(reversed(batch))
                self._failed_at = self._clock()
                self._added_since_failure = 0
                self._flushing = False
                dropped = self._trim()
                kept = len(self._entries)
            # The reason only (an S3 error code and message): never the records.
            logger.warning("capture: writing %d records to s3://%s/%s failed (%s); %d kept for the next try, "
                           "%d dropped since start", len(batch), self.bucket, key, _reason(err), kept, self.dropped)
            self._telemetry.capture_flush(ok=False)
            if dropped:
                self._telemetry.capture_dropped(dropped)
            return False
        with self._lock:
            self._failed_at = None
            self._flushing = False
        self._telemetry.capture_flush(ok=True)
        return True


def _encode_fast(records: list[CaptureRecord]) -> bytes:
    """``encode``'s JSON Lines (a test holds the two equal), for the writer: a flush runs inside a request.

    pydantic-core (Rust) serialises about 3.5 times as fast as the json module, and gzip level 1
    twice as fast as 5 (the object is some 20% larger). Imported here: the predict function ships
    pydantic with FastAPI; readers of this module (the monitor) do not need it.
    """
    from pydantic_core import to_json

    return gzip.compress(b"".join([to_json(r) + b"\n" for r in records]), compresslevel=1)


def _reason(err: BotoCoreError | ClientError) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(err).__name__}: {err}"
