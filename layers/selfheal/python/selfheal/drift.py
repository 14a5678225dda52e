"""Data drift between a reference dataset and an incoming batch, with Evidently's DataDriftPreset.

Each column is declared to Evidently as numerical or categorical: from the schema when one is
given (``numeric``/``integer`` features and the target are numerical, ``categorical``/``boolean``
ones categorical, ``id``/``date`` columns are never compared), else from the reference's dtype.
Evidently then picks the test per column: with a reference of at most 1000 rows, numerical columns
get the Kolmogorov-Smirnov p-value and categorical ones chi-squared (Z-test for two levels), drift
when p < 0.05; above 1000 rows, numerical columns get the normed Wasserstein distance and
categorical ones the Jensen-Shannon distance, drift when >= 0.1. ``column_scores`` reports, per
column, how it was treated (``kind``), the method and threshold Evidently used and its own verdict,
so the direction of each comparison stays Evidently's business.

Categorical columns are compared as the schema's levels, matched as FixData matches them
(:func:`selfheal.quality.categorical_levels`): a reference read back from CSV holds an
integer-coded level as ``98004`` (or ``98004.0`` next to a NaN) and a boolean as ``True``, a fixed
batch as ``"98004"`` and ``"1"``; both become the level.

The reference is sampled down to ``max_reference_rows`` (seeded, so reruns agree) when larger:
the normed Wasserstein distance is stable long before that size, and run time grows with the
number of rows. The current batch is never sampled: it is what is being judged.

No I/O here: the caller stores ``DriftResult.html`` (see ``report_key``) and the summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from selfheal.clock import as_utc
from selfheal.exceptions import DataQualityError, SchemaError
from selfheal.quality import categorical_levels
from selfheal.schema import CATEGORICAL_KINDS, EXCLUDED_KINDS, Schema

DEFAULT_MAX_REFERENCE_ROWS = 20_000
REPORTS_PREFIX = "reports/"

# Evidently's snapshot dict, as of 0.7: metrics carry config.type and a value; per-column drift
# verdicts are tests with id "drift" pointing at their ValueDrift metric by metric_config.metric_id.
_VALUE_DRIFT = "evidently:metric_v2:ValueDrift"
_DRIFTED_COUNT = "evidently:metric_v2:DriftedColumnsCount"
_DRIFT_TEST_ID = "drift"
_TEST_FAILED = "FAIL"


ColumnKind = Literal["numerical", "categorical"]


class ColumnScore(TypedDict):
    """One column's drift test: how it was treated, Evidently's score, method, threshold and verdict."""

    kind: ColumnKind
    score: float
    method: str
    threshold: float
    drifted: bool


@dataclass(frozen=True)
class DriftResult:
    """Outcome of ``detect_drift``. ``html`` is the full Evidently report (several MB)."""

    drifted_share: float
    drifted_columns: list[str]
    column_scores: dict[str, ColumnScore]
    dataset_drift: bool
    threshold_share: float
    rows_reference: int
    rows_current: int
    html: str = field(repr=False)

    def summary(self) -> dict[str, Any]:
        """Everything but the HTML: small enough for a state payload or an audit item."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": self.drifted_share,
            "threshold_share": self.threshold_share,
            "drifted_columns": list(self.drifted_columns),
            "column_scores": {name: dict(score) for name, score in self.column_scores.items()},
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
        }


def drift_columns(schema: Schema, columns: Sequence[str] | None = None) -> dict[str, ColumnKind]:
    """The columns to compare and how (``numerical`` or ``categorical``), per the schema.

    ``columns`` defaults to the schema's features; id and date columns are always left out. A
    column the schema does not know (a model's prediction, say) is left out of the mapping: its
    kind then comes from the data.
    """
    names = list(schema.feature_names if columns is None else columns)
    kinds: dict[str, ColumnKind] = {}
    for name in names:
        try:
            kind = schema.kind_of(name)
        except KeyError:
            continue
        if kind not in EXCLUDED_KINDS:
            kinds[name] = "categorical" if kind in CATEGORICAL_KINDS else "numerical"
    return kinds


