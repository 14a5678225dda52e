"""Prediction capture through the running local cloud: what reaches S3, what a dead environment
loses, S3 refusing the writes, and inputs kept out of CloudWatch Logs.

One cloud for the module, deployed from the product template.yaml with ``CaptureMaxRecords=5`` and
a one-hour ``CaptureMaxAgeSeconds`` (so flushes come from size only, unless a test says otherwise)
and the recover schedule pushed out to a day (its health checks are predictions too). Each test
starts on fresh execution environments: it changes PredictFunction's configuration, publishes it
and moves ``live`` to it, as a recycle does.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from tests.integration.conftest import ROOT, start_cloud, stop_cloud, wait_for
from tests.integration.story import Story

pytestmark = pytest.mark.integration

MAX_RECORDS = 5
BOOTSTRAP = f"{ROOT}/.venv/bin/python {ROOT}/scripts/ops.py bootstrap"
KEY = re.compile(r"capture/dt=(\d{4}-\d\d-\d\d)/hour=(\d\d)/(\d{8}T\d{6}Z)-([0-9a-f]+)-(\d{6})\.jsonl\.gz")
SENTINELS = (7.123456789, 5.987654321)  # MedInc and AveRooms values no log line may ever show


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("capture")
    cloud = start_cloud(tmp, ROOT / "template.yaml", stack_name="selfheal", extra=[
        "--parameter-overrides",
        f"CaptureMaxRecords={MAX_RECORDS} CaptureMaxAgeSeconds=3600 RecoverSchedule='rate(1 day)'",
        "--after", BOOTSTRAP], env={"BOOTSTRAP_ROWS": "6000"})
    s = Story(cloud)
    try:
        wait_for(lambda: s.alias() == "v0001", timeout=300, message="bootstrap to promote v0001")
        yield s
    finally:
        stop_cloud(cloud)


@pytest.fixture(autouse=True)
def no_faults_left(story):
    yield
    requests.delete(f"{story.cloud.endpoint_url}/_localcloud/faults", timeout=10).raise_for_status()


# ---- helpers ------------------------------------------------------------------------------------


def publish(story: Story, **env: str) -> str:
    """PredictFunction's environment updated, published, and ``live`` moved to it: fresh environments."""
    lam, name = story.lam, story.cloud.physical("PredictFunction")
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    variables.update(env, TEST_GENERATION=uuid.uuid4().hex)  # always a change, so always new environments
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    lam.get_waiter("function_updated").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return version


@contextlib.contextmanager
def configured(story: Story, **env: str) -> Iterator[str]:
    name = story.cloud.physical("PredictFunction")
    before = story.lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    version = publish(story, **env)
    try:
        yield version
    finally:
        publish(story, **{k: before[k] for k in env})


def record(i: int, **values: float) -> dict[str, Any]:
    return {**SCHEMA.example_record(), "HouseAge": float(1 + i % 50), **values}


def answered_ids(responses: list[requests.Response]) -> list[str]:
    ids: list[str] = []
    for r in responses:
        assert r.status_code == 200, r.text
        body = r.json()
        if "prediction_ids" in body:
            assert len(body["prediction_ids"]) == body["count"] and "x-prediction-id" not in r.headers
            ids += body["prediction_ids"]
        else:
            assert r.headers["x-prediction-id"] == body["prediction_id"]
            ids.append(body["prediction_id"])
    return ids


def objects(story: Story, bucket: str | None = None) -> dict[str, bytes]:
    s3, bucket = story.s3, bucket or story.data_bucket
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="capture/")
            for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def lines_of(body: bytes) -> list[dict[str, Any]]:
    """Decoded by hand (gzip, then one JSON object per line): the format, not the library's reader."""
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def written_since(story: Story, before: dict[str, bytes], bucket: str | None = None) -> list[list[dict[str, Any]]]:
    """Capture objects written since ``before``, oldest first (by writer, then sequence), as records."""
    new = {k: v for k, v in objects(story, bucket).items() if k not in before}
    for key in new:
        assert KEY.fullmatch(key), key
    order = sorted(new, key=lambda k: (KEY.fullmatch(k).group(3), KEY.fullmatch(k).group(5)))  # type: ignore[union-attr]
    return [lines_of(new[k]) for k in order]


