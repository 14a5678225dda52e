"""Prediction capture's writer: size and age flushes, S3 failures, sampling, and the loss bound.

A fake S3 and an injected clock; no IO. The bound under test is the one capture.py's docstring
states: an environment that ends loses at most ``max_records - 1`` answered records, all answered
within ``max_age_seconds`` before its last completed invocation (while S3 accepts the writes).
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from infra.localcloud.emf import parse_line
from selfheal import capture
from selfheal.capture import CaptureBuffer, new_ids

START = datetime(2026, 12, 3, 9, 59, 58, tzinfo=UTC)
SENTINEL = 7.123456789


class FakeS3:
    """put_object into a dict; ``fail`` makes it raise what an unreachable or missing bucket raises."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.calls = 0
        self.fail: Exception | None = None

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict[str, Any]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        assert Bucket == "data" and ContentType == "application/x-ndjson"
        self.objects[Key] = Body
        return {}

    def records(self) -> list[dict[str, Any]]:
        return [r for key in sorted(self.objects, key=_sequence) for r in capture.decode(self.objects[key])]


def _sequence(key: str) -> int:
    return int(key.rsplit("-", 1)[1].removesuffix(".jsonl.gz"))


NO_BUCKET = ClientError({"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}},
                        "PutObject")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)


class Lines(list[str]):
    def metrics(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self:
            for point in parse_line(line, now_ms=int(time.time() * 1000)):
                totals[point.name] = totals.get(point.name, 0) + sum(point.values)
        return totals


@pytest.fixture(autouse=True)
def emf_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)


def make(s3: FakeS3, clock: Clock, lines: list[str] | None = None, **kwargs: Any) -> CaptureBuffer:
    from selfheal.telemetry import Telemetry

    kwargs.setdefault("max_records", 5)
    kwargs.setdefault("max_age_seconds", 60.0)
    return CaptureBuffer(s3, "data", clock=clock, now=clock.now, writer_id="w1",
                         telemetry=Telemetry(write=(lines if lines is not None else []).append), **kwargs)


def features(i: int) -> dict[str, float]:
    return {"MedInc": SENTINEL, "HouseAge": float(i)}


def answer(buf: CaptureBuffer, n: int = 1, start: int = 0) -> list[str]:
    """What the predict route does for one request of ``n`` records: capture, then flush if due."""
    got = buf.capture("v0001", [features(start + i) for i in range(n)], [1.5 + start + i for i in range(n)],
                      latency_ms=2.0)
    if got.flush_due:
        buf.flush()
    return got.ids


# ---- ids, format and layout ---------------------------------------------------------------------


def test_ids_are_distinct_uuid4s():
    ids = new_ids(2000)
    assert len(set(ids)) == 2000
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {4} and {u.variant for u in parsed} == {uuid.RFC_4122}
    assert [str(u) for u in parsed] == ids  # canonical lowercase form
    assert new_ids(0) == []


def test_a_size_flush_writes_one_gzip_json_lines_object_in_the_hour_partition():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock)
    ids = [i for n in range(4) for i in answer(buf, start=n)]
    assert s3.calls == 0 and len(buf) == 4
    clock.t = 1.5
    ids += answer(buf, start=4)  # the fifth record makes the flush due
    assert s3.calls == 1 and len(buf) == 0
    (key,) = s3.objects
    assert key == "capture/dt=2026-12-03/hour=09/20261203T095959Z-w1-000001.jsonl.gz"
    assert re.fullmatch(r"capture/dt=\d{4}-\d\d-\d\d/hour=\d\d/\d{8}T\d{6}Z-w1-\d{6}\.jsonl\.gz", key)
    import gzip

    lines = gzip.decompress(s3.objects[key]).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["prediction_id"] for r in records] == ids
    assert records[0] == {"prediction_id": ids[0], "ts": "2026-12-03T09:59:58.000Z", "model_version": "v0001",
                          "features": {"MedInc": SENTINEL, "HouseAge": 0.0}, "prediction": 1.5, "latency_ms": 2.0}
    assert records[4]["ts"] == "2026-12-03T09:59:59.500Z"


