"""EMF lines -> moto's CloudWatch -> the console's Prometheus view, in-process (no cloud, no HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.models import CloudWatchBackend, cloudwatch_backends
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from console.metrics import read_series, registry
from infra.localcloud.emf import EmfExtractor
from infra.localcloud.motoseam import cloudwatch as seam_cloudwatch
from selfheal.telemetry import HealingAction, Stage, Telemetry

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def cloudwatch(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The local cloud installs the moto fixes at start-up; here only the ListMetrics fix, for this test.
    monkeypatch.setattr(CloudWatchBackend, "get_filtered_metrics", seam_cloudwatch.get_filtered_metrics)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "selfheal")
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def _lines_at(ms: int, emit) -> list[tuple[int, str]]:
    """What a function printed, as the log pipeline hands it over, with EMF timestamps set to ``ms``."""
    lines: list[str] = []
    emit(Telemetry(write=lines.append))
    docs = [json.loads(line) for line in lines]
    for doc in docs:
        doc["_aws"]["Timestamp"] = ms
    return [(ms, json.dumps(doc)) for doc in docs]


def _scrape(cloudwatch: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry(read_series(cloudwatch, "SelfHeal"), "SelfHeal")).decode()
    return {(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "service"))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_emitted_metrics_are_listed_once_and_scraped_with_totals_and_latest_values(cloudwatch):
    now_ms = int(time.time() * 1000)
    extract = EmfExtractor.into_moto(ACCOUNT, REGION)
    events = _lines_at(now_ms - 600_000, lambda t: t.drift_check(share=0.25, drifted=False))
    events += _lines_at(now_ms - 300_000, lambda t: t.drift_check(share=0.75, drifted=True))
    for _ in range(5):
        events += _lines_at(now_ms, lambda t: t.prediction(model_version="v0001", rows=2, latency_ms=4.0))
    events += _lines_at(now_ms, lambda t: t.prediction(model_version="v0002", rows=10, latency_ms=6.0))
    events += _lines_at(now_ms, lambda t: t.model_quality(model_version="v0002", stage=Stage.TRAIN, r2=0.86, rmse=0.4))
    events += _lines_at(now_ms, lambda t: t.healing_action(HealingAction.PROMOTE))
    assert extract("/aws/lambda/selfheal-PredictFunction", events) == 2 * 3 + 6 * 3 + 2 + 1

    # Stored as CloudWatch stores standard resolution: one aggregate per metric, dimensions and minute.
    stored = cloudwatch_backends[ACCOUNT][REGION].metric_data
    assert len([d for d in stored if d.name == "Predictions"]) == 2
    listed = cloudwatch.list_metrics(Namespace="SelfHeal")["Metrics"]
    keys = [(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in listed]
    assert len(keys) == len(set(keys)) == 3 + 3 + 3 + 2 + 1  # drift x3, predictions x2 versions x3, quality, action

    scraped = _scrape(cloudwatch)
    v1, v2 = (("model_version", "v0001"),), (("model_version", "v0002"),)
    assert scraped[("selfheal_predictions_total", v1)] == 5
    assert scraped[("selfheal_predictions_total", v2)] == 1
    assert scraped[("selfheal_predicted_rows_total", v1)] == 10
    assert scraped[("selfheal_prediction_latency_seconds_count", v1)] == 5
    assert scraped[("selfheal_prediction_latency_seconds_sum", v1)] == pytest.approx(0.02)
    assert scraped[("selfheal_drift_checks_total", ())] == 2
    assert scraped[("selfheal_drift_detected_total", ())] == 1
    assert scraped[("selfheal_drift_share", ())] == 0.75  # the latest check, not the mean
    assert scraped[("selfheal_model_r2", (("model_version", "v0002"), ("stage", "train")))] == 0.86
    assert scraped[("selfheal_healing_actions_total", (("action", "promote"),))] == 1

    # Later lines in the same minute update the open aggregate: counters only rise.
    extract("/aws/lambda/selfheal-PredictFunction",
            _lines_at(now_ms, lambda t: t.prediction(model_version="v0001", rows=1, latency_ms=1.0)))
    assert len([d for d in stored if d.name == "Predictions"]) == 2
    assert _scrape(cloudwatch)[("selfheal_predictions_total", v1)] == 6


def test_a_reset_moto_starts_fresh_aggregates(cloudwatch):
    now_ms = int(time.time() * 1000)
    extract = EmfExtractor.into_moto(ACCOUNT, REGION)
    extract("g", _lines_at(now_ms, lambda t: t.healing_action(HealingAction.FIX)))
    cloudwatch_backends[ACCOUNT][REGION].reset()
    extract("g", _lines_at(now_ms, lambda t: t.healing_action(HealingAction.FIX)))
    (series,) = read_series(cloudwatch, "SelfHeal", now=datetime.now(UTC))
    assert series.total == 1