def worker_pids(story: Story, version: str) -> list[int]:
    """The processes of PredictFunction's execution environments for ``version`` (local workers)."""
    name = story.cloud.physical("PredictFunction")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = dict(item.partition(b"=")[::2] for item in f.read().split(b"\0") if item)
        except OSError:
            continue
        if (env.get(b"AWS_LAMBDA_FUNCTION_NAME") == name.encode()
                and env.get(b"AWS_LAMBDA_FUNCTION_VERSION") == version.encode()):
            found.append(int(entry))
    return found


def metric_sum(story: Story, name: str) -> float:
    cw = story.cloud.client("cloudwatch")
    now = datetime.now(UTC)
    points = cw.get_metric_statistics(Namespace="SelfHeal", MetricName=name,
                                      Dimensions=[{"Name": "service", "Value": "selfheal"}],
                                      StartTime=now - timedelta(hours=2), EndTime=now + timedelta(minutes=5),
                                      Period=60, Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def log_messages(story: Story) -> list[str]:
    logs = story.cloud.client("logs")
    group = f"/aws/lambda/{story.cloud.physical('PredictFunction')}"
    return [e["message"] for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            for e in page["events"]]


# ---- the tests ----------------------------------------------------------------------------------


def test_exactly_the_flushed_records_are_on_s3_as_gzip_json_lines_matching_the_answers(story):
    publish(story)
    before = objects(story)
    started = datetime.now(UTC)
    sent = [record(i) for i in range(14)]
    responses = [story.predict(r) for r in sent[:4]]  # 4 buffered
    responses.append(story.predict({"records": sent[4:7]}))  # 7: a flush of all 7
    assert len(written_since(story, before)) == 1
    responses += [story.predict(r) for r in sent[7:12]]  # 5 more: a flush of those 5
    responses += [story.predict(r) for r in sent[12:14]]  # 2 buffered, not written
    ids = answered_ids(responses)
    assert len(ids) == len(set(ids)) == 14 and all(uuid.UUID(i).version == 4 for i in ids)

    first, second = written_since(story, before)
    assert [r["prediction_id"] for r in first] == ids[:7]
    assert [r["prediction_id"] for r in second] == ids[7:12]
    predictions = [p for r in responses for p in (r.json().get("predictions") or [r.json()["prediction"]])]
    for got, want_features, want_prediction in zip(first + second, sent, predictions, strict=False):
        assert got["features"] == want_features
        assert got["prediction"] == want_prediction and got["model_version"] == "v0001"
        assert got["latency_ms"] > 0
        assert started - timedelta(seconds=5) <= datetime.fromisoformat(got["ts"]) <= datetime.now(UTC)
    keys = [k for k in objects(story) if k not in before]
    hours = {f"{t:%Y-%m-%d}/{t:%H}" for t in (started, datetime.now(UTC))}
    assert {"/".join(KEY.fullmatch(k).groups()[:2]) for k in keys} <= hours  # type: ignore[union-attr]
    assert len({KEY.fullmatch(k).group(4) for k in keys}) == 1  # one writer: one environment  # type: ignore[union-attr]


def test_an_environment_that_dies_loses_only_its_unflushed_records_within_the_bound(story):
    version = publish(story)
    before = objects(story)
    ids = answered_ids([story.predict(record(i)) for i in range(8)])  # a flush of 5; 3 buffered
    (flushed,) = written_since(story, before)
    assert [r["prediction_id"] for r in flushed] == ids[:5]

    # kill -9 of the idle environment, as a crash or a reclaim between invocations would end it.
    pids = worker_pids(story, version)
    assert pids, "the predict worker"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    # Reaped, so the local Lambda service knows: its idle watch notices a dead worker within 0.5 s.
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), message="the worker to be reaped")
    time.sleep(0.3)
    after_kill = answered_ids([story.predict(record(i)) for i in range(7)])  # a new environment: 5 flushed, 2 buffered

    # The platform kills the next environment in the middle of a request: that request fails.
    r = requests.post(f"{story.cloud.endpoint_url}/_localcloud/faults", timeout=10,
                      json={"function": "PredictFunction", "fault": "crash", "after_ms": 30_000, "count": 1})
    assert r.status_code == 200, r.text
    killed = story.predict(record(99))
    assert killed.status_code in (500, 502, 503) and "prediction_id" not in killed.text
    after_crash = answered_ids([story.predict(record(i)) for i in range(5)])  # a third environment: 5 flushed

    written = [r["prediction_id"] for batch in written_since(story, before) for r in batch]
    assert sorted(written) == sorted(ids[:5] + after_kill[:5] + after_crash)
    lost_by_kill, lost_by_crash = ids[5:], after_kill[5:]
    assert len(lost_by_kill) == 3 and len(lost_by_crash) == 2
    # The bound: never more than CaptureMaxRecords - 1 answered records per environment that ended.
    assert max(len(lost_by_kill), len(lost_by_crash)) <= MAX_RECORDS - 1
    wait_for(lambda: any("injected crash" in m or "Runtime.ExitError" in m for m in log_messages(story)),
             message="the crash in the function's log")