def test_the_writer_encodes_the_same_json_lines_as_encode():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=4)
    odd = [{"MedInc": 1e-7, "HouseAge": 1e16, "Ocean": "near bay \u00e9\"},{"}, {"MedInc": -0.0, "HouseAge": 0.1},
           {"MedInc": 123456789.123, "HouseAge": 5e-324}, {"MedInc": 1.7976931348623157e308, "HouseAge": 3.0}]
    buf.capture("v\"0001", odd, [0.30000000000000004, -1.5, 2.0, 1e100], latency_ms=0.1234567)
    buf.flush()
    (body,) = s3.objects.values()
    written = list(capture.decode(body))
    assert written == list(capture.decode(capture.encode(written)))
    assert [r["features"] for r in written] == odd and written[0]["model_version"] == 'v"0001'
    assert [r["prediction"] for r in written] == [0.30000000000000004, -1.5, 2.0, 1e100]


def test_a_non_finite_prediction_is_never_captured():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=1)
    got = buf.capture("v0001", [features(0), features(1)], [float("nan"), 2.0], latency_ms=1.0)
    assert got.recorded == 1 and len(got.ids) == 2
    buf.flush()
    assert [r["prediction"] for r in s3.records()] == [2.0]


def test_an_age_flush_comes_at_the_first_request_once_the_oldest_is_max_age_old():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=1000, max_age_seconds=60)
    first = answer(buf)
    clock.t = 59.9
    second = answer(buf, start=1)
    assert s3.calls == 0  # 59.9 s: not yet
    clock.t = 3600.0  # an idle hour: nothing can run in a frozen environment, nothing is written
    assert s3.calls == 0
    third = answer(buf, start=2)  # the next request finds the oldest over age and writes all three
    assert s3.calls == 1 and [r["prediction_id"] for r in s3.records()] == first + second + third
    assert next(iter(s3.objects)).startswith("capture/dt=2026-12-03/hour=10/")  # the hour it was written


def test_max_age_zero_writes_at_every_request():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_age_seconds=0)
    for n in range(3):
        answer(buf, start=n)
    assert s3.calls == 3 and len(buf) == 0 and len(s3.records()) == 3


def test_a_batch_larger_than_max_records_is_written_whole():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=5)
    ids = answer(buf, n=120)
    assert s3.calls == 1 and [r["prediction_id"] for r in s3.records()] == ids


# ---- the loss bound -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_an_environment_that_ends_loses_at_most_max_records_minus_one_recent_records(seed):
    rng = random.Random(seed)
    max_records, max_age = rng.choice([1, 2, 5, 50]), rng.choice([0.0, 1.0, 30.0, 60.0])
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=max_records, max_age_seconds=max_age)
    answered: dict[str, float] = {}  # id -> when it was answered
    last_invocation = 0.0
    for request in range(rng.randint(1, 400)):
        clock.t += rng.choice([0.0, 0.01, 0.5, 5.0, 90.0, 700.0])  # bursts, pauses and long idles
        last_invocation = clock.t
        for i in answer(buf, n=rng.choice([1, 1, 1, 3, 12]), start=request):
            answered[i] = clock.t
        # After every completed invocation the invariant holds, so the environment may end here.
        assert len(buf) <= max_records - 1
    # The environment ends (reclaimed, crashed, killed): what is not on S3 is lost.
    written = {r["prediction_id"] for r in s3.records()}
    lost = set(answered) - written
    assert written <= set(answered)
    assert len(lost) <= max_records - 1
    assert all(last_invocation - answered[i] < max_age for i in lost)
    # Nothing older than the lost ones is missing: they are the newest answers (answered is in order).
    assert set(list(answered)[len(answered) - len(lost):]) == lost


# ---- S3 refusing the writes ---------------------------------------------------------------------


