"""The console's monitoring and alert shaping, and its catalog of audit actions (no I/O)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from console.actions import ACTION_TONES, alert_kinds, audit_actions, member_comments
from console.monitoring import (
    HOLDOUT_PREDICTIONS,
    REPORTS_PREFIX,
    RUNS_PREFIX,
    InvalidKeyError,
    alert_link,
    alert_row,
    bin_edges,
    distribution,
    histogram,
    key_kind,
    quantiles,
    recorded_histogram,
    run_summary,
)
from selfheal.alerts import Alerter, AlertKind
from selfheal.audit import AuditAction

RUN = "20261203T095413.000000Z"


def test_the_keys_are_the_layers() -> None:
    live = pytest.importorskip("selfheal.flows.live")  # the monitor flow (issue 11), once it is in the layer
    from selfheal import registry

    assert (RUNS_PREFIX, REPORTS_PREFIX) == (live.RUNS_PREFIX, live.REPORTS_PREFIX)
    assert HOLDOUT_PREDICTIONS == registry.HOLDOUT_PREDICTIONS_FILE


@pytest.mark.parametrize(("key", "kind"), [(f"monitoring/runs/{RUN}.json", "run"),
                                           (f"reports/monitor/{RUN}.html", "report")])
def test_a_run_record_or_report_key_is_accepted(key: str, kind: str) -> None:
    assert key_kind(key) == kind


@pytest.mark.parametrize("key", [
    "reports/monitor/../../models/house-prices/aliases/production.json", "reports/monitor/..html",
    "reports/monitor/a/b.html", "reports/monitor/.hidden.html", f"reports/monitor/{RUN}.json",
    f"monitoring/runs/{RUN}.html", "monitoring/runs/.json", "reports/x-drift.html", "/etc/passwd",
    f"/monitoring/runs/{RUN}.json", f"monitoring/runs/{RUN}.json\n", "models/house-prices/v0001/manifest.json", "",
])
def test_any_other_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        key_kind(key)


def test_only_the_kinds_asked_for() -> None:
    with pytest.raises(InvalidKeyError):
        key_kind(f"reports/monitor/{RUN}.html", ("run",))


def test_run_summary_of_a_record_as_the_monitor_writes_it() -> None:
    live = pytest.importorskip("selfheal.live")
    doc = live.RunRecord(run_id=RUN, at="2026-12-03T09:54:13.000000Z", trigger="scheduled",
                    window={"start": "a", "end": "b", "since": "last_run", "hours": 1.0}, production_version="v0002",
                    records=1200, labelled_rows=40, feature_drift_share=0.6, feature_drift=True,
                    column_scores={"MedInc": {"drifted": True}, "HouseAge": {"drifted": False}},
                    feature_drift_detail={"threshold_share": 0.5},
                    versions={"v0002": {"labelled_rows": 1, "rmse": 0.4, "mae": 0.3, "r2": math.nan,
                                        "promotion_rmse": None, "degradation_ratio": None, "degraded": None,
                                        "reason": "too few"}},
                    actions=["alert:drift_detected"]).to_dict()
    s = run_summary(f"{RUNS_PREFIX}{RUN}.json", doc)
    assert s["run_id"] == RUN and s["threshold_share"] == 0.5 and s["feature_drift_share"] == 0.6
    assert s["drifted_columns"] == ["MedInc"]  # from the column scores when the detail has none
    assert s["versions"]["v0002"]["r2"] is None and s["versions"]["v0002"]["rmse"] == 0.4  # NaN is not JSON
    assert s["report_key"] == f"{REPORTS_PREFIX}{RUN}.html"  # a record without its report key names the usual one
    assert s["actions"] == ["alert:drift_detected"]


def test_histogram_counts_every_value_once_on_shared_bins() -> None:
    rng = np.random.default_rng(0)
    window, holdout = rng.normal(2, 0.5, 500).tolist(), rng.normal(1.5, 0.7, 300).tolist()
    d = distribution(window, holdout, bins=10)
    assert len(d["edges"]) == 11 and d["edges"][0] == min(window + holdout) and d["edges"][-1] == max(window + holdout)
    assert sum(d["window"]["counts"]) == 500 and sum(d["holdout"]["counts"]) == 300
    assert d["window"]["counts"] == np.histogram(window, bins=d["edges"])[0].tolist()  # NumPy's rule: last bin closed


def test_histogram_edge_cases() -> None:
    assert bin_edges([]) == [] and histogram([1.0], []) == []
    edges = bin_edges([3.0, 3.0], bins=4)
    assert edges[0] < 3.0 < edges[-1] and sum(histogram([3.0, 3.0], edges)) == 2
    assert histogram([-1.0, 0.0, 1.0, 2.0], [0.0, 0.5, 1.0]) == [1, 1]  # outside the edges: left out
    d = distribution([], None)
    assert d["window"] == {"rows": 0, "counts": [], "quantiles": {}} and d["holdout"] is None


def test_quantiles_interpolate_as_numpy() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0]
    assert quantiles(values) == pytest.approx({f"p{p}": np.percentile(values, p) for p in (5, 25, 50, 75, 95)})


def test_a_recorded_histogram_is_used_only_when_whole() -> None:
    good = {"prediction_distribution": {"edges": [0, 1, 2], "counts": [3, 4], "reference_counts": [1, 2]}}
    assert recorded_histogram(good) == {"edges": [0.0, 1.0, 2.0], "counts": [3, 4], "reference_counts": [1, 2]}
    for bad in ({}, {"prediction_distribution": {"edges": [0, 1, 2], "counts": [3]}},
                {"prediction_distribution": {"edges": [0], "counts": []}}, {"prediction_distribution": [1, 2]}):
        assert recorded_histogram(bad) is None


class RecordingTrail:
    """What ``Alerter`` needs of an ``AuditTrail``: ``record`` (kept in memory)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def record(self, action: str, reason: str, *, execution_arn: str | None = None,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
        item = {"sk": f"2026-12-03T09:00:0{len(self.items)}.000000Z#abc", "action": str(action), "reason": reason,
                "timestamp": "2026-12-03T09:00:00.000000Z", "details": details or {}}
        self.items.append(item)
        return item


def test_alert_row_of_an_alert_the_alerter_audited() -> None:
    trail = RecordingTrail()
    decision = trail.record(AuditAction.ROLLED_BACK, "smoke test failed")
    alert = Alerter(None, "", trail).send(AlertKind.ROLLBACK, "production rolled back v0003 -> v0002",  # type: ignore[arg-type]
                                          reason="smoke test failed", versions={"from": "v0003", "to": "v0002"},
                                          about=decision)  # type: ignore[arg-type]
    row = alert_row(trail.items[-1])
    assert row["kind"] == "rollback" and row["alert_id"] == alert.alert_id and row["about"] == decision["sk"]
    assert row["summary"] == "production rolled back v0003 -> v0002" and row["reason"] == "smoke test failed"
    assert row["versions"] == {"from": "v0003", "to": "v0002"} and row["published"] is False
    assert alert_link(trail.items[-1]) == {"sk": trail.items[-1]["sk"], "alert_id": alert.alert_id, "kind": "rollback"}


def test_every_audit_action_and_alert_kind_has_its_enum_comment_as_description() -> None:
    actions = audit_actions()
    assert [a["action"] for a in actions] == [a.value for a in AuditAction]
    assert all(a["description"] for a in actions), [a["action"] for a in actions if not a["description"]]
    assert {a["action"]: a["description"] for a in actions}["rolled_back"] == \
        "the production alias moved back to the last known good version"
    assert [k["kind"] for k in alert_kinds()] == [k.value for k in AlertKind] and all(k["description"] for k in alert_kinds())
    assert {a["tone"] for a in actions} <= {"good", "bad", "warn", "active", "neutral"}
    assert all(isinstance(a, AuditAction) for a in ACTION_TONES)


def test_an_enum_without_source_has_no_descriptions() -> None:
    from enum import Enum

    assert member_comments(Enum("Dynamic", {"A": "a"})) == {}
