"""The monitor over live traffic (MonitorFunction's flow), against moto in-process.

Capture objects are written as PredictFunction writes them (``capture.put_records``), labels as
``make labels`` uploads them. The clock is the real one: S3 stamps ``LastModified`` with it, and the
window is made of those stamps. ``settle()`` waits for the next whole second, so what was just
written is inside the window (S3's ``LastModified`` has whole seconds; selfheal/live.py).
"""

from __future__ import annotations

import importlib.util
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from selfheal import datagen
from selfheal.config import Settings
from selfheal.context import Context
from selfheal.flows.keys import REFERENCE_KEY
from selfheal.flows.live import BATCHES_PREFIX, MonitorState, run_monitor
from selfheal.flows.train import train_version
from selfheal.inference import OnnxModel
from selfheal.pending import PendingBatches
from selfheal.registry import HOLDOUT_PREDICTIONS_FILE
from selfheal.schema import DEFAULT_SCHEMA
from selfheal.telemetry import Telemetry
from selfheal.training import export_onnx, onnx_predict, train_model
from tests.functional.conftest import STATE_TABLE
from tests.functional.traffic import labels_csv, predictions, records, traffic, write_capture

ROOT = Path(__file__).resolve().parents[2]
DATA, MODELS = "data-bucket", "model-bucket"
TARGET = DEFAULT_SCHEMA.target.name
MIN_LABELLED = 200


def settle() -> None:
    """Sleep into the next whole second: objects written so far are then inside a window ending now."""
    now = time.time()
    time.sleep(1.0 - (now % 1.0) + 0.01)


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, dict[str, float], list[float], pd.DataFrame]:
    """One real model for the module: ONNX bytes, holdout metrics, holdout predictions, training set."""
    data = datagen.generate(6000, seed=1)
    model = train_model(data, DEFAULT_SCHEMA, n_threads=1)
    onnx = export_onnx(model.pipeline, DEFAULT_SCHEMA)
    return onnx, model.metrics, onnx_predict(onnx, model.X_holdout).tolist(), data


