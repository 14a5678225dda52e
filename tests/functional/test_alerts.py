"""Alerts from every flow that must tell a human, against moto in-process (SNS -> SQS shows what was published).

Each alert is published once with its action, versions and summary, and audited as ``alert_sent``
linked (``details.about``) to the decision it is about. A publish that fails never fails the step.
A rollback restores the drift reference of the version rolled back to; the reference is a rolling
window of the newest rows. ``make alerts`` (scripts/ops.py) lists them from the e-mail outbox, or
from the audit trail when there is none.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.exceptions import EndpointConnectionError

from selfheal import datagen
from selfheal.alerts import AlertKind
from selfheal.audit import AuditItem
from selfheal.config import Settings
from selfheal.context import Context
from selfheal.exceptions import RecoveryFailedError
from selfheal.flows.keys import REFERENCE_KEY, REFERENCE_META_KEY, holdout_key, reference_version_key
from selfheal.flows.monitor import check_upload
from selfheal.flows.promote import promote, rollback
from selfheal.flows.recover import recover
from selfheal.flows.validate import validate_version
from selfheal.schema import DEFAULT_SCHEMA
from selfheal.telemetry import Telemetry
from selfheal.training import export_onnx, train_model
from tests.functional.conftest import STATE_TABLE, FakeClock
from tests.functional.lambdacontext import FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]
DATA, MODELS = "data-bucket", "model-bucket"
CONSOLE = "http://console.test:8080"
EXEC = "arn:aws:states:us-east-1:123456789012:execution:self-healing:"


@pytest.fixture(scope="module")
def onnx_model() -> bytes:
    """A small real model: rollback candidates and the health check must load in onnxruntime."""
    trained = train_model(datagen.generate(1000, seed=1), DEFAULT_SCHEMA, model_type="ridge", n_threads=1)
    return export_onnx(trained.pipeline, DEFAULT_SCHEMA)


@pytest.fixture
def emitted() -> list[str]:
    return []


@pytest.fixture
def queue(ddb: Any) -> Iterator[tuple[str, str]]:
    """The alert topic, with an SQS queue subscribed to read back what was published: (topic, queue URL)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    yield topic, url


def make_context(ddb: Any, topic: str, emitted: list[str], **settings: Any) -> Context:
    s3 = boto3.client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # as template.yaml
    sfn = boto3.client("stepfunctions")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="self-healing", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    config = Settings(data_bucket=DATA, model_bucket=MODELS, state_table=STATE_TABLE, state_machine_arn=machine,
                      alert_topic_arn=topic, console_url=CONSOLE, max_recovery_attempts=2, **settings)
    return Context(settings=config, s3=s3, dynamodb=ddb, sns=boto3.client("sns"), stepfunctions=sfn,
                   clock=FakeClock(tick=timedelta(seconds=1)), telemetry=Telemetry(write=emitted.append))


@pytest.fixture
def ctx(ddb: Any, queue: tuple[str, str], emitted: list[str]) -> Context:
    return make_context(ddb, queue[0], emitted)


def published(queue_url: str) -> list[dict[str, Any]]:
    """Every notification the topic delivered so far: its subject, attributes and our JSON message."""
    sqs, out = boto3.client("sqs"), []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        for message in batch:
            envelope = json.loads(message["Body"])
            out.append({"subject": envelope.get("Subject"), "action": envelope["MessageAttributes"]["action"]["Value"],
                        **json.loads(envelope["Message"])})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def alert_items(ctx: Context) -> list[AuditItem]:
    return ctx.audit.list(action="alert_sent", limit=100, newest_first=False)


def assert_linked(ctx: Context, alert: dict[str, Any], decision: AuditItem) -> None:
    """The alert is audited once, published, and its item points at the decision's item."""
    (item,) = [i for i in alert_items(ctx) if i["details"]["alert_id"] == alert["alert_id"]]
    assert item["details"]["about"] == decision["sk"]
    assert item["details"]["published"] is True and item["details"]["kind"] == alert["action"]
    assert item["details"]["message"]["summary"] == alert["summary"]


