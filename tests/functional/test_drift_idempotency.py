"""DriftFunction checks each S3 object version once, however often its event arrives (moto in-process).

S3 delivers notifications at least once and Lambda's async queue may repeat an event: a duplicate
must be skipped and audited, while Lambda's retry of a delivery that failed must still be checked.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from selfheal import datagen
from selfheal.config import Settings
from selfheal.context import Context
from selfheal.flows.keys import REFERENCE_KEY
from selfheal.flows.monitor import check_delivery
from selfheal.idempotency import SEEN_PARTITION, DeliveryLedger, ObjectVersion
from selfheal.pending import PendingBatches
from selfheal.telemetry import Telemetry
from tests.functional.conftest import STATE_TABLE, FakeClock
from tests.functional.lambdacontext import FakeLambdaContext

DATA, MODELS = "data-bucket", "model-bucket"
DRIFT_APP = Path(__file__).resolve().parents[2] / "functions" / "drift" / "app.py"


@pytest.fixture
def emitted() -> list[str]:
    return []


@pytest.fixture
def ctx(ddb: Any, emitted: list[str]) -> Iterator[Context]:
    s3 = boto3.client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=DATA, VersioningConfiguration={"Status": "Enabled"})  # as template.yaml
    s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))
    sfn = boto3.client("stepfunctions")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = sfn.create_state_machine(name="self-healing", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    settings = Settings(data_bucket=DATA, model_bucket=MODELS, state_table=STATE_TABLE, state_machine_arn=arn,
                        cooldown_hours=24)
    yield Context(settings=settings, s3=s3, dynamodb=ddb, clock=FakeClock(tick=timedelta(seconds=1)),
                  stepfunctions=sfn, telemetry=Telemetry(write=emitted.append))


def s3_record(bucket: str, key: str, **obj: str) -> dict[str, Any]:
    """One record of an S3 ObjectCreated event, the object fields as S3 sends them."""
    return {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1, **obj}}}


def upload(ctx: Context, name: str, frame: Any) -> dict[str, Any]:
    """Put a batch under incoming/ and return the event record S3 would deliver for it."""
    key = f"incoming/{name}"
    put = ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(frame))
    return s3_record(DATA, key, versionId=put["VersionId"], eTag=put["ETag"].strip('"'), sequencer="0062E99A88DC407460")


def deliver(ctx: Context, record: dict[str, Any], request_id: str = "req-1", lease_seconds: float = 300) -> dict:
    return check_delivery(ctx, ObjectVersion.from_s3_record(record), owner=request_id, lease_seconds=lease_seconds)


def drift_checks(emitted: list[str]) -> int:
    return sum(1 for doc in map(json.loads, emitted) if "DriftChecks" in doc)


def actions(ctx: Context) -> list[str]:
    return [item["action"] for item in ctx.audit.list(limit=100, newest_first=False)]


def executions(ctx: Context) -> list[dict]:
    return ctx.stepfunctions.list_executions(stateMachineArn=ctx.settings.state_machine_arn)["executions"]


def test_the_same_event_delivered_twice_is_checked_once_and_the_duplicate_audited(ctx, emitted):
    record = upload(ctx, "drifted.csv", datagen.generate(1500, seed=3, drift=1.0))
    first = deliver(ctx, record, request_id="req-1")
    second = deliver(ctx, record, request_id="req-2")  # S3 sent the notification again

    assert first["decision"] == "retrain_started"
    assert second["decision"] == "duplicate" and second["reason"] == "duplicate_delivery"
    assert drift_checks(emitted) == 1 and len(executions(ctx)) == 1
    # Checked twice, the copy would have been deferred behind the lock and retrained on again.
    assert PendingBatches(ctx.dynamodb, STATE_TABLE).list() == []
    trail = actions(ctx)
    assert [trail.count(a) for a in ("drift_detected", "retrain_started", "duplicate_delivery")] == [1, 1, 1]
    assert trail[-1] == "duplicate_delivery"
    (audited,) = ctx.audit.list(action="duplicate_delivery", limit=5)
    version = record["s3"]["object"]["versionId"]
    assert audited["reason"].startswith(f"duplicate delivery of s3://{DATA}/incoming/drifted.csv version {version}: "
                                        "already checked at 2024-05-01T12:00:")
    assert audited["reason"].endswith("(decision retrain_started)")
    assert audited["details"]["owner"] == "req-1" and audited["details"]["version_source"] == "versionId"


def test_a_new_version_of_the_same_key_is_checked_again(ctx, emitted):
    first = upload(ctx, "batch.csv", datagen.generate(800, seed=4))
    second = upload(ctx, "batch.csv", datagen.generate(800, seed=5))
    assert deliver(ctx, first)["decision"] == "no_action"
    assert deliver(ctx, second)["decision"] == "no_action"
    assert drift_checks(emitted) == 2 and "duplicate_delivery" not in actions(ctx)


def test_without_a_version_id_the_sequencer_identifies_the_write(ctx, emitted):
    key = "incoming/unversioned.csv"
    ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(datagen.generate(800, seed=4)))
    record = s3_record(DATA, key, eTag="abc", sequencer="0055AED6DCD90281E5")
    rewrite = s3_record(DATA, key, eTag="abc", sequencer="0055AED6DCD90281E6")  # same bytes, a later write
    assert [deliver(ctx, r)["decision"] for r in (record, record, rewrite)] == ["no_action", "duplicate", "no_action"]
    assert drift_checks(emitted) == 2
    (audited,) = ctx.audit.list(action="duplicate_delivery", limit=5)
    assert f"s3://{DATA}/{key} sequencer 0055AED6DCD90281E5: already checked" in audited["reason"]


def test_an_event_with_no_version_sequencer_or_etag_is_always_checked(ctx, emitted):
    key = "incoming/bare.csv"
    ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(datagen.generate(800, seed=4)))
    record = s3_record(DATA, key)
    assert [deliver(ctx, record)["decision"] for _ in range(2)] == ["no_action", "no_action"]
    assert drift_checks(emitted) == 2


class FailingReportWrites:
    """An S3 client whose next ``failures`` PutObjects under reports/ fail, as S3 throttling would."""

    def __init__(self, s3: Any, failures: int = 1) -> None:
        self._s3 = s3
        self.failures = failures

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"].startswith("reports/") and self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                              "PutObject")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


@pytest.mark.parametrize("retry_request_id", ["req-1", "req-other"])
def test_the_retry_of_a_delivery_that_failed_midway_is_checked_not_skipped(ctx, emitted, retry_request_id):
    record = upload(ctx, "batch.csv", datagen.generate(800, seed=4))
    real_s3 = ctx.s3
    ctx.s3 = FailingReportWrites(real_s3)
    with pytest.raises(ClientError, match="SlowDown"):
        deliver(ctx, record, request_id="req-1")  # the drift was computed, then writing its report failed
    assert drift_checks(emitted) == 1
    # Lambda retries the event (same request id); a manual re-invocation has another one.
    out = deliver(ctx, record, request_id=retry_request_id)
    assert out["decision"] == "no_action"
    assert drift_checks(emitted) == 2 and "duplicate_delivery" not in actions(ctx)
    assert deliver(ctx, record, request_id="req-late")["decision"] == "duplicate"  # now it was checked


def test_a_delivery_killed_mid_check_is_taken_over_by_its_retry_but_not_by_a_concurrent_copy(ctx, emitted):
    record = upload(ctx, "batch.csv", datagen.generate(800, seed=4))
    obj = ObjectVersion.from_s3_record(record)
    # req-1 claimed the version, then its process died (timeout, out of memory): no release ran.
    DeliveryLedger(ctx.dynamodb, STATE_TABLE, clock=ctx.clock).claim(obj, owner="req-1", lease_seconds=300)

    copy = deliver(ctx, record, request_id="req-2")  # a duplicate notification while req-1 "runs"
    assert copy["decision"] == "duplicate"
    assert "being checked since 2024-05-01T12:00:01.000000Z by request req-1" in copy["message"]
    retry = deliver(ctx, record, request_id="req-1")  # Lambda's retry of req-1's event
    assert retry["decision"] == "no_action" and drift_checks(emitted) == 1


def test_a_claim_whose_lease_ended_is_taken_over_by_any_delivery(ctx, emitted):
    record = upload(ctx, "batch.csv", datagen.generate(800, seed=4))
    obj = ObjectVersion.from_s3_record(record)
    DeliveryLedger(ctx.dynamodb, STATE_TABLE, clock=ctx.clock).claim(obj, owner="req-1", lease_seconds=300)
    ctx.clock.advance(seconds=300)  # req-1's invocation has certainly ended
    assert deliver(ctx, record, request_id="req-2")["decision"] == "no_action"
    assert drift_checks(emitted) == 1


def test_seen_items_expire_through_the_tables_ttl_attribute(ctx):
    record = upload(ctx, "batch.csv", datagen.generate(800, seed=4))
    deliver(ctx, record)
    (item,) = ctx.dynamodb.query(TableName=STATE_TABLE, KeyConditionExpression="pk = :p",
                                 ExpressionAttributeValues={":p": {"S": SEEN_PARTITION}})["Items"]
    assert item["state"]["S"] == "checked" and item["decision"]["S"] == "no_action"
    checked = ctx.clock.now.timestamp()  # the clock moved once more after the check completed, at most
    assert checked + 7 * 86400 - 2 <= int(item["purge_at_epoch"]["N"]) <= checked + 7 * 86400 + 1


def test_a_very_long_key_is_still_claimed(ctx, emitted):
    key = "incoming/" + "k" * 1000 + ".csv"
    put = ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(datagen.generate(800, seed=4)))
    record = s3_record(DATA, key, versionId=put["VersionId"])
    assert [deliver(ctx, record)["decision"] for _ in range(2)] == ["no_action", "duplicate"]


# ---- through the handler -------------------------------------------------------------------------------


@pytest.fixture
def drift_app(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Any:
    """functions/drift/app.py imported fresh (its cold start builds the context from the environment)."""
    s = ctx.settings
    for name, value in {"DATA_BUCKET": s.data_bucket, "MODEL_BUCKET": s.model_bucket, "STATE_TABLE": s.state_table,
                        "STATE_MACHINE_ARN": s.state_machine_arn, "COOLDOWN_HOURS": "24"}.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("drift_app_under_test", DRIFT_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_handler_skips_the_second_delivery_of_one_s3_event(ctx, drift_app):
    record = upload(ctx, "drifted batch.csv", datagen.generate(1500, seed=3, drift=1.0))
    record["s3"]["object"]["key"] = "incoming/drifted+batch.csv"  # S3 URL-encodes keys like a form value
    event = {"Records": [record]}
    first = drift_app.handler(event, FakeLambdaContext("req-1"))
    again = drift_app.handler(event, FakeLambdaContext("req-2"))
    assert [r["decision"] for r in first["results"]] == ["retrain_started"]
    assert [r["decision"] for r in again["results"]] == ["duplicate"]
    assert "s3://data-bucket/incoming/drifted batch.csv version" in again["results"][0]["message"]
    assert len(executions(ctx)) == 1