@pytest.fixture
def queue(ddb: Any) -> tuple[str, str]:
    """The alert topic, with an SQS queue subscribed to read back what was published."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts-copy")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


@pytest.fixture
def ctx(ddb: Any, queue: tuple[str, str], trained) -> Iterator[Context]:
    s3 = boto3.client("s3")
    for bucket in (DATA, MODELS):
        s3.create_bucket(Bucket=bucket)
    sfn = boto3.client("stepfunctions")
    role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="self-healing", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    settings = Settings(data_bucket=DATA, model_bucket=MODELS, state_table=STATE_TABLE, state_machine_arn=machine,
                        cooldown_hours=24, min_labelled_rows=MIN_LABELLED, alert_topic_arn=queue[0])
    context = Context(settings=settings, s3=s3, dynamodb=ddb, stepfunctions=sfn, sns=boto3.client("sns"),
                      telemetry=Telemetry(write=lambda line: None))
    onnx, metrics, holdout_predictions, data = trained
    version = context.registry.publish_version(onnx, metrics, {"trigger": "test"}, documents={
        HOLDOUT_PREDICTIONS_FILE: {"rows": len(holdout_predictions), "predictions": holdout_predictions}})
    context.registry.promote(version, reason="test")
    s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(data))
    yield context


@pytest.fixture
def model(trained) -> OnnxModel:
    return OnnxModel.from_bytes(trained[0], DEFAULT_SCHEMA)


def send(ctx: Context, model: OnnxModel, n: int, *, seed: int, drift: float = 0.0, labelled: int = 0,
         shuffled: bool = False, name: str = "labels.csv") -> tuple[list[dict], pd.DataFrame]:
    """``n`` answered predictions captured; the first ``labelled`` of them get their true value as labels.

    ``shuffled``: the answers are the model's, given to the wrong rows: their distribution is what it
    should be (no prediction drift), their errors are not (degradation)."""
    frame = traffic(n, seed=seed, drift=drift)
    answers = predictions(model, frame)
    if shuffled:
        answers = np.random.default_rng(seed).permutation(answers)
    recs = records(frame, answers, version="v0001")
    write_capture(ctx.s3, DATA, recs, per_object=250, writer=f"w{seed}")
    if labelled:
        ctx.s3.put_object(Bucket=DATA, Key=f"labels/{name}", Body=labels_csv(recs[:labelled],
                                                                             frame[TARGET][:labelled]))
    return recs, frame


def executions(ctx: Context) -> list[dict[str, Any]]:
    return ctx.stepfunctions.list_executions(stateMachineArn=ctx.settings.state_machine_arn)["executions"]


def published(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return out
        out += [json.loads(json.loads(m["Body"])["Message"]) for m in batch]


def stored(ctx: Context, key: str) -> Any:
    return ctx.s3.get_object(Bucket=DATA, Key=key)["Body"].read()


def test_a_quiet_hour_is_measured_recorded_and_left_alone(ctx, model, queue):
    send(ctx, model, 1000, seed=5, labelled=300)
    settle()

    out = run_monitor(ctx, trigger="on_demand")

    assert out["actions"] == [] and executions(ctx) == [] and published(queue[1]) == []
    assert (out["records"], out["labelled_rows"], out["unmatched_label_ids"]) == (1000, 300, 0)
    assert out["window"]["since"] == "promotion" and out["production_version"] == "v0001"
    assert out["feature_drift"] is False and 0 <= out["feature_drift_share"] < 0.5
    assert set(out["column_scores"]) == set(DEFAULT_SCHEMA.feature_names)
    assert out["prediction_drift"]["drifted"] is False and out["prediction_drift"]["rows_current"] == 1000
    assert out["target_drift"]["drifted"] is False
    v1 = out["versions"]["v0001"]
    assert v1["labelled_rows"] == 300 and v1["degraded"] is False and v1["r2"] > 0.6
    assert v1["promotion_rmse"] == pytest.approx(ctx.registry.get_version("v0001")["metrics"]["rmse"])
    # The record on S3 is what the function returned; the report is an HTML page with Evidently's in it.
    # Plain JSON (as the Lambda runtime serialises a handler's result), the same as the record on S3.
    assert json.loads(stored(ctx, out["record_key"])) == json.loads(json.dumps(out))
    assert out["record_key"].startswith("monitoring/runs/") and out["report_key"].startswith("reports/monitor/")
    page = stored(ctx, out["report_key"]).decode()
    assert page.startswith("<!doctype html>") and "srcdoc=" in page and "v0001" in page
    (audited,) = ctx.audit.list(action="monitor_run", limit=5)
    assert audited["details"]["record_key"] == out["record_key"] and "1000 records" in audited["reason"]
    assert MonitorState(ctx.dynamodb, STATE_TABLE).last_end() == datetime.fromisoformat(out["window"]["end"])


def test_drift_with_enough_labels_retrains_on_the_labelled_traffic(ctx, model, queue):
    send(ctx, model, 1200, seed=6, drift=1.0, labelled=400)
    settle()

    out = run_monitor(ctx)

    # Drifted traffic also degrades the model (the price relationship moved too): two alerts, one retraining.
    assert out["actions"] == ["alert:drift_detected", "alert:degradation", "retrain_started"]
    assert out["feature_drift"] is True and out["decision"]["trigger"] == "live_drift"
    (execution,) = executions(ctx)
    assert out["execution_arn"] == execution["executionArn"]
    payload = json.loads(ctx.stepfunctions.describe_execution(executionArn=execution["executionArn"])["input"])
    assert payload == {"trigger": "live_drift", "batches": [{"bucket": DATA, "key": out["retrain_batch_key"]}],
                       "include_reference": True, "lock_owner": execution["executionArn"].rsplit(":", 1)[-1]}
    batch = pd.read_csv(pd.io.common.BytesIO(stored(ctx, out["retrain_batch_key"])))
    assert batch.columns.tolist() == DEFAULT_SCHEMA.all_columns and len(batch) == 400
    assert ctx.lock.holder() is not None  # the same lock and cooldown as uploads
    alerts = published(queue[1])
    assert [a["action"] for a in alerts] == ["drift_detected", "degradation"]
    assert alerts[0]["versions"] == {"production": "v0001"}
    (drift_item,) = ctx.audit.list(action="drift_detected", limit=5)
    assert drift_item["details"]["source"] == "monitor"
    assert ctx.audit.list(action="alert_sent", limit=5, newest_first=False)[0]["details"]["about"] == drift_item["sk"]
    assert ctx.audit.list(action="retrain_started", limit=5)[0]["details"]["trigger"] == "live_drift"


def test_drift_without_enough_labels_only_alerts(ctx, model, queue):
    send(ctx, model, 1200, seed=7, drift=1.0, labelled=50)
    settle()

    out = run_monitor(ctx)

    assert out["actions"] == ["alert:drift_detected"] and executions(ctx) == []
    assert out["labelled_rows"] == 50 and out["decision"]["enough_labels"] is False
    assert "no retraining on unlabelled traffic" in out["decision"]["reason"]
    assert [a["action"] for a in published(queue[1])] == ["drift_detected"]


def test_degradation_without_drift_retrains_when_enough_rows_are_labelled(ctx, model, queue):
    send(ctx, model, 1000, seed=8, labelled=300, shuffled=True)
    settle()

    out = run_monitor(ctx)

    assert out["feature_drift"] is False and out["prediction_drift"]["drifted"] is False
    assert out["degradation"]["degraded"] is True and out["degradation"]["ratio"] > 1.2
    assert out["actions"] == ["alert:degradation", "retrain_started"]
    assert out["decision"]["trigger"] == "live_degradation" and len(executions(ctx)) == 1
    assert [a["action"] for a in published(queue[1])] == ["degradation"]


def test_the_next_run_covers_only_newer_captures_and_respects_the_cooldown(ctx, model, queue):
    send(ctx, model, 1200, seed=9, drift=1.0, labelled=300, name="first.csv")
    settle()
    first = run_monitor(ctx)
    assert first["actions"][-1] == "retrain_started"
    ctx.lock.release(ctx.lock.holder()["owner"])  # that retraining has finished

    recs, _ = send(ctx, model, 600, seed=10, drift=1.0, labelled=100, name="second.csv")
    settle()
    second = run_monitor(ctx)

    assert second["window"]["since"] == "last_run" and second["window"]["start"] == first["window"]["end"]
    assert second["records"] == 600 and second["records_by_version"] == {"v0001": 600}
    # Labels are joined to every capture kept, not only the window's: both files count.
    assert second["labelled_rows"] == 400 and second["labels"]["files"] == 2
    assert second["actions"][0] == "alert:drift_detected" and second["actions"][-1] == "retrain_skipped_cooldown"
    assert len(executions(ctx)) == 1
    # The deferred labelled batch waits for the next retraining, and it is the only monitor batch waiting.
    waiting = [p["key"] for p in PendingBatches(ctx.dynamodb, STATE_TABLE).list()]
    assert waiting == [second["retrain_batch_key"]] and waiting[0].startswith(BATCHES_PREFIX)


def test_labels_for_unknown_ids_are_counted_and_the_newest_label_wins(ctx, model):
    recs, frame = send(ctx, model, 400, seed=11)
    older = labels_csv(recs[:10], [1.0] * 10)
    newer = labels_csv(recs[:5], [4.0] * 5) + b"00000000-0000-4000-8000-000000000000,2.0\n"
    ctx.s3.put_object(Bucket=DATA, Key="labels/older.csv", Body=older)
    settle()  # the newer file is stored a second later: files are merged in storage order
    ctx.s3.put_object(Bucket=DATA, Key="labels/newer.csv", Body=newer)
    settle()

    out = run_monitor(ctx)

    assert out["labelled_rows"] == 10 and out["unmatched_label_ids"] == 1
    assert out["labels"]["unmatched_examples"] == ["00000000-0000-4000-8000-000000000000"]
    assert out["labels"]["duplicates"] == 5
    batch_rmse = out["versions"]["v0001"]["rmse"]
    expected = np.sqrt(np.mean((np.array([r["prediction"] for r in recs[:10]]) - np.array([4.0] * 5 + [1.0] * 5)) ** 2))
    assert batch_rmse == pytest.approx(expected)


def test_a_malformed_label_file_is_quarantined_once_with_its_reason(ctx, model, queue):
    send(ctx, model, 300, seed=12)
    ctx.s3.put_object(Bucket=DATA, Key="labels/rows.csv", Body=b"prediction_id,MedHouseVal\n1,2.0\n2,3.0\n")
    settle()

    out = run_monitor(ctx)

    assert out["labels"]["quarantined"][0]["reason"] == "invalid_ids" and out["actions"] == ["alert:quarantine"]
    assert stored(ctx, "quarantine/labels/rows.csv").startswith(b"prediction_id")
    reason = json.loads(stored(ctx, "quarantine/labels/rows.csv.reason.json"))
    assert reason["reason"] == "invalid_ids" and reason["details"]["invalid_ids"] == 2
    assert [a["action"] for a in published(queue[1])] == ["quarantine"]
    settle()
    again = run_monitor(ctx)
    assert again["labels"]["already_quarantined"] == ["labels/rows.csv"] and again["actions"] == []
    assert len(ctx.audit.list(action="quarantined", limit=10)) == 1


def test_no_traffic_no_verdicts_and_no_crash(ctx):
    out = run_monitor(ctx)
    assert out["records"] == 0 and out["feature_drift"] is None and out["actions"] == []
    assert "too few records" in out["feature_drift_detail"]["reason"]
    assert out["prediction_drift"]["drifted"] is None and out["degradation"]["degraded"] is None


def test_train_keeps_the_holdout_predictions_that_prediction_drift_compares_with(ctx, trained):
    ctx.s3.put_object(Bucket=DATA, Key="curated/x/training.csv", Body=datagen.to_csv_bytes(trained[3].head(1500)))
    result = train_version(ctx, training_key="curated/x/training.csv", fingerprint="f", trigger="test",
                           execution_arn=None)
    stored_predictions = ctx.registry.read_document(result["version"], HOLDOUT_PREDICTIONS_FILE)
    holdout_rows = ctx.registry.get_version(result["version"])["manifest"]["rows"]["holdout"]
    assert stored_predictions["rows"] == len(stored_predictions["predictions"]) == holdout_rows > 0
    # A version trained before they were kept: prediction drift says so instead of guessing.
    ctx.registry.promote(ctx.registry.publish_version(trained[0], trained[1], {}), reason="old")
    assert run_monitor(ctx)["prediction_drift"]["reason"].endswith("(trained before holdout predictions were kept)")


def test_a_later_run_never_moves_the_window_back(ddb):
    state = MonitorState(ddb, STATE_TABLE)
    later, earlier = datetime(2024, 5, 1, 13, tzinfo=UTC), datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert state.advance(later, "a") is True and state.advance(earlier, "b") is False
    assert state.last_end() == later


class MonitorLambda:
    """Lambda's Invoke for MonitorFunction, run in-process on the test's context (as its handler does)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        assert FunctionName == "selfheal-MonitorFunction-X"
        result = run_monitor(self._ctx, trigger=json.loads(Payload)["mode"])
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result, default=str).encode())}


