"""The drift trigger's decisions and the finish step, against moto in-process (no Lambda runtime).

The end-to-end story runs in tests/integration/pipeline; here each decision branch is checked on
its own and fast: no reference yet, drift, lock held, cooldown active, unlabelled batch, malformed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from selfheal import datagen
from selfheal.config import Settings
from selfheal.context import Context
from selfheal.contracts import FinishRequest
from selfheal.flows.keys import REFERENCE_KEY
from selfheal.flows.monitor import check_upload, drain_pending
from selfheal.flows.promote import finish
from selfheal.pending import PendingBatches
from selfheal.telemetry import Telemetry
from tests.functional.conftest import STATE_TABLE, FakeClock

DATA, MODELS = "data-bucket", "model-bucket"


@pytest.fixture
def emitted() -> list[str]:
    """The EMF lines the flows printed (telemetry), in order."""
    return []


@pytest.fixture
def ctx(ddb: Any, emitted: list[str]) -> Iterator[Context]:
    s3 = boto3.client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket)
    sfn = boto3.client("stepfunctions")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    arn = sfn.create_state_machine(name="self-healing", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    settings = Settings(data_bucket=DATA, model_bucket=MODELS, state_table=STATE_TABLE, state_machine_arn=arn,
                        cooldown_hours=24)
    yield Context(settings=settings, s3=s3, dynamodb=ddb, clock=FakeClock(tick=timedelta(seconds=1)), stepfunctions=sfn,
                  telemetry=Telemetry(write=emitted.append))


def _upload(ctx: Context, name: str, frame) -> str:
    key = f"incoming/{name}"
    ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(frame))
    return key


def _actions(ctx: Context) -> list[str]:
    return [item["action"] for item in ctx.audit.list(limit=100, newest_first=False)]


def _healing_actions(emitted: list[str]) -> list[str]:
    return [doc["action"] for doc in map(json.loads, emitted) if "HealingActions" in doc]


def _executions(ctx: Context) -> list[dict]:
    return ctx.stepfunctions.list_executions(stateMachineArn=ctx.settings.state_machine_arn)["executions"]


def _finish(ctx, execution_arn: str) -> dict:
    """The Finish state of an execution the drift check started (its input names the lock owner)."""
    execution_input = json.loads(ctx.stepfunctions.describe_execution(executionArn=execution_arn)["input"])
    return finish(ctx, FinishRequest.from_event({"outcome": "succeeded", "execution_arn": execution_arn,
                                                 "state": execution_input}))


def test_upload_before_any_reference_is_deferred_not_lost(ctx):
    key = _upload(ctx, "early.csv", datagen.generate(300, seed=1))
    assert check_upload(ctx, bucket=DATA, key=key)["decision"] == "deferred"
    assert [p["key"] for p in PendingBatches(ctx.dynamodb, STATE_TABLE).list()] == [key]
    assert _actions(ctx) == ["batch_deferred"]


def test_drift_starts_one_retraining_then_lock_then_cooldown_defer(ctx, emitted):
    ctx.s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))
    first = _upload(ctx, "drift-a.csv", datagen.generate(1500, seed=3, drift=1.0))
    out = check_upload(ctx, bucket=DATA, key=first)
    assert out["decision"] == "retrain_started"
    (execution,) = _executions(ctx)
    name = execution["executionArn"].rsplit(":", 1)[-1]
    assert json.loads(ctx.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "trigger": "drift", "batches": [{"bucket": DATA, "key": first}], "include_reference": True, "lock_owner": name}
    holder = ctx.lock.holder()
    assert holder is not None and holder["owner"] == name and holder["execution_arn"] == execution["executionArn"]
    # While that retraining runs, another drifted batch is deferred for the lock and joins later.
    second = _upload(ctx, "drift-b.csv", datagen.generate(1500, seed=4, drift=1.0))
    assert check_upload(ctx, bucket=DATA, key=second)["reason"] == "lock"
    assert _actions(ctx)[-1] == "retrain_skipped_lock"
    assert len(_executions(ctx)) == 1
    # The execution finishes: the lock is released and the outcome audited.
    done = _finish(ctx, execution["executionArn"])
    assert done["lock_released"] is True and ctx.lock.holder() is None
    # Within the cooldown, a third drifted batch is deferred and says so.
    third = _upload(ctx, "drift-c.csv", datagen.generate(1500, seed=5, drift=1.0))
    assert check_upload(ctx, bucket=DATA, key=third)["reason"] == "cooldown"
    assert "cooldown" in ctx.audit.list(action="retrain_skipped_cooldown", limit=1)[0]["reason"]
    assert {p["key"] for p in PendingBatches(ctx.dynamodb, STATE_TABLE).list()} == {second, third}
    # After the cooldown, the next retraining takes the deferred batches with it.
    ctx.clock.advance(hours=25)
    fourth = _upload(ctx, "drift-d.csv", datagen.generate(1500, seed=6, drift=1.0))
    out = check_upload(ctx, bucket=DATA, key=fourth)
    assert out["decision"] == "retrain_started"
    assert {b["key"] for b in out["batches"]} == {second, third, fourth}
    # Each decision was also a metric: four drift checks, and what healing did about them.
    assert _healing_actions(emitted) == ["retrain", "deferred_lock", "deferred_cooldown", "retrain"]
    assert [doc["DriftShare"][0] >= 0.5 for doc in map(json.loads, emitted) if "DriftShare" in doc] == [True] * 4


def _with_reference(ctx: Context) -> None:
    ctx.s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))


def test_a_lock_left_behind_by_an_ended_execution_is_reclaimed_and_audited(ctx):
    _with_reference(ctx)
    ctx.settings = dataclasses.replace(ctx.settings, cooldown_hours=0)
    first = check_upload(ctx, bucket=DATA, key=_upload(ctx, "a.csv", datagen.generate(1500, seed=3, drift=1.0)))
    # The execution ends without its clean-up (killed, or its cloud restarted): the lock stays.
    ctx.stepfunctions.stop_execution(executionArn=first["execution_arn"])
    assert ctx.lock.holder() is not None
    out = check_upload(ctx, bucket=DATA, key=_upload(ctx, "b.csv", datagen.generate(1500, seed=4, drift=1.0)))
    assert out["decision"] == "retrain_started"
    (reclaimed,) = ctx.audit.list(action="lock_reclaimed", limit=5)
    assert reclaimed["details"]["status"] == "ABORTED" and reclaimed["execution_arn"] == first["execution_arn"]


def test_a_lock_taken_for_an_execution_not_started_yet_is_respected_then_reclaimed(ctx):
    _with_reference(ctx)
    ctx.lock.acquire("drift-about-to-start", 1800)  # a DriftFunction between the lock and StartExecution
    key = _upload(ctx, "a.csv", datagen.generate(1500, seed=3, drift=1.0))
    assert check_upload(ctx, bucket=DATA, key=key)["reason"] == "lock"
    assert ctx.audit.list(action="lock_reclaimed", limit=5) == []
    ctx.clock.advance(minutes=5)  # it never started: it died in between
    out = check_upload(ctx, bucket=DATA, key=_upload(ctx, "b.csv", datagen.generate(1500, seed=4, drift=1.0)))
    assert out["decision"] == "retrain_started"
    assert ctx.audit.list(action="lock_reclaimed", limit=5)[0]["details"]["status"] == "NEVER_STARTED"


def test_the_drain_retrains_deferred_batches_once_the_lock_allows_without_repeating_audits(ctx):
    _with_reference(ctx)
    ctx.settings = dataclasses.replace(ctx.settings, cooldown_hours=0)
    assert drain_pending(ctx) == {"decision": "nothing_pending"}
    first = check_upload(ctx, bucket=DATA, key=_upload(ctx, "a.csv", datagen.generate(1500, seed=3, drift=1.0)))
    deferred = _upload(ctx, "b.csv", datagen.generate(1500, seed=4, drift=1.0))
    assert check_upload(ctx, bucket=DATA, key=deferred)["reason"] == "lock"
    audited = len(_actions(ctx))
    assert drain_pending(ctx)["decision"] == "waiting"  # the retraining still runs
    assert len(_actions(ctx)) == audited
    _finish(ctx, first["execution_arn"])
    out = drain_pending(ctx)
    assert out["decision"] == "retrain_started" and out["batches"] == [{"bucket": DATA, "key": deferred}]
    assert out["execution_arn"].rsplit(":", 1)[-1].startswith("deferred-")


def test_unlabelled_drift_is_reported_but_cannot_train(ctx):
    ctx.s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))
    frame = datagen.generate(1500, seed=7, drift=1.0).drop(columns=["MedHouseVal"])
    out = check_upload(ctx, bucket=DATA, key=_upload(ctx, "unlabelled.csv", frame))
    assert out["decision"] == "unlabelled" and _executions(ctx) == []
    assert "drift_detected" in _actions(ctx)
    report = out["drift"]["report_key"]
    assert b"<!DOCTYPE html>" in ctx.s3.get_object(Bucket=DATA, Key=report)["Body"].read()  # the Evidently report


def test_malformed_upload_is_quarantined_and_nothing_starts(ctx, emitted):
    frame = datagen.drop_columns(datagen.generate(100, seed=8), ["Population"])
    out = check_upload(ctx, bucket=DATA, key=_upload(ctx, "bad.csv", frame))
    assert out == {"decision": "quarantined", "key": "incoming/bad.csv", "reason": "missing_columns",
                   "message": out["message"]}
    reason = json.loads(ctx.s3.get_object(Bucket=DATA, Key="quarantine/bad.csv.reason.json")["Body"].read())
    assert reason["reason"] == "missing_columns" and _executions(ctx) == []
    assert _healing_actions(emitted) == ["quarantine"]


def test_finish_turns_a_caught_error_into_the_fail_states_error_and_cause(ctx):
    state = {"trigger": "drift", "error": {"Error": "DataQualityError",
                                           "Cause": json.dumps({"errorMessage": "no usable batch: empty_file"})}}
    out = finish(ctx, FinishRequest.from_event({"outcome": "failed", "state": state,
                                                "execution_arn": "arn:aws:states:us-east-1:1:execution:sm:x"}))
    assert out["error"] == "DataQualityError" and out["cause"] == "no usable batch: empty_file"
    item = ctx.audit.list(action="execution_finished", limit=1)[0]
    assert item["details"]["outcome"] == "failed" and item["execution_arn"].endswith(":x")