def training_set(ctx: Context, name: str, rows: int, seed: int) -> tuple[str, pd.DataFrame]:
    frame = datagen.generate(rows, seed=seed)
    key = f"curated/{name}/training.csv"
    ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(frame))
    return key, frame


def publish(ctx: Context, model: bytes, training_key: str | None = None, rmse: float = 0.5) -> str:
    manifest = {"training_key": f"s3://{DATA}/{training_key}"} if training_key else {}
    return ctx.registry.publish_version(model, {"rmse": rmse, "r2": 0.8, "parity_max_abs_diff": 0.0}, manifest)


def read(ctx: Context, key: str) -> bytes:
    return ctx.s3.get_object(Bucket=DATA, Key=key)["Body"].read()


def csv_frame(body: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body))


def two_promoted_versions(ctx: Context, model: bytes) -> tuple[pd.DataFrame, pd.DataFrame]:
    """v0001 promoted on training set A, then v0002 on B (the reference follows): (A, B)."""
    key_a, a = training_set(ctx, "exec-1", 60, seed=2)
    key_b, b = training_set(ctx, "exec-2", 80, seed=3)
    promote(ctx, version=publish(ctx, model, key_a), training_key=key_a, reason="bootstrap", execution_arn=EXEC + "1")
    promote(ctx, version=publish(ctx, model, key_b), training_key=key_b, reason="drift", execution_arn=EXEC + "2")
    return a, b


# ---- rollback, from any cause -----------------------------------------------------------------------------


def test_rollback_after_a_failed_smoke_test_alerts_and_restores_the_reference(ctx, queue, onnx_model):
    a, b = two_promoted_versions(ctx, onnx_model)
    pd.testing.assert_frame_equal(csv_frame(read(ctx, REFERENCE_KEY)), b)

    out = rollback(ctx, reason="post-promotion smoke test failed", execution_arn=EXEC + "2", from_version="v0002")

    assert out["version"] == "v0001" and out["reference"]["restored"] is True
    (alert,) = published(queue[1])
    assert alert["action"] == "rollback"
    assert alert["summary"] == alert["subject"] == "production rolled back v0002 -> v0001"
    assert alert["versions"] == {"from": "v0002", "to": "v0001"}
    assert alert["reason"] == "post-promotion smoke test failed"
    assert alert["text"] == "[selfheal] production rolled back v0002 -> v0001: post-promotion smoke test failed"
    assert alert["execution_arn"] == EXEC + "2" and alert["console"] == f"{CONSOLE}/#/alerts"
    (decision,) = ctx.audit.list(action="rolled_back")
    assert_linked(ctx, alert, decision)
    # Drift is measured against what v0001 was trained on again, and the audit trail says so.
    pd.testing.assert_frame_equal(csv_frame(read(ctx, REFERENCE_KEY)), a)
    assert json.loads(read(ctx, REFERENCE_META_KEY))["version"] == "v0001"
    (restored,) = ctx.audit.list(action="reference_restored")
    assert restored["details"]["restored"] is True and restored["details"]["rows"] == len(a)
    assert "reference/versions/v0001.csv" in restored["reason"]


def test_a_version_promoted_without_a_kept_reference_gets_it_back_from_its_training_set(ctx, queue, onnx_model):
    a, _ = two_promoted_versions(ctx, onnx_model)
    ctx.s3.delete_object(Bucket=DATA, Key=reference_version_key("v0001"))  # promoted before copies were kept

    rollback(ctx, reason="manual rollback (make rollback)", execution_arn=None)

    pd.testing.assert_frame_equal(csv_frame(read(ctx, REFERENCE_KEY)), a)
    pd.testing.assert_frame_equal(csv_frame(read(ctx, reference_version_key("v0001"))), a)  # kept from now on
    assert [m["action"] for m in published(queue[1])] == ["rollback"]


