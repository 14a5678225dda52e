"""Production traffic heals the model: capture -> labels -> monitor -> retrain -> promoted -> served.

Everything as a user drives it: predictions over the HTTP API, ground truth uploaded with
`make labels`, a monitoring run with `make monitor` (its last line is one JSON object), then the
self-healing execution it started, the new version promoted and answering /predict.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import pandas as pd
import pytest

from selfheal import datagen
from selfheal.live import TRIGGER_DRIFT
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from tests.integration.conftest import ROOT, start_cloud, stop_cloud, wait_for
from tests.integration.story import Story

pytestmark = pytest.mark.integration

PARAMS = "CooldownHours=0 CaptureMaxRecords=100 CaptureMaxAgeSeconds=0 MinLabelledRows=300"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    cloud = start_cloud(tmp, ROOT / "template.yaml", stack_name="selfheal",
                        extra=["--parameter-overrides", PARAMS,
                               "--after", f"{ROOT}/.venv/bin/python {ROOT}/scripts/ops.py bootstrap"],
                        env={"BOOTSTRAP_ROWS": "6000"})
    s = Story(cloud)
    try:
        wait_for(lambda: s.alias() == "v0001", timeout=300, message="bootstrap to promote v0001")
        wait_for(lambda: all(e["status"] != "RUNNING" for e in s.executions()), timeout=120,
                 message="the bootstrap execution to finish")
        yield s
    finally:
        stop_cloud(cloud)


def _make(story: Story, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOCALCLOUD_ENDPOINTS=str(story.cloud.state_dir / "endpoints.json"))
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def _captured_ids(story: Story) -> set[str]:
    ids: set[str] = set()
    for page in story.s3.get_paginator("list_objects_v2").paginate(Bucket=story.data_bucket, Prefix="capture/"):
        for obj in page.get("Contents", []):
            assert obj["Key"].endswith(".jsonl.gz") and "/dt=" in obj["Key"] and "/hour=" in obj["Key"]
            body = gzip.decompress(story.s3.get_object(Bucket=story.data_bucket, Key=obj["Key"])["Body"].read())
            ids |= {json.loads(line)["prediction_id"] for line in body.splitlines()}
    return ids


def test_captured_traffic_with_labels_drives_a_retraining_that_is_promoted_and_served(story, tmp_path):
    traffic = datagen.generate(600, seed=77, drift=1.0)  # the market moved: features and prices
    features = traffic[SCHEMA.feature_names]
    ids: list[str] = []
    for start in range(0, len(features), 100):
        records = features.iloc[start:start + 100].to_dict(orient="records")
        r = story.predict({"records": records})
        assert r.status_code == 200, r.text
        assert r.json()["model_version"] == "v0001" and len(r.json()["prediction_ids"]) == len(records)
        ids += r.json()["prediction_ids"]
    single = story.predict()
    assert single.headers["x-prediction-id"] == single.json()["prediction_id"]
    wait_for(lambda: set(ids) <= _captured_ids(story), timeout=30, message="every answered prediction in capture/")

    labels = tmp_path / "ground truth.csv"
    pd.DataFrame({"prediction_id": ids, SCHEMA.target.name: traffic[SCHEMA.target.name]}).to_csv(labels, index=False)
    done = _make(story, "labels", f"FILE={labels}")
    assert done.returncode == 0, done.stderr

    known = {e["executionArn"] for e in story.executions()}
    monitored = _make(story, "monitor")
    assert monitored.returncode == 0, monitored.stderr
    run = json.loads(monitored.stdout.strip().splitlines()[-1])
    assert run["records"] >= len(ids) and run["labelled_rows"] == len(ids)
    assert run["feature_drift"] is True and run["feature_drift_share"] >= 0.5
    assert "retrain_started" in run["actions"] and "alert:drift_detected" in run["actions"]
    assert story.s3.head_object(Bucket=story.data_bucket, Key=run["report_key"])["ContentType"].startswith("text/html")

    execution = story.wait_new_execution(known, timeout=300)
    assert execution["status"] == "SUCCEEDED", execution
    assert execution["executionArn"] == run["execution_arn"]
    (started,) = story.audit("retrain_started", execution["executionArn"])
    assert started["details"]["trigger"] == TRIGGER_DRIFT
    assert started["details"]["batches"][0]["key"].startswith("curated/monitor/")  # the labelled live rows
    # The retraining learnt from the labelled live traffic, and the new version answers.
    assert story.alias() == "v0002"
    wait_for(lambda: story.predict().json().get("model_version") == "v0002", timeout=20,
             message="POST /predict served by v0002")
    # The next run starts where this one ended: only the few predictions since, and no second retraining.
    again = json.loads(_make(story, "monitor").stdout.strip().splitlines()[-1])
    assert again["records"] < 50 and "retrain_started" not in again["actions"]
