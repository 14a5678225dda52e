"""Image functions in a fresh environment: only their requirements.txt installed, their Dockerfile's
task root, their handler run on real events against a moto server (there is no Docker here).

Train trains and publishes v0001; Drift then checks a labelled batch against the reference with
Evidently and scores it with the production model (onnxruntime); Monitor then reads captured
predictions and a label file, and measures drift and labelled performance. Sizes go to .aws-sam/fresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.aws.freshenv import FreshImage
from infra.aws.functions import function_packages

from .conftest import ROOT
from .support import Stack, csv_bytes, moto_stack


@pytest.fixture(scope="module")
def stack(fresh_dir: Path) -> Iterator[Stack]:
    with moto_stack() as stack:
        yield stack


def _fresh(function: str, fresh_dir: Path) -> FreshImage:
    (package,) = [p for p in function_packages(ROOT / "template.yaml") if p.logical_id == function]
    assert package.package_type == "Image" and package.dockerfile and package.docker_context
    return FreshImage.build(function, package.dockerfile, package.docker_context, fresh_dir / function)


def test_image_functions_are_exactly_train_drift_and_monitor() -> None:
    images = {p.logical_id for p in function_packages(ROOT / "template.yaml") if p.package_type == "Image"}
    assert images == {"TrainFunction", "DriftFunction", "MonitorFunction"}


def test_train_image_trains_exports_and_publishes_a_version(stack: Stack, fresh_dir: Path) -> None:
    stack.client("s3").put_object(Bucket=stack.data_bucket, Key="curated/check/training.csv",
                                  Body=csv_bytes(1500, seed=1))
    image = _fresh("TrainFunction", fresh_dir)

    result = image.invoke({"training_key": "curated/check/training.csv", "trigger": "packaging-check"},
                          stack.environment())

    assert result["version"] == "v0001"
    assert result["metrics"]["r2"] > 0.5 and result["parity"] < 1e-3
    assert stack.registry().get_version("v0001")["manifest"]["libraries"]["scikit-learn"] == "1.9.1"
    image.record(fresh_dir, event="train on 1500 synthetic rows", result_version=result["version"])


def test_drift_image_checks_a_labelled_batch_with_evidently_and_the_production_model(
    stack: Stack, fresh_dir: Path
) -> None:
    if stack.registry().production() is None:  # normally v0001 from the Train test
        stack.registry().promote("v0001", reason="packaging check")
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.data_bucket, Key="reference/current.csv", Body=csv_bytes(1500, seed=1))
    s3.put_object(Bucket=stack.data_bucket, Key="incoming/batch.csv", Body=csv_bytes(400, seed=2))
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": stack.data_bucket}, "object": {"key": "incoming/batch.csv"}}}]}
    image = _fresh("DriftFunction", fresh_dir)

    (result,) = image.invoke(event, stack.environment())["results"]

    assert result["decision"] == "no_action", result
    assert 0 <= result["drift"]["drifted_share"] < 0.5
    assert result["degradation"] is not None and not result["degradation"]["degraded"]
    image.record(fresh_dir, event="S3 put of a 400-row labelled batch", decision=result["decision"])


def test_monitor_image_measures_captured_traffic_and_its_labels(stack: Stack, fresh_dir: Path) -> None:
    from selfheal import datagen
    from selfheal.inference import OnnxModel
    from selfheal.schema import DEFAULT_SCHEMA
    from tests.functional.traffic import labels_csv, predictions, records, write_capture

    registry = stack.registry()
    if registry.production() is None:  # normally v0001 from the Train test
        registry.promote("v0001", reason="packaging check")
    version = registry.production()["version"]
    s3 = stack.client("s3")
    s3.put_object(Bucket=stack.data_bucket, Key="reference/current.csv", Body=csv_bytes(1500, seed=1))
    frame = datagen.generate(400, seed=3)
    recs = records(frame, predictions(OnnxModel.from_bytes(registry.load_model_bytes(version), DEFAULT_SCHEMA), frame),
                   version=version)
    write_capture(s3, stack.data_bucket, recs, per_object=200)
    s3.put_object(Bucket=stack.data_bucket, Key="labels/check.csv", Body=labels_csv(recs[:40], frame["MedHouseVal"][:40]))
    time.sleep(1.05)  # S3's LastModified has whole seconds: the window ends before the current one
    image = _fresh("MonitorFunction", fresh_dir)

    record = image.invoke({"mode": "on_demand"}, stack.environment())

    assert (record["records"], record["labelled_rows"]) == (400, 40), record
    assert record["feature_drift"] is False and record["versions"][version]["labelled_rows"] == 40
    assert record["actions"] == [] and record["report_key"].startswith("reports/monitor/")
    image.record(fresh_dir, event="on-demand run over 400 captured records, 40 labelled", actions=record["actions"])