def test_a_reference_that_cannot_be_restored_is_audited_and_the_rollback_still_stands(ctx, queue, onnx_model):
    two_promoted_versions(ctx, onnx_model)
    for key in (reference_version_key("v0001"), "curated/exec-1/training.csv"):
        ctx.s3.delete_object(Bucket=DATA, Key=key)

    out = rollback(ctx, reason="manual rollback (make rollback)", execution_arn=None)

    assert out["version"] == "v0001" and ctx.registry.production()["version"] == "v0001"
    assert out["reference"] == {"version": "v0001", "restored": False}
    (restored,) = ctx.audit.list(action="reference_restored")
    assert restored["details"]["restored"] is False and "NOT restored" in restored["reason"]
    assert [m["action"] for m in published(queue[1])] == ["rollback"]


class FakePredictFunction:
    """PredictFunction's `live` alias answering the health check with ``version`` (Lambda Invoke's shape)."""

    def __init__(self, version: str) -> None:
        self.version = version

    def invoke(self, **request: Any) -> dict[str, Any]:
        body = json.dumps({"prediction": 2.5, "model_version": self.version})
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps({"statusCode": 200, "body": body}).encode())}


def test_recovery_rolls_back_a_broken_artifact_with_a_rollback_alert(ctx, queue, onnx_model):
    key_a, a = training_set(ctx, "exec-1", 60, seed=2)
    promote(ctx, version=publish(ctx, onnx_model, key_a), training_key=key_a, reason="bootstrap",
            execution_arn=EXEC + "1")
    key_b, _ = training_set(ctx, "exec-2", 80, seed=3)
    promote(ctx, version=publish(ctx, b"not an onnx model", key_b), training_key=key_b, reason="drift",
            execution_arn=EXEC + "2")
    ctx.lambda_client = FakePredictFunction("v0001")

    out = recover(ctx, execution_arn=None, sleep=lambda _: None)

    assert out["healthy"] is True and [a["action"] for a in out["actions"]] == ["rollback"]
    (alert,) = published(queue[1])
    assert alert["action"] == "rollback" and alert["versions"] == {"from": "v0002", "to": "v0001"}
    assert alert["reason"].startswith("recovery attempt 1: production artifact v0002 is broken")
    assert_linked(ctx, alert, ctx.audit.list(action="rolled_back")[0])
    pd.testing.assert_frame_equal(csv_frame(read(ctx, REFERENCE_KEY)), a)


def test_recovery_that_exhausts_its_attempts_alerts_recovery_failed(ctx, queue):
    for n in (1, 2):  # neither version loads: nothing to roll back to
        promote(ctx, version=publish(ctx, f"broken model {n}".encode()), training_key=None, reason="test",
                execution_arn=None)

    with pytest.raises(RecoveryFailedError):
        recover(ctx, execution_arn=None, sleep=lambda _: None)

    (alert,) = published(queue[1])
    assert alert["action"] == "recovery_failed"
    assert alert["summary"] == "recovery failed after 2 attempt(s): a human is needed"
    assert alert["versions"] == {"production": "v0002"}
    assert alert["reason"].startswith("production artifact v0002 is broken")
    assert [a.startswith("rollback (no earlier healthy") for a in alert["details"]["actions"]] == [True, True]
    assert_linked(ctx, alert, ctx.audit.list(action="recovery_failed")[0])


# ---- the reference's rolling window -----------------------------------------------------------------------


def test_the_reference_keeps_only_the_newest_rows_of_the_training_set(ddb, queue, emitted, onnx_model):
    ctx = make_context(ddb, queue[0], emitted, reference_max_rows=100)
    key, frame = training_set(ctx, "exec-1", 250, seed=4)  # the previous reference first, new batches last

    promote(ctx, version=publish(ctx, onnx_model, key), training_key=key, reason="drift", execution_arn=EXEC + "1")

    newest = frame.tail(100).reset_index(drop=True)
    pd.testing.assert_frame_equal(csv_frame(read(ctx, REFERENCE_KEY)), newest)
    pd.testing.assert_frame_equal(csv_frame(read(ctx, reference_version_key("v0001"))), newest)
    meta = json.loads(read(ctx, REFERENCE_META_KEY))
    assert (meta["version"], meta["rows"], meta["rows_in"]) == ("v0001", 100, 250)
    assert ctx.audit.list(action="promoted")[0]["details"]["reference"]["rows"] == 100
    assert len(read(ctx, key).splitlines()) == 251  # the training set itself is never cut


