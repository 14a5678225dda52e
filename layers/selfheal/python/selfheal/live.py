"""Monitoring live traffic: the pure parts of a monitor run (window, frames, metrics, decision, report).

A run (``selfheal.flows.live``, MonitorFunction) looks at the predictions captured since the
previous run (``selfheal.capture``) and at every label joined to the captures kept
(``selfheal.labels``). What it decides is a table of two questions:

==========================================  ==================  ===============================
                                            labelled rows       labelled rows
                                            >= MinLabelledRows  < MinLabelledRows
==========================================  ==================  ===============================
drift (features or predictions)             alert, retrain      alert only (never train on
                                                                unlabelled traffic)
production degraded (no drift)              alert, retrain      (not judged: too few rows)
neither                                     nothing             nothing
==========================================  ==================  ===============================

Degradation is judged per model version, and only with at least ``MinLabelledRows`` labelled
rows of that version: an RMSE over a handful of rows would alert on noise.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from selfheal.alerts import AlertKind
from selfheal.capture import CaptureRecord
from selfheal.clock import as_utc
from selfheal.contracts import Trigger
from selfheal.labels import ID_COLUMN
from selfheal.metrics import regression_metrics
from selfheal.monitoring import degradation_check

FIRST_RUN_LOOKBACK = timedelta(hours=24)
# Below this many window records there is no feature or prediction drift verdict: with a reference
# over 1000 rows Evidently uses the normed Wasserstein distance, which a few rows push past its
# threshold by chance alone, hour after hour on a quiet endpoint.
MIN_DRIFT_ROWS = 100
TRIGGER_DRIFT = Trigger.LIVE_DRIFT
TRIGGER_DEGRADATION = Trigger.LIVE_DEGRADATION


# ---- the window ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Capture objects stored in ``(start, end]`` (S3 ``LastModified``) belong to the run."""

    start: datetime
    end: datetime
    since: str  # "last_run", "promotion" or "lookback": where ``start`` came from

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "since": self.since,
                "hours": round((self.end - self.start).total_seconds() / 3600, 3)}


def window_end(now: datetime) -> datetime:
    """The last whole second before ``now``'s.

    S3 reports ``LastModified`` in whole seconds: an object stored later in ``now``'s own second
    has the same ``LastModified`` as one stored before the listing. Ending the window a second
    earlier leaves both to the next run, so no object is missed and none is counted twice.
    """
    return as_utc(now).replace(microsecond=0) - timedelta(seconds=1)


def monitor_window(now: datetime, *, last_end: datetime | None, promoted_at: datetime | None,
                   lookback: timedelta = FIRST_RUN_LOOKBACK) -> Window:
    """Since the previous run's end; on the first run, since the production promotion or ``lookback``
    ago, whichever is later (traffic before the promotion was answered by another model)."""
    end = window_end(now)
    if last_end is not None:
        return Window(min(as_utc(last_end), end), end, "last_run")
    earliest = end - lookback
    if promoted_at is not None and as_utc(promoted_at) > earliest:
        # From the second before the promotion's: a capture stored in that same second has a
        # LastModified (whole seconds) earlier than the promotion itself.
        return Window(min(window_end(promoted_at), end), end, "promotion")
    return Window(earliest, end, "lookback")


# ---- captured records as a frame ----------------------------------------------------------------


def capture_frame(records: Iterable[CaptureRecord], features: Sequence[str]) -> pd.DataFrame:
    """One row per record: ``prediction_id``, ``ts``, ``model_version``, ``prediction`` and the features.

    A feature missing from a record is NaN; ids are lower case (as labels are compared).
    """
    ids: list[str] = []
    ts: list[str] = []
    versions: list[str] = []
    predictions: list[float] = []
    columns: dict[str, list[Any]] = {name: [] for name in features}
    for record in records:
        values = record.get("features") or {}
        ids.append(record["prediction_id"].lower())
        ts.append(record.get("ts", ""))
        versions.append(record.get("model_version", ""))
        predictions.append(record.get("prediction", math.nan))
        for name, column in columns.items():
            column.append(values.get(name))
    frame = pd.DataFrame({ID_COLUMN: pd.Series(ids, dtype=object), "ts": pd.Series(ts, dtype=object),
                          "model_version": pd.Series(versions, dtype=object),
                          "prediction": pd.to_numeric(pd.Series(predictions, dtype=object), errors="coerce")})
    for name, column in columns.items():
        series = pd.Series(column, dtype=object)
        numeric = pd.to_numeric(series, errors="coerce")
        # A categorical feature stays text; a numeric one becomes float64 (None -> NaN).
        frame[name] = numeric if numeric.notna().sum() == series.notna().sum() else series
    return frame


