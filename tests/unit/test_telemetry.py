"""Telemetry: one EMF line per event, in the format CloudWatch Logs (and the local cloud) extract."""

from __future__ import annotations

import json
import time

import pytest

from infra.localcloud.emf import parse_line
from selfheal.telemetry import HealingAction, Stage, Telemetry


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "selfheal")
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    return []


def _metrics(line: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, tuple[float, ...]]]:
    points = parse_line(line, now_ms=int(time.time() * 1000))
    return {(p.name, tuple(sorted(p.dimensions))): (p.unit, p.values) for p in points}


def test_a_prediction_is_one_line_with_count_rows_and_latency_by_model_version(lines):
    Telemetry(write=lines.append).prediction(model_version="v0003", rows=25, latency_ms=1.75)
    (line,) = lines
    dims = (("model_version", "v0003"), ("service", "selfheal"))
    assert _metrics(line) == {
        ("Predictions", dims): ("Count", (1.0,)),
        ("PredictedRows", dims): ("Count", (25.0,)),
        ("PredictionLatency", dims): ("Milliseconds", (1.75,)),
    }
    assert json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SelfHeal"


def test_capture_counts_ride_on_the_prediction_line_and_flushes_are_their_own_lines(lines):
    t = Telemetry(write=lines.append)
    t.prediction(model_version="v0003", rows=4, latency_ms=1.0, captured=2)
    t.capture_flush(ok=True)
    t.capture_flush(ok=False)
    t.capture_dropped(13)
    prediction, flushed, failed, dropped = (_metrics(line) for line in lines)
    service = (("service", "selfheal"),)
    assert prediction[("CaptureRecords", (("model_version", "v0003"), ("service", "selfheal")))] == ("Count", (2.0,))
    assert flushed == {("CaptureFlushes", service): ("Count", (1.0,))}
    assert failed == {("CaptureFlushFailures", service): ("Count", (1.0,))}
    assert dropped == {("CaptureDropped", service): ("Count", (13.0,))}


def test_drift_quality_and_healing_events(lines):
    t = Telemetry(namespace="Custom", write=lines.append)
    t.drift_check(share=0.625, drifted=True)
    t.model_quality(model_version="v0002", stage=Stage.VALIDATE, r2=0.84, rmse=0.41)
    t.healing_action(HealingAction.ROLLBACK)
    drift, quality, healing = (_metrics(line) for line in lines)
    service = (("service", "selfheal"),)
    assert drift == {("DriftChecks", service): ("Count", (1.0,)), ("DriftDetected", service): ("Count", (1.0,)),
                     ("DriftShare", service): ("None", (0.625,))}
    qdims = (("model_version", "v0002"), ("service", "selfheal"), ("stage", "validate"))
    assert quality == {("ModelR2", qdims): ("None", (0.84,)), ("ModelRMSE", qdims): ("None", (0.41,))}
    assert healing == {("HealingActions", (("action", "rollback"), ("service", "selfheal"))): ("Count", (1.0,))}
    assert all(json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom" for line in lines)


def test_events_do_not_leak_dimensions_or_metrics_into_the_next_line(lines):
    t = Telemetry(write=lines.append)
    t.prediction(model_version="v0001", rows=1, latency_ms=1.0)
    t.healing_action(HealingAction.PROMOTE)
    second = json.loads(lines[1])
    assert "model_version" not in second and "Predictions" not in second


def test_non_finite_values_are_left_out_and_an_empty_event_writes_nothing(lines):
    t = Telemetry(write=lines.append)
    t.model_quality(model_version="v0001", stage=Stage.TRAIN, r2=float("nan"), rmse=0.5)
    assert set(json.loads(lines[0])) >= {"ModelRMSE"} and "ModelR2" not in json.loads(lines[0])
    t.model_quality(model_version="v0001", stage=Stage.TRAIN, r2=float("nan"), rmse=float("inf"))
    assert len(lines) == 1
    t.healing_action(HealingAction.FIX)  # and the next event is clean
    assert "model_version" not in json.loads(lines[1])


def test_powertools_switch_turns_emission_off(lines, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    Telemetry(write=lines.append).prediction(model_version="v0001", rows=1, latency_ms=1.0)
    assert lines == []


def test_default_writer_is_stdout(lines, capsys):
    Telemetry().healing_action(HealingAction.RECYCLE)
    assert json.loads(capsys.readouterr().out)["HealingActions"] == [1.0]