def test_a_retried_promotion_keeps_the_first_reference_copy(ctx, onnx_model):
    key, frame = training_set(ctx, "exec-1", 50, seed=5)
    version = publish(ctx, onnx_model, key)
    promote(ctx, version=version, training_key=key, reason="drift", execution_arn=EXEC + "1")
    first = ctx.s3.head_object(Bucket=DATA, Key=reference_version_key(version))["VersionId"]
    promote(ctx, version=version, training_key=key, reason="drift", execution_arn=EXEC + "1")
    assert ctx.s3.head_object(Bucket=DATA, Key=reference_version_key(version))["VersionId"] == first


# ---- the upload path: quarantine, drift, degradation ------------------------------------------------------


def upload(ctx: Context, name: str, frame: pd.DataFrame) -> str:
    key = f"incoming/{name}"
    ctx.s3.put_object(Bucket=DATA, Key=key, Body=datagen.to_csv_bytes(frame))
    return key


def test_a_quarantined_upload_alerts_quarantine(ctx, queue):
    key = upload(ctx, "bad.csv", datagen.drop_columns(datagen.generate(100, seed=8), ["Population"]))

    assert check_upload(ctx, bucket=DATA, key=key)["decision"] == "quarantined"

    (alert,) = published(queue[1])
    assert alert["action"] == "quarantine"
    assert alert["summary"] == "batch incoming/bad.csv quarantined (missing_columns)"
    assert "Population" in alert["reason"]
    assert alert["details"] == {"key": key, "quarantine_key": "quarantine/bad.csv", "reason": "missing_columns"}
    assert_linked(ctx, alert, ctx.audit.list(action="quarantined")[0])


def test_drift_on_an_upload_alerts_drift_detected(ctx, queue):
    ctx.s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))
    frame = datagen.generate(1500, seed=7, drift=1.0).drop(columns=["MedHouseVal"])

    assert check_upload(ctx, bucket=DATA, key=upload(ctx, "drifted.csv", frame))["decision"] == "unlabelled"

    (alert,) = published(queue[1])
    assert alert["action"] == "drift_detected" and alert["summary"] == "drift in incoming/drifted.csv"
    assert "columns drifted" in alert["reason"] and alert["details"]["report_key"].startswith("reports/")
    assert_linked(ctx, alert, ctx.audit.list(action="drift_detected")[0])


def test_a_degraded_production_model_alerts_degradation(ctx, queue, onnx_model):
    ctx.s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(datagen.generate(3000, seed=2)))
    promote(ctx, version=publish(ctx, onnx_model, rmse=0.05), training_key=None, reason="bootstrap",
            execution_arn=None)
    frame = datagen.generate(1500, seed=9)  # same distribution as the reference: no drift, but worse RMSE

    out = check_upload(ctx, bucket=DATA, key=upload(ctx, "labelled.csv", frame))

    assert out["decision"] == "retrain_started" and out["degradation"]["degraded"] is True
    (alert,) = published(queue[1])
    assert alert["action"] == "degradation" and alert["versions"] == {"production": "v0001"}
    assert alert["summary"] == "production v0001 degraded on incoming/labelled.csv"
    assert_linked(ctx, alert, ctx.audit.list(action="degradation_detected")[0])


# ---- validation ----------------------------------------------------------------------------------------------


def test_a_rejected_challenger_alerts_validation_rejected(ddb, queue, emitted, onnx_model):
    ctx = make_context(ddb, queue[0], emitted, min_r2=0.99)
    promote(ctx, version=publish(ctx, onnx_model), training_key=None, reason="bootstrap", execution_arn=None)
    challenger = publish(ctx, onnx_model)
    holdout = holdout_key(ctx.settings.model_name, challenger)
    ctx.s3.put_object(Bucket=MODELS, Key=holdout, Body=datagen.to_csv_bytes(datagen.generate(300, seed=6)))

    out = validate_version(ctx, version=challenger, holdout_key=holdout, execution_arn=EXEC + "3")

    assert out["passed"] is False
    (alert,) = published(queue[1])
    assert alert["action"] == "validation_rejected"
    assert alert["summary"] == "challenger v0002 rejected; v0001 stays in production"
    assert alert["versions"] == {"challenger": "v0002", "champion": "v0001"}
    assert "below the minimum 0.99" in alert["reason"] and alert["details"]["failed_checks"] == ["min_r2"]
    assert_linked(ctx, alert, ctx.audit.list(action="rejected")[0])


