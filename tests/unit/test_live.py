"""Live-traffic monitoring, the pure parts: the window, the decision table, per-version metrics, frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from selfheal.alerts import AlertKind
from selfheal.live import (
    FIRST_RUN_LOOKBACK,
    TRIGGER_DEGRADATION,
    TRIGGER_DRIFT,
    RunRecord,
    capture_frame,
    decide,
    monitor_window,
    render_report,
    training_batch,
    version_metrics,
    window_end,
)
from selfheal.schema import DEFAULT_SCHEMA

NOW = datetime(2024, 5, 1, 12, 0, 30, 250_000, tzinfo=UTC)
END = datetime(2024, 5, 1, 12, 0, 29, tzinfo=UTC)  # the last whole second before NOW's
TARGET = DEFAULT_SCHEMA.target.name


# ---- the window ---------------------------------------------------------------------------------


def test_the_window_ends_on_the_last_whole_second_before_now():
    # S3's LastModified has whole seconds: objects stored in NOW's second go to the next window.
    assert window_end(NOW) == END


def test_a_run_covers_what_was_stored_since_the_previous_runs_end():
    previous = END - timedelta(hours=1)
    window = monitor_window(NOW, last_end=previous, promoted_at=END - timedelta(minutes=5))
    assert (window.start, window.end, window.since) == (previous, END, "last_run")
    assert window.to_dict()["hours"] == 1.0


def test_the_first_run_covers_the_last_24_hours_when_production_is_older():
    window = monitor_window(NOW, last_end=None, promoted_at=NOW - timedelta(days=3))
    assert (window.start, window.since) == (END - FIRST_RUN_LOOKBACK, "lookback")


def test_the_first_run_starts_at_a_recent_promotion():
    promoted = NOW - timedelta(hours=2)  # 10:00:30.25: captures stored from 10:00:30 on are after it
    window = monitor_window(NOW, last_end=None, promoted_at=promoted)
    assert (window.start, window.since) == (datetime(2024, 5, 1, 10, 0, 29, tzinfo=UTC), "promotion")


def test_the_first_run_without_a_production_model_looks_back_24_hours():
    assert monitor_window(NOW, last_end=None, promoted_at=None).start == END - timedelta(hours=24)


def test_two_runs_in_the_same_second_never_make_a_window_that_ends_before_it_starts():
    window = monitor_window(NOW, last_end=END + timedelta(seconds=5), promoted_at=None)
    assert window.start == window.end == END


def test_a_naive_previous_end_is_refused():
    with pytest.raises(ValueError, match="naive"):
        monitor_window(NOW, last_end=datetime(2024, 5, 1), promoted_at=None)


# ---- the decision table -------------------------------------------------------------------------


@pytest.mark.parametrize(("feature", "prediction", "degraded", "labelled", "retrain", "trigger", "alerts"), [
    # drift with enough labels: alert and retrain on them
    (True, False, None, 500, True, TRIGGER_DRIFT, (AlertKind.DRIFT_DETECTED,)),
    (None, True, None, 900, True, TRIGGER_DRIFT, (AlertKind.DRIFT_DETECTED,)),
    # drift without enough labels: alert only, never train on unlabelled traffic
    (True, None, None, 0, False, None, (AlertKind.DRIFT_DETECTED,)),
    (True, True, None, 499, False, None, (AlertKind.DRIFT_DETECTED,)),
    # degradation without drift, with enough labels: retrain
    (False, False, True, 500, True, TRIGGER_DEGRADATION, (AlertKind.DEGRADATION,)),
    # both: one retraining, named after the drift; both alerts
    (True, False, True, 600, True, TRIGGER_DRIFT, (AlertKind.DRIFT_DETECTED, AlertKind.DEGRADATION)),
    # nothing: no action, whatever the labels
    (False, False, False, 10_000, False, None, ()),
    (None, None, None, 0, False, None, ()),
])
def test_the_decision_table(feature, prediction, degraded, labelled, retrain, trigger, alerts):
    decision = decide(feature_drift=feature, prediction_drift=prediction, degraded=degraded, labelled_rows=labelled,
                      min_labelled_rows=500)
    assert (decision.retrain, decision.trigger, decision.alerts) == (retrain, trigger, alerts)
    assert decision.enough_labels == (labelled >= 500)


def test_the_decision_says_why_it_did_not_retrain():
    decision = decide(feature_drift=True, prediction_drift=None, degraded=None, labelled_rows=12, min_labelled_rows=500)
    assert "12 labelled rows < 500" in decision.reason and "alert only" in decision.reason
    assert decision.to_dict()["alerts"] == ["drift_detected"]


# ---- per-version metrics ------------------------------------------------------------------------


def _joined(version: str, truth: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"model_version": version, "prediction": predicted, TARGET: truth})


def test_metrics_per_version_and_degradation_against_each_versions_promotion_rmse():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.5, 5.0, 600)
    joined = pd.concat([_joined("v0001", truth, truth + 0.5), _joined("v0002", truth, truth + 0.1)])
    out = version_metrics(joined, TARGET, {"v0001": 0.3, "v0002": 0.3}, max_ratio=1.2, min_rows=500)
    assert list(out) == ["v0001", "v0002"]
    assert out["v0001"]["rmse"] == pytest.approx(0.5) and out["v0001"]["mae"] == pytest.approx(0.5)
    assert out["v0001"]["labelled_rows"] == 600 and out["v0001"]["degraded"] is True
    assert out["v0001"]["degradation_ratio"] == pytest.approx(0.5 / 0.3)
    assert out["v0002"]["degraded"] is False and out["v0002"]["r2"] > 0.99


def test_too_few_rows_or_no_promotion_rmse_is_not_judged():
    truth = np.linspace(1, 3, 20)
    joined = pd.concat([_joined("v0001", truth, truth * 3), _joined("v0009", truth, truth)])
    out = version_metrics(joined, TARGET, {"v0001": 0.1, "v0009": None}, max_ratio=1.2, min_rows=500)
    assert out["v0001"]["degraded"] is None and "too few labelled rows" in out["v0001"]["reason"]
    assert out["v0009"]["degraded"] is None and "no promotion RMSE" in out["v0009"]["reason"]


def test_no_labelled_rows_no_metrics():
    empty = pd.DataFrame({"model_version": pd.Series(dtype=object), "prediction": pd.Series(dtype=float),
                          TARGET: pd.Series(dtype=float)})
    assert version_metrics(empty, TARGET, {}, max_ratio=1.2, min_rows=1) == {}


# ---- frames and the report ----------------------------------------------------------------------


def _record(i: int, **features) -> dict:
    return {"prediction_id": f"ID-{i}", "ts": "2024-05-01T12:00:00.000Z", "model_version": "v0001",
            "features": {**DEFAULT_SCHEMA.example_record(), **features}, "prediction": 2.0 + i, "latency_ms": 1.0}


def test_capture_records_become_one_typed_row_each():
    frame = capture_frame([_record(0), _record(1, MedInc=None)], DEFAULT_SCHEMA.feature_names)
    assert frame["prediction_id"].tolist() == ["id-0", "id-1"]
    assert frame["prediction"].tolist() == [2.0, 3.0]
    assert frame["MedInc"].dtype == "float64" and np.isnan(frame["MedInc"][1])
    assert training_batch(frame.assign(**{TARGET: 1.0}), DEFAULT_SCHEMA.all_columns).columns.tolist() == \
        DEFAULT_SCHEMA.all_columns


def test_no_records_give_an_empty_frame_with_every_column():
    frame = capture_frame([], DEFAULT_SCHEMA.feature_names)
    assert frame.empty and {"prediction_id", "model_version", "prediction", *DEFAULT_SCHEMA.feature_names} <= set(frame)


def test_the_report_escapes_what_it_shows_and_embeds_evidentlys_page():
    record = RunRecord(run_id="r1", at="now", trigger="scheduled",
                       window={"start": "a", "end": "b", "since": "lookback", "hours": 1.0}, production_version="v0001",
                       actions=["alert:drift_detected"], decision={"reason": "<b>drift</b>"})
    page = render_report(record, "<html><script>evidently()</script></html>")
    assert "&lt;b&gt;drift&lt;/b&gt;" in page and "<b>drift</b>" not in page
    assert 'srcdoc="&lt;html&gt;&lt;script&gt;evidently()' in page and "alert:drift_detected" in page
    assert "No feature drift report" in render_report(record, None)
