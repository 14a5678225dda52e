"""Drift detection with Evidently on small synthetic California-housing-shaped batches."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    # evidently 0.7.23 imports its UI package, which calls litestar's Dependency(), deprecated
    # since litestar 2.23; litestar attributes the warning to itself, so pyproject's
    # "DeprecationWarning:evidently.*" filter misses it. Import-time only, hence not a mark.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"litestar\.")
    from selfheal.drift import detect_drift, report_key
from selfheal.exceptions import DataQualityError, SchemaError
from selfheal.schema import CALIFORNIA_HOUSING

COLUMNS = CALIFORNIA_HOUSING.numeric_names
# Rough centre and spread of each California housing feature.
SHAPE = {
    "MedInc": (3.9, 1.9),
    "HouseAge": (28.6, 12.6),
    "AveRooms": (5.4, 2.5),
    "AveBedrms": (1.1, 0.5),
    "Population": (1425.0, 1132.0),
    "AveOccup": (3.1, 1.0),
    "Latitude": (35.6, 2.1),
    "Longitude": (-119.6, 2.0),
}


def batch(rows: int, *, seed: int, shifted: tuple[str, ...] = ()) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {}
    for column in COLUMNS:
        mean, std = SHAPE[column]
        if column in shifted:
            mean += 1.5 * std  # a shift anyone would call drift
        data[column] = rng.normal(mean, std, rows)
    data["MedHouseVal"] = rng.uniform(0.5, 5.0, rows)
    return pd.DataFrame(data)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return batch(3000, seed=1)


def test_same_distribution_is_not_drift(reference: pd.DataFrame) -> None:
    result = detect_drift(reference, batch(2000, seed=2), columns=COLUMNS)

    assert result.dataset_drift is False
    assert result.drifted_columns == []
    assert result.drifted_share == 0.0
    assert set(result.column_scores) == set(COLUMNS)
    for score in result.column_scores.values():
        # Reference above 1000 rows: Evidently's normed Wasserstein distance, drift at >= 0.1.
        assert score["method"] == "Wasserstein distance (normed)"
        assert score["threshold"] == 0.1
        assert score["score"] < score["threshold"]
        assert score["drifted"] is False
    assert (result.rows_reference, result.rows_current) == (3000, 2000)
    assert "<html" in result.html.lower() and len(result.html) > 10_000


def test_several_shifted_columns_are_dataset_drift(reference: pd.DataFrame) -> None:
    shifted = ("MedInc", "HouseAge", "AveRooms", "Population", "AveOccup")
    result = detect_drift(reference, batch(2000, seed=3, shifted=shifted), columns=COLUMNS)

    assert result.dataset_drift is True
    assert sorted(result.drifted_columns) == sorted(shifted)
    assert result.drifted_share == pytest.approx(5 / 8)
    for column in shifted:
        assert result.column_scores[column]["score"] >= 0.1
        assert result.column_scores[column]["drifted"] is True


def test_one_shifted_column_is_reported_but_below_the_share(reference: pd.DataFrame) -> None:
    result = detect_drift(reference, batch(2000, seed=4, shifted=("MedInc",)), columns=COLUMNS)
    assert result.drifted_columns == ["MedInc"]
    assert result.dataset_drift is False
    lenient = detect_drift(
        reference, batch(2000, seed=4, shifted=("MedInc",)), columns=COLUMNS, threshold_share=0.125
    )
    assert lenient.dataset_drift is True


def test_small_reference_uses_a_p_value_test_and_still_finds_drift() -> None:
    result = detect_drift(
        batch(500, seed=5), batch(500, seed=6, shifted=("MedInc", "Latitude")), columns=["MedInc", "Latitude"]
    )
    assert result.column_scores["MedInc"]["method"] == "K-S p_value"
    assert result.column_scores["MedInc"]["score"] < 0.05  # a p-value: small means different
    assert result.dataset_drift is True


def test_large_reference_is_sampled(reference: pd.DataFrame) -> None:
    result = detect_drift(reference, batch(500, seed=7), columns=["MedInc"], max_reference_rows=1500)
    assert result.rows_reference == 1500


def test_summary_is_json_without_the_html(reference: pd.DataFrame) -> None:
    summary = detect_drift(reference, batch(500, seed=8), columns=["MedInc", "AveRooms"]).summary()
    assert "html" not in summary
    assert json.loads(json.dumps(summary))["column_scores"]["MedInc"]["drifted"] is False


def test_missing_columns_and_empty_batches_are_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(SchemaError, match="MedInc"):
        detect_drift(reference, batch(100, seed=9).drop(columns=["MedInc"]), columns=COLUMNS)
    with pytest.raises(DataQualityError):
        detect_drift(reference, batch(100, seed=9).iloc[0:0], columns=COLUMNS)


def test_report_key_sorts_by_time_and_needs_an_aware_time() -> None:
    key = report_key(datetime(2024, 5, 1, 12, 30, 5, 42, tzinfo=UTC))
    assert key == "reports/20240501T123005.000042Z-drift.html"
    assert report_key(datetime(2024, 5, 1, 12, 30, 6, tzinfo=UTC)) > key
    with pytest.raises(ValueError):
        report_key(datetime(2024, 5, 1, 12, 30))