def test_make_labels_then_make_monitor_print_the_record_as_the_last_line(ctx, model, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("ops_under_test", ROOT / "scripts" / "ops.py")
    assert spec and spec.loader
    ops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ops)
    recs, frame = send(ctx, model, 300, seed=13)
    path = tmp_path / "ground truth.csv"
    path.write_bytes(labels_csv(recs[:30], frame[TARGET][:30]))
    clients = {"s3": ctx.s3, "lambda": MonitorLambda(ctx)}
    cloud = SimpleNamespace(outputs={"DataBucketName": DATA, "MonitorFunctionName": "selfheal-MonitorFunction-X"},
                            client=clients.__getitem__)

    assert ops.cmd_labels(cloud, SimpleNamespace(file=str(path), name=None)) == 0
    settle()
    assert ops.cmd_monitor(cloud, SimpleNamespace()) == 0

    out = capsys.readouterr()
    assert "s3://data-bucket/labels/ground truth.csv" in out.out
    record = json.loads(out.out.strip().splitlines()[-1])
    assert record["trigger"] == "on_demand" and record["labelled_rows"] == 30 and record["records"] == 300
    assert "actions: none" in out.err
    with pytest.raises(ops.OpsError, match="no MonitorFunction"):
        ops.cmd_monitor(SimpleNamespace(outputs={}), SimpleNamespace())