# ---- what other services report, through PromoteFunction's handler ----------------------------------------


@pytest.fixture
def promote_app(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/promote/app.py imported fresh (its cold start builds the context from the environment)."""
    s = ctx.settings
    for name, value in {"DATA_BUCKET": s.data_bucket, "MODEL_BUCKET": s.model_bucket, "STATE_TABLE": s.state_table,
                        "ALERT_TOPIC_ARN": s.alert_topic_arn, "CONSOLE_URL": CONSOLE}.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("promote_app_under_test", ROOT / "functions" / "promote" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def status_change(status: str, **detail: Any) -> dict[str, Any]:
    """EventBridge's event for a Step Functions execution that changed status (AWS's shape)."""
    return {"version": "0", "id": "0c3bd2b4-e2e2-4a5f-9e6c-1f2e3d4c5b6a",
            "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "account": "123456789012", "time": "2024-05-01T12:00:00Z", "region": "us-east-1",
            "resources": [EXEC + "drift-1"],
            "detail": {"executionArn": EXEC + "drift-1", "name": "drift-1", "status": status,
                       "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:self-healing",
                       "startDate": 1714564800000, "stopDate": 1714565100000,
                       "input": json.dumps({"trigger": "drift", "batches": []}), **detail}}


def test_a_timed_out_execution_alerts_execution_failed(ctx, queue, promote_app):
    out = promote_app.handler(status_change("TIMED_OUT", error="States.Timeout", cause=None), FakeLambdaContext())

    assert out == {"alerted": True, "status": "TIMED_OUT", "execution_arn": EXEC + "drift-1"}
    (alert,) = published(queue[1])
    assert alert["action"] == "execution_failed" and alert["summary"] == "execution drift-1 timed out"
    assert alert["reason"] == "States.Timeout" and alert["execution_arn"] == EXEC + "drift-1"
    assert alert["details"]["trigger"] == "drift" and alert["versions"] == {"production": None}
    (decision,) = ctx.audit.list(action="execution_failed")
    assert decision["reason"] == "drift-1 TIMED_OUT: States.Timeout"
    assert_linked(ctx, alert, decision)


def test_a_failed_execution_names_the_error_and_the_lambda_errors_message(ctx, queue, promote_app):
    cause = json.dumps({"errorType": "SmokeTestFailed", "errorMessage": "rolled back v0002 -> v0001"})
    promote_app.handler(status_change("FAILED", error="SmokeTestFailed", cause=cause), FakeLambdaContext())
    (alert,) = published(queue[1])
    assert alert["reason"] == "SmokeTestFailed: rolled back v0002 -> v0001"
    assert promote_app.handler(status_change("SUCCEEDED"), FakeLambdaContext())["alerted"] is False
    assert published(queue[1]) == []


def alarm_message(state: str, old: str) -> str:
    """What CloudWatch publishes to an alarm action's SNS topic (AWS's shape)."""
    return json.dumps({
        "AlarmName": "selfheal-PredictAliasErrorsAlarm-ABC123", "AlarmDescription": "PredictFunction:live errors",
        "AWSAccountId": "123456789012", "NewStateValue": state, "OldStateValue": old,
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).",
        "StateChangeTime": "2024-05-01T12:03:00.000+0000", "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:selfheal-PredictAliasErrorsAlarm-ABC123",
        "Trigger": {"MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "SUM",
                    "Dimensions": [{"value": "selfheal-PredictFunction-X1", "name": "FunctionName"},
                                   {"value": "selfheal-PredictFunction-X1:live", "name": "Resource"}]}})


def sns_event(*messages: str) -> dict[str, Any]:
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "Sns": {"Type": "Notification", "MessageId": f"m-{i}", "TopicArn": "arn:topic",
                                 "Message": m, "Timestamp": "2024-05-01T12:03:01.000Z"}}
                        for i, m in enumerate(messages)]}


def test_a_canary_alarm_on_the_topic_is_audited_as_an_alert_and_not_published_again(ctx, queue, promote_app):
    ours = json.dumps({"action": "rollback", "summary": "production rolled back v2 -> v1", "alert_id": "x"})

    out = promote_app.handler(sns_event(alarm_message("ALARM", "OK"), ours, "not json"), FakeLambdaContext())

    assert out == {"alarms": [{"alarm": "selfheal-PredictAliasErrorsAlarm-ABC123", "state": "ALARM"}]}
    assert published(queue[1]) == []  # CloudWatch published it already
    (item,) = alert_items(ctx)
    message = item["details"]["message"]
    assert item["details"]["kind"] == "canary_alarm" and item["details"]["published"] is True
    assert message["summary"] == "alarm selfheal-PredictAliasErrorsAlarm-ABC123 OK -> ALARM"
    assert message["at"] == "2024-05-01T12:03:00.000000Z"
    assert message["versions"] == {"serving": "selfheal-PredictFunction-X1:live"}


# ---- a publish that fails never fails the step ------------------------------------------------------------


class UnreachableSns:
    def publish(self, **request: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")


@pytest.mark.parametrize("broken", ["missing topic", "unreachable endpoint"])
def test_a_failed_publish_is_counted_and_audited_and_the_step_goes_on(ddb, queue, broken):
    emitted: list[str] = []
    topic = queue[0].replace(":alerts", ":deleted-topic") if broken == "missing topic" else queue[0]
    ctx = make_context(ddb, topic, emitted)
    if broken == "unreachable endpoint":
        ctx = Context(settings=ctx.settings, s3=ctx.s3, dynamodb=ddb, sns=UnreachableSns(), clock=ctx.clock,
                      telemetry=Telemetry(write=emitted.append))
    key = upload(ctx, "bad.csv", datagen.drop_columns(datagen.generate(100, seed=8), ["Population"]))

    assert check_upload(ctx, bucket=DATA, key=key)["decision"] == "quarantined"

    (item,) = alert_items(ctx)
    assert item["details"]["published"] is False and item["details"]["kind"] == "quarantine"
    assert ctx.alerter.failed == 1
    failed = [json.loads(line) for line in emitted if "AlertsFailed" in line]
    assert [(doc["action"], doc["AlertsFailed"]) for doc in failed] == [("quarantine", [1.0])]


def test_without_a_topic_alerts_are_audited_but_not_published(ddb, queue, emitted):
    ctx = make_context(ddb, "", emitted)
    key = upload(ctx, "bad.csv", datagen.drop_columns(datagen.generate(100, seed=8), ["Population"]))
    check_upload(ctx, bucket=DATA, key=key)
    (item,) = alert_items(ctx)
    assert item["details"]["published"] is False and item["details"]["topic_arn"] is None
    assert published(queue[1]) == [] and ctx.alerter.failed == 0


# ---- make alerts --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ops() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ops_under_test", ROOT / "scripts" / "ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_alerts(ops: ModuleType, ctx: Context, outbox: Path, capsys: pytest.CaptureFixture[str], *argv: str,
               ) -> tuple[list[str], str]:
    """`make alerts` (ops.py alerts) against this context's stack: (its lines, what it said on stderr)."""
    cloud = SimpleNamespace(outputs={"AlertTopicArn": ctx.settings.alert_topic_arn}, audit=lambda: ctx.audit)
    args = SimpleNamespace(outbox=outbox, endpoints=outbox.parent / "endpoints.json", action=None, limit=50)
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        setattr(args, flag.lstrip("-"), value)
    assert ops.cmd_alerts(cloud, args) == 0
    captured = capsys.readouterr()
    return captured.out.splitlines(), captured.err