def sample(frame: pd.DataFrame, max_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """At most ``max_rows`` rows, seeded (reruns agree)."""
    return frame.sample(n=max_rows, random_state=seed) if len(frame) > max_rows else frame


# ---- labelled metrics per version ---------------------------------------------------------------


class VersionMetrics(TypedDict):
    labelled_rows: int
    rmse: float
    mae: float
    r2: float
    promotion_rmse: float | None  # the version's holdout RMSE when it was trained
    degradation_ratio: float | None
    degraded: bool | None  # None: not judged (too few rows, or no promotion RMSE)
    reason: str


def version_metrics(joined: pd.DataFrame, target: str, promotion_rmse: Mapping[str, float | None], *,
                    max_ratio: float, min_rows: int) -> dict[str, VersionMetrics]:
    """Live RMSE, MAE and R² of each model version on its labelled predictions, and its degradation."""
    out: dict[str, VersionMetrics] = {}
    usable = joined[np.isfinite(joined["prediction"].to_numpy(dtype=float))]
    for version, rows in sorted(usable.groupby("model_version"), key=lambda item: str(item[0])):
        metrics = regression_metrics(rows[target].to_numpy(), rows["prediction"].to_numpy())
        reference = promotion_rmse.get(str(version))
        entry: VersionMetrics = {"labelled_rows": len(rows), "rmse": metrics["rmse"], "mae": metrics["mae"],
                                 "r2": metrics["r2"], "promotion_rmse": reference, "degradation_ratio": None,
                                 "degraded": None, "reason": ""}
        if reference is None:
            entry["reason"] = "no promotion RMSE recorded for this version"
        elif len(rows) < min_rows:
            entry["reason"] = f"too few labelled rows to judge ({len(rows)} < {min_rows})"
        else:
            check = degradation_check(metrics["rmse"], reference, max_ratio=max_ratio)
            entry["degradation_ratio"], entry["degraded"], entry["reason"] = check.ratio, check.degraded, check.reason
        out[str(version)] = entry
    return out


def training_batch(joined: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The labelled captured rows as a batch FixData takes: the schema's columns, in its order."""
    return joined[list(columns)].reset_index(drop=True)


# ---- the decision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    drift: bool
    degraded: bool
    enough_labels: bool
    retrain: bool
    trigger: str | None
    alerts: tuple[AlertKind, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"drift": self.drift, "degraded": self.degraded, "enough_labels": self.enough_labels,
                "retrain": self.retrain, "trigger": self.trigger, "alerts": [a.value for a in self.alerts],
                "reason": self.reason}


def decide(*, feature_drift: bool | None, prediction_drift: bool | None, degraded: bool | None,
           labelled_rows: int, min_labelled_rows: int) -> Decision:
    """The table in the module docstring. ``None`` (not measured) counts as no."""
    drift = bool(feature_drift) or bool(prediction_drift)
    worse = bool(degraded)
    enough = labelled_rows >= min_labelled_rows
    alerts = tuple(kind for kind, found in ((AlertKind.DRIFT_DETECTED, drift), (AlertKind.DEGRADATION, worse)) if found)
    found = " and ".join(name for name, hit in (("drift", drift), ("degradation", worse)) if hit)
    if not found:
        return Decision(False, False, enough, False, None, (), "no drift and no degradation")
    if not enough:
        return Decision(drift, worse, False, False, None, alerts,
                        f"{found} found; {labelled_rows} labelled rows < {min_labelled_rows}: alert only, "
                        "no retraining on unlabelled traffic")
    trigger = TRIGGER_DRIFT if drift else TRIGGER_DEGRADATION
    return Decision(drift, worse, True, True, trigger, alerts,
                    f"{found} found; retraining on {labelled_rows} labelled rows")


# ---- the run's record and its HTML report -------------------------------------------------------


@dataclass
class RunRecord:
    """``monitoring/runs/<run id>.json``: one per run, the performance history the console charts."""

    run_id: str
    at: str
    trigger: str
    window: dict[str, Any]
    production_version: str | None
    records: int = 0
    records_by_version: dict[str, int] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    labelled_rows: int = 0
    unmatched_label_ids: int = 0
    feature_drift_share: float | None = None
    feature_drift: bool | None = None
    column_scores: dict[str, Any] = field(default_factory=dict)
    feature_drift_detail: dict[str, Any] = field(default_factory=dict)
    prediction_drift: dict[str, Any] = field(default_factory=dict)
    target_drift: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, VersionMetrics] = field(default_factory=dict)
    degradation: dict[str, Any] | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    execution_arn: str | None = None
    retrain_batch_key: str | None = None
    report_key: str = ""
    record_key: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return html.escape(json.dumps(value, default=str))
    return html.escape("" if value is None else str(value))


def _table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(record: RunRecord, feature_report_html: str | None) -> str:
    """One HTML page: the run's summary, per-version metrics, drift verdicts, then Evidently's feature report."""
    r = record
    summary = [("window", f"{r.window['start']} .. {r.window['end']} ({r.window['since']})"),
               ("production version", r.production_version), ("records in the window", r.records),
               ("labelled rows (retention)", r.labelled_rows), ("unmatched label ids", r.unmatched_label_ids),
               ("feature drift share", r.feature_drift_share), ("feature drift", r.feature_drift),
               ("prediction drift", r.prediction_drift.get("drifted")), ("target drift", r.target_drift.get("drifted")),
               ("decision", r.decision.get("reason")), ("actions", ", ".join(r.actions) or "none"),
               ("execution", r.execution_arn)]
    versions = [(v, m["labelled_rows"], m["rmse"], m["mae"], m["r2"], m["promotion_rmse"], m["degradation_ratio"],
                 m["degraded"], m["reason"]) for v, m in r.versions.items()]
    drift = [(name, d.get("drifted"), d.get("score"), d.get("method"), d.get("threshold"), d.get("rows_reference"),
              d.get("rows_current"), d.get("reason", "")) for name, d in
             (("prediction", r.prediction_drift), ("target", r.target_drift))]
    columns = [(c, s.get("score"), s.get("method"), s.get("threshold"), s.get("drifted"))
               for c, s in r.column_scores.items()]
    evidently = (f'<iframe title="Evidently feature drift report" srcdoc="{html.escape(feature_report_html)}"></iframe>'
                 if feature_report_html else f"<p>No feature drift report: {_cell(r.feature_drift_detail.get('reason'))}</p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Monitor run {html.escape(r.run_id)}</title>
<style>body{{font-family:sans-serif;margin:1.5rem}}table{{border-collapse:collapse;margin-bottom:1.5rem}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}}iframe{{width:100%;height:80rem;border:0}}</style>
</head><body>
<h1>Monitor run {html.escape(r.run_id)}</h1>
{_table(summary, ("", ""))}
<h2>Labelled predictions per model version</h2>
{_table(versions, ("version", "labelled rows", "RMSE", "MAE", "R²", "promotion RMSE", "ratio", "degraded", "reason"))}
<h2>Prediction and target drift</h2>
{_table(drift, ("what", "drifted", "score", "method", "threshold", "reference rows", "current rows", "note"))}
<h2>Feature drift per column</h2>
{_table(columns, ("column", "score", "method", "threshold", "drifted"))}
{evidently}
</body></html>
"""
