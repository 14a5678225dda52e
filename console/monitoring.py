"""Monitoring runs and alerts as the console shows them: pure shaping of what the layer writes (no I/O).

MonitorFunction (``selfheal.flows.live``) writes one JSON record per run under ``monitoring/runs/``
and an HTML report under ``reports/monitor/``, both named by the run id (``20240501T120000.123456Z``,
so key order is time order). Every alert is an ``alert_sent`` audit item (``selfheal.alerts``) whose
``details`` hold the alert's id, kind, the sort key of the decision it is about, and the message.
The routers read those objects and items; these functions decide what of them reaches the page.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The layer's contract (``selfheal.flows.live.RUNS_PREFIX``/``REPORTS_PREFIX``), written again here
# because importing the flow would import Evidently into the console; a unit test keeps them equal.
RUNS_PREFIX = "monitoring/runs/"
REPORTS_PREFIX = "reports/monitor/"
# A version's ONNX predictions on its holdout, the reference of prediction drift
# (``selfheal.registry.HOLDOUT_PREDICTIONS_FILE``, beside the version's manifest).
HOLDOUT_PREDICTIONS = "holdout_predictions.json"
# One path segment after a known prefix: no "..", no slashes, no leading dot.
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_KEYS = {"run": re.compile(rf"{re.escape(RUNS_PREFIX)}{_NAME}\.json"),
         "report": re.compile(rf"{re.escape(REPORTS_PREFIX)}{_NAME}\.html")}
CONTENT_TYPES = {"run": "application/json", "report": "text/html"}
HISTOGRAM_BINS = 24
_VERSION_FIELDS = ("labelled_rows", "rmse", "mae", "r2", "promotion_rmse", "degradation_ratio", "degraded")
_PREDICTION_DRIFT_FIELDS = ("drifted", "score", "method", "threshold", "version", "reason", "rows_current")


class InvalidKeyError(ValueError):
    """A key that is not a monitoring record or report of the data bucket."""


def key_kind(key: str, kinds: Iterable[str] = ("run", "report")) -> str:
    """``"run"`` or ``"report"`` for a valid key of one of ``kinds``; ``InvalidKeyError`` otherwise."""
    if ".." not in key:
        for kind in kinds:
            if _KEYS[kind].fullmatch(key):  # fullmatch: "$" would let a trailing newline through
                return kind
    raise InvalidKeyError(f"not a monitoring key: {key[:200]!r} (expected {RUNS_PREFIX}<run id>.json "
                          f"or {REPORTS_PREFIX}<run id>.html)")


def _number(value: Any) -> float | None:
    """A finite number, else ``None`` (the layer writes ``NaN`` for an R² over one row)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def run_summary(key: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """What the monitoring page needs of one run record: small, and the same fields whatever the record."""
    detail = doc.get("feature_drift_detail") or {}
    scores = doc.get("column_scores") or {}
    prediction = doc.get("prediction_drift") or {}
    decision = doc.get("decision") or {}
    versions = {str(v): {f: m.get(f) for f in _VERSION_FIELDS} for v, m in (doc.get("versions") or {}).items()
                if isinstance(m, Mapping)}
    for metrics in versions.values():
        for name in ("rmse", "mae", "r2", "promotion_rmse", "degradation_ratio"):
            metrics[name] = _number(metrics[name])
    run_id = str(doc.get("run_id") or key.removeprefix(RUNS_PREFIX).removesuffix(".json"))
    window = doc.get("window") or {}
    return {
        "key": key,
        "run_id": run_id,
        "at": doc.get("at") or window.get("end"),
        "trigger": doc.get("trigger"),
        "window": {k: window.get(k) for k in ("start", "end", "since", "hours")},
        "production_version": doc.get("production_version"),
        "unit": doc.get("unit"),  # of RMSE, MAE and predictions (runs before issue #12 recorded none)
        "records": doc.get("records"),
        "labelled_rows": doc.get("labelled_rows"),
        "unmatched_label_ids": doc.get("unmatched_label_ids"),
        "feature_drift_share": _number(doc.get("feature_drift_share")),
        "feature_drift": doc.get("feature_drift"),
        "feature_drift_reason": detail.get("reason"),
        "threshold_share": _number(detail.get("threshold_share")),
        "drifted_columns": detail.get("drifted_columns")
        or sorted(c for c, s in scores.items() if isinstance(s, Mapping) and s.get("drifted")),
        "prediction_drift": {f: prediction.get(f) for f in _PREDICTION_DRIFT_FIELDS},
        "versions": versions,
        "actions": [str(a) for a in doc.get("actions") or []],
        "decision": decision.get("reason"),
        "execution_arn": doc.get("execution_arn"),
        "report_key": doc.get("report_key") or f"{REPORTS_PREFIX}{run_id}.html",
    }


# ---- the prediction distribution ----------------------------------------------------------------


def bin_edges(*samples: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[float]:
    """``bins + 1`` equal-width edges spanning every sample, so two histograms share their bins."""
    values = [v for sample in samples for v in sample]
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    step = (hi - lo) / bins
    return [lo + i * step for i in range(bins)] + [hi]


def histogram(values: Iterable[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin ``[e_i, e_i+1)``, the last bin closed; values outside the edges are left out."""
    counts = [0] * max(len(edges) - 1, 0)
    if not counts:
        return counts
    for v in values:
        if edges[0] <= v <= edges[-1]:
            counts[min(bisect.bisect_right(edges, v) - 1, len(counts) - 1)] += 1
    return counts


def finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if _number(v) is not None]


def quantiles(values: Sequence[float], probs: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float]:
    """Linear-interpolated quantiles (NumPy's default), keyed ``"p5"``, ``"p50"``..."""
    if not values:
        return {}
    ordered = sorted(values)
    out: dict[str, float] = {}
    for p in probs:
        pos = p * (len(ordered) - 1)
        low = math.floor(pos)
        high = min(low + 1, len(ordered) - 1)
        out[f"p{round(p * 100)}"] = ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
    return out


def recorded_histogram(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """The window's histogram when the run record carries one (``prediction_distribution``:
    ``edges``, ``counts`` and optionally the holdout's ``reference_counts``), else ``None``."""
    dist = doc.get("prediction_distribution")
    if not isinstance(dist, Mapping):
        return None
    edges, counts = finite(dist.get("edges") or []), dist.get("counts")
    if len(edges) < 2 or not isinstance(counts, list) or len(counts) != len(edges) - 1:
        return None
    reference = dist.get("reference_counts")
    return {"edges": edges, "counts": [int(c) for c in counts],
            "reference_counts": [int(c) for c in reference] if isinstance(reference, list)
            and len(reference) == len(counts) else None}


def distribution(window: Sequence[float], holdout: Sequence[float] | None, *,
                 bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """The window's predictions and the holdout's on shared bins, with their sizes and quantiles."""
    edges = bin_edges(window, holdout or [], bins=bins)
    return {"edges": edges,
            "window": {"rows": len(window), "counts": histogram(window, edges), "quantiles": quantiles(window)},
            "holdout": None if holdout is None else {"rows": len(holdout), "counts": histogram(holdout, edges),
                                                     "quantiles": quantiles(holdout)}}


# ---- alerts -------------------------------------------------------------------------------------


def alert_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """One ``alert_sent`` audit item as a row of the alerts page."""
    details = item.get("details") or {}
    message = details.get("message") or {}
    versions = message.get("versions") or {}
    return {
        "sk": item.get("sk"),
        "timestamp": item.get("timestamp"),
        "alert_id": details.get("alert_id") or message.get("alert_id"),
        "kind": details.get("kind") or message.get("action"),
        "summary": message.get("summary") or item.get("reason"),
        "reason": message.get("reason") or "",
        "versions": {str(k): v for k, v in versions.items()} if isinstance(versions, Mapping) else {},
        "about": details.get("about"),
        "published": details.get("published"),
        "execution_arn": item.get("execution_arn") or message.get("execution_arn"),
        "message": message,
    }


def alert_link(item: Mapping[str, Any]) -> dict[str, Any]:
    """What an audit item shows of an alert about it: enough for a badge and a link."""
    details = item.get("details") or {}
    return {"sk": item.get("sk"), "alert_id": details.get("alert_id"), "kind": details.get("kind")}