def test_make_alerts_reads_the_email_outbox_newest_first_with_canary_alarms(ctx, queue, ops, tmp_path, capsys,
                                                                            onnx_model):
    two_promoted_versions(ctx, onnx_model)
    rollback(ctx, reason="post-promotion smoke test failed", execution_arn=EXEC + "2")
    (alert,) = published(queue[1])
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    topic = ctx.settings.alert_topic_arn
    deliveries = [
        ("1", "ops@example.com", topic, json.dumps(alert)),
        ("2", "oncall@example.com", topic, json.dumps(alert)),  # the same alert to a second address
        ("3", "ops@example.com", topic, alarm_message("ALARM", "OK")),
        ("4", "ops@example.com", "arn:aws:sns:us-east-1:123456789012:another-topic", alarm_message("OK", "ALARM")),
    ]
    for n, to, arn, message in deliveries:
        (outbox / f"{n}.json").write_text(json.dumps({
            "to": to, "protocol": "email", "topic_arn": arn, "message_id": n, "subject": "s", "message": message,
            "timestamp": "2024-05-01T12:00:00Z"}))

    lines, said = run_alerts(ops, ctx, outbox, capsys)

    assert "e-mail outbox" in said and len(lines) == 2  # one line per alert, the other topic's left out
    # Newest first: the alarm changed state at 12:03, the rollback happened at 12:00:xx (FakeClock).
    assert lines[0].startswith("2024-05-01T12:03:00.000000Z  canary_alarm ")
    assert "alarm selfheal-PredictAliasErrorsAlarm-ABC123 OK -> ALARM: Threshold Crossed" in lines[0]
    assert lines[1].split()[1] == "rollback"
    assert lines[1].endswith("production rolled back v0002 -> v0001: post-promotion smoke test failed  [2]")
    assert run_alerts(ops, ctx, outbox, capsys, "--action", "rollback")[0] == lines[1:]