def test_a_failed_flush_keeps_the_records_logs_the_reason_once_and_never_raises(caplog):
    s3, clock, lines = FakeS3(), Clock(), Lines()
    buf = make(s3, clock, lines)
    s3.fail = NO_BUCKET
    with caplog.at_level(logging.WARNING, logger="selfheal.capture"):
        ids = [i for n in range(5) for i in answer(buf, start=n)]
    assert s3.calls == 1 and len(buf) == 5
    (message,) = [r.getMessage() for r in caplog.records]
    assert "NoSuchBucket" in message and "5 kept" in message
    assert str(SENTINEL) not in caplog.text and "MedInc" not in caplog.text  # never the inputs
    assert lines.metrics() == {"CaptureFlushFailures": 1}

    # Retried after another max_records records (not at every request): one failed PutObject per 5.
    for n in range(4):
        ids += answer(buf, start=10 + n)
    assert s3.calls == 1
    ids += answer(buf, start=20)
    assert s3.calls == 2 and len(caplog.records) == 2

    s3.fail = None  # S3 is back: the next try writes everything kept, in order, in one object
    for n in range(5):
        ids += answer(buf, start=30 + n)
    assert s3.calls == 3 and len(buf) == 0
    assert [r["prediction_id"] for r in s3.records()] == ids
    assert lines.metrics() == {"CaptureFlushFailures": 2, "CaptureFlushes": 1}


def test_a_failed_flush_is_also_retried_after_max_age():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=5, max_age_seconds=60)
    s3.fail = EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
    for n in range(5):
        answer(buf, start=n)
    assert s3.calls == 1
    clock.t = 59.0
    answer(buf, start=5)
    assert s3.calls == 1
    clock.t = 61.0
    answer(buf, start=6)
    assert s3.calls == 2 and len(buf) == 7


def test_during_an_outage_at_most_ten_times_max_records_are_kept_and_the_rest_counted_dropped(caplog):
    s3, clock, lines = FakeS3(), Clock(), Lines()
    buf = make(s3, clock, lines, max_records=5)
    s3.fail = NO_BUCKET
    ids = [i for n in range(63) for i in answer(buf, start=n)]
    assert len(buf) == 50 and buf.dropped == 13
    assert lines.metrics()["CaptureDropped"] == 13
    s3.fail = None
    clock.t = 120.0
    last = answer(buf, start=99)  # one more (a 14th is dropped to keep 50), then the age retry writes them
    assert s3.calls > 0 and len(buf) == 0 and buf.dropped == 14
    # The newest 50, in order; the 14 oldest were dropped.
    assert [r["prediction_id"] for r in s3.records()] == ids[14:] + last
    assert str(SENTINEL) not in caplog.text


# ---- sampling -----------------------------------------------------------------------------------


def test_sampled_out_predictions_get_ids_but_no_records():
    s3, clock = FakeS3(), Clock()
    draws = iter([0.1, 0.9, 0.4, 0.6, 0.2] * 10)
    buf = make(s3, clock, max_records=3, sampling_rate=0.5, random=lambda: next(draws))
    got = buf.capture("v0001", [features(i) for i in range(5)], [float(i) for i in range(5)], latency_ms=1.0)
    assert len(got.ids) == 5 and got.recorded == 3 and got.flush_due
    buf.flush()
    assert [r["prediction_id"] for r in s3.records()] == [got.ids[0], got.ids[2], got.ids[4]]


def test_sampling_rate_zero_records_nothing_and_never_writes():
    s3, clock = FakeS3(), Clock()
    buf = make(s3, clock, max_records=1, max_age_seconds=0, sampling_rate=0.0)
    ids = answer(buf, n=10)
    assert len(set(ids)) == 10 and len(buf) == 0 and s3.calls == 0 and not buf.enabled
    assert buf.flush() is None


def test_settings_are_range_checked():
    with pytest.raises(ValueError):
        CaptureBuffer(FakeS3(), "data", sampling_rate=1.5)
    with pytest.raises(ValueError):
        CaptureBuffer(FakeS3(), "data", max_records=0)
    with pytest.raises(ValueError):
        CaptureBuffer(FakeS3(), "data", max_age_seconds=-1)


def test_a_capture_object_with_malformed_lines_yields_only_its_well_formed_records():
    good = {"prediction_id": "a", "ts": "2026-12-03T09:00:00.000Z", "model_version": "v0001",
            "features": {"MedInc": 3.0}, "prediction": 1.5, "latency_ms": 1.0}
    lines = [json.dumps(good), "not json", json.dumps([1, 2]), json.dumps({**good, "features": [1, 2]}),
             json.dumps({**good, "prediction": "high"}), json.dumps({**good, "prediction": True}),
             json.dumps({k: v for k, v in good.items() if k != "model_version"})]
    assert list(capture.decode(gzip.compress("\n".join(lines).encode()))) == [good]