def test_an_age_flush_writes_at_the_first_request_after_max_age(story):
    with configured(story, CAPTURE_MAX_AGE_SECONDS="2"):
        before = objects(story)
        first = answered_ids([story.predict(record(1))])
        time.sleep(2.2)
        assert written_since(story, before) == []  # a frozen environment writes nothing on its own
        second = answered_ids([story.predict(record(2))])
        (batch,) = written_since(story, before)
        assert [r["prediction_id"] for r in batch] == first + second


def test_s3_refusing_the_writes_never_fails_a_prediction_and_shows_in_metrics(story):
    missing = f"selfheal-capture-outage-{uuid.uuid4().hex[:8]}"
    dropped_before, failures_before = metric_sum(story, "CaptureDropped"), metric_sum(story, "CaptureFlushFailures")
    medinc, averooms = SENTINELS
    with configured(story, DATA_BUCKET=missing):
        singles = [story.predict(record(i, MedInc=medinc)) for i in range(55)]
        batch = story.predict({"records": [record(i, AveRooms=averooms) for i in range(5)]})
        ids = answered_ids([*singles, batch])  # 60 answers, all 200
        # Tries at 5, 10, ..., 60 records: 12 failed PutObjects; 50 kept, the 10 oldest dropped.
        wait_for(lambda: metric_sum(story, "CaptureDropped") - dropped_before == 10, timeout=30,
                 message="CaptureDropped = 10")
        wait_for(lambda: metric_sum(story, "CaptureFlushFailures") - failures_before == 12, timeout=30,
                 message="CaptureFlushFailures = 12")
        failures = [m for m in log_messages(story) if "capture: writing" in m]
        assert len(failures) >= 12 and all("NoSuchBucket" in m for m in failures)

        story.s3.create_bucket(Bucket=missing)  # S3 answers again: the next try writes what was kept
        after = answered_ids([story.predict(record(i, MedInc=medinc)) for i in range(5)])
        # Until that try, the cap still held: 5 more of the oldest were dropped to keep 50.
        (recovered,) = written_since(story, {}, bucket=missing)
        assert [r["prediction_id"] for r in recovered] == ids[15:] + after
        assert {r["features"]["MedInc"] for r in recovered[:40]} == {medinc}  # positive control for the log test
        wait_for(lambda: metric_sum(story, "CaptureDropped") - dropped_before == 15, timeout=30,
                 message="CaptureDropped = 15")


def test_inputs_never_reach_cloudwatch_logs_or_the_terminal(story):
    medinc, averooms = SENTINELS

    def ends() -> int:
        return sum(m.startswith("END RequestId") for m in log_messages(story))

    ended = ends()
    answered_ids([story.predict(record(0, MedInc=medinc)),
                  story.predict({"records": [record(i, AveRooms=averooms) for i in range(MAX_RECORDS)]})])
    captured = [r for batch in written_since(story, {}) for r in batch]
    assert any(r["features"]["AveRooms"] == averooms for r in captured)  # they were captured...
    wait_for(lambda: ends() >= ended + 2, message="the function's log to catch up")
    messages = "\n".join(log_messages(story))
    for value in SENTINELS:  # ...and never logged, by the function or the cloud around it
        assert str(value) not in messages
        assert str(value) not in story.cloud.terminal()