def test_make_alerts_falls_back_to_the_audit_trail_without_an_outbox(ddb, queue, emitted, ops, tmp_path, capsys):
    ctx = make_context(ddb, "", emitted)  # no topic: audited, not published
    for name in ("a.csv", "b.csv"):
        check_upload(ctx, bucket=DATA, key=upload(ctx, name, datagen.drop_columns(datagen.generate(50, seed=8),
                                                                                    ["Population"])))
    ctx.alerter.send(AlertKind.EXECUTION_FAILED, "execution drift-1 aborted", reason="aborted",
                     execution_arn=EXEC + "drift-1")

    lines, said = run_alerts(ops, ctx, tmp_path / "no-outbox", capsys)

    assert "from the audit trail" in said
    assert [line.split()[1] for line in lines] == ["execution_failed", "quarantine", "quarantine"]
    assert "batch incoming/b.csv quarantined (missing_columns)" in lines[1]
    assert lines[0].endswith("execution drift-1 aborted: aborted  [drift-1]  (not published)")


def test_make_alerts_ignores_an_outbox_the_stack_no_longer_delivers_to(ddb, queue, emitted, ops, tmp_path, capsys):
    ctx = make_context(ddb, "", emitted)
    ctx.alerter.send(AlertKind.EXECUTION_FAILED, "execution drift-2 aborted", reason="aborted",
                     execution_arn=EXEC + "drift-2")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "old.json").write_text(json.dumps({
        "to": "ops@example.com", "protocol": "email", "topic_arn": "t", "message_id": "1", "subject": "s",
        "message": alarm_message("ALARM", "OK"), "timestamp": "2024-05-01T12:00:00Z"}))
    cloud = SimpleNamespace(outputs={"AlertTopicArn": "t"}, audit=lambda: ctx.audit,
                            info={"stack": {"resources": {"AlertTopic": {}}}})  # AlertEmail was cleared
    args = SimpleNamespace(outbox=None, endpoints=outbox.parent / "endpoints.json", action=None, limit=50)
    assert ops.cmd_alerts(cloud, args) == 0
    captured = capsys.readouterr()
    assert "from the audit trail" in captured.err
    assert [line.split()[1] for line in captured.out.splitlines()] == ["execution_failed"]