def detect_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    schema: Schema | None = None,
    threshold_share: float = 0.5,
    max_reference_rows: int = DEFAULT_MAX_REFERENCE_ROWS,
    random_state: int = 0,
) -> DriftResult:
    """Compare ``current`` with ``reference`` on ``columns``.

    With a ``schema``, ``columns`` defaults to its features, its id and date columns are never
    compared (dropped from ``columns`` if listed), and each column's kind decides its test (see the
    module docstring); a column it does not know, and every column without a schema, is numerical
    when the reference's dtype is numeric and categorical otherwise.

    ``dataset_drift`` is True when the share of drifted columns is at least ``threshold_share``.
    ``rows_reference`` is the number of reference rows actually compared (after sampling).
    Raises ``SchemaError`` if a column is missing from either frame and ``DataQualityError`` if a
    frame has no rows.
    """
    if columns is None and schema is None:
        raise ValueError("give columns, a schema, or both")
    declared = drift_columns(schema, columns) if schema is not None else {}
    if columns is None:
        columns = list(declared)
    excluded = set(schema.excluded_names) if schema is not None else set()
    columns = [c for c in columns if c not in excluded]
    if not columns:
        raise ValueError("columns is empty")
    if not 0.0 < threshold_share <= 1.0:
        raise ValueError("threshold_share must be in (0, 1]")
    for label, frame in (("reference", reference), ("current", current)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"{label} data lacks columns {missing}", details={"frame": label, "missing": missing}
            )
        if frame.empty:
            raise DataQualityError(
                f"{label} data has no rows", reason="empty_batch", details={"frame": label}
            )

    if len(reference) > max_reference_rows:
        reference = reference.sample(n=max_reference_rows, random_state=random_state)
    reference = reference[columns].reset_index(drop=True)
    current = current[columns].reset_index(drop=True)

    kinds: dict[str, ColumnKind] = {
        c: declared.get(c) or ("numerical" if pd.api.types.is_numeric_dtype(reference[c]) else "categorical")
        for c in columns
    }
    if schema is not None and declared:
        reference = _as_declared(reference, declared, schema)
        current = _as_declared(current, declared, schema)
    definition = DataDefinition(
        numerical_columns=[c for c in columns if kinds[c] == "numerical"],
        categorical_columns=[c for c in columns if kinds[c] == "categorical"],
    )
    # include_tests=True is what makes Evidently emit its per-column drift verdicts.
    report = Report([DataDriftPreset(columns=columns, drift_share=threshold_share)], include_tests=True)
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    scores, share = _parse_snapshot(snapshot.dict(), kinds)
    drifted = [c for c in columns if scores[c]["drifted"]]
    return DriftResult(
        drifted_share=share,
        drifted_columns=drifted,
        column_scores=scores,
        dataset_drift=share >= threshold_share,
        threshold_share=threshold_share,
        rows_reference=len(reference),
        rows_current=len(current),
        html=snapshot.get_html_str(as_iframe=False),
    )


def _as_declared(frame: pd.DataFrame, kinds: dict[str, ColumnKind], schema: Schema) -> pd.DataFrame:
    """Categorical columns as the schema's levels, numerical ones as numbers, whatever a CSV reader guessed."""
    out = frame.copy()
    features = {c.name: c for c in schema.categorical}
    for column, kind in kinds.items():
        if kind == "categorical" and column in features:
            out[column] = categorical_levels(out[column], features[column])
        elif kind == "numerical" and not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = pd.to_numeric(out[column], errors="coerce")
    return out


def _parse_snapshot(snapshot: dict[str, Any], kinds: dict[str, ColumnKind]) -> tuple[dict[str, ColumnScore], float]:
    """Per-column scores and the drifted share out of an Evidently 0.7 snapshot dict."""
    verdicts = {
        test["metric_config"]["metric_id"]: test["status"] == _TEST_FAILED
        for test in snapshot.get("tests", [])
        if test.get("id") == _DRIFT_TEST_ID
    }
    scores: dict[str, ColumnScore] = {}
    share: float | None = None
    for metric in snapshot.get("metrics", []):
        config = metric["config"]
        if config.get("type") == _VALUE_DRIFT:
            if metric["id"] not in verdicts:
                raise RuntimeError(f"Evidently snapshot has no drift verdict for column {config['column']!r}")
            column = config["column"]
            scores[column] = {
                "kind": kinds.get(column, "numerical"),
                "score": float(metric["value"]),
                "method": str(config["method"]),
                "threshold": float(config["threshold"]),
                "drifted": verdicts[metric["id"]],
            }
        elif config.get("type") == _DRIFTED_COUNT:
            share = float(metric["value"]["share"])
    missing = [c for c in kinds if c not in scores]
    # A different snapshot shape means an Evidently upgrade changed its format: fail loudly rather
    # than report "no drift" from an empty parse.
    if missing or share is None:
        raise RuntimeError(f"unexpected Evidently snapshot: no ValueDrift for {missing} or no drifted share")
    return scores, share


def report_key(now: datetime, *, prefix: str = REPORTS_PREFIX) -> str:
    """S3 key for a drift report: ``reports/20240501T120000.123456Z-drift.html`` (sorts by time)."""
    return f"{prefix}{as_utc(now).strftime('%Y%m%dT%H%M%S.%fZ')}-drift.html"
