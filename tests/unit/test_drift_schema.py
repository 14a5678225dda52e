"""Drift on a user's dataset: categorical and boolean columns get Evidently's categorical tests,
numeric and integer ones its numerical tests, and id and date columns are never compared."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():
    # evidently 0.7.23 imports litestar, whose Dependency() is deprecated (see test_drift.py).
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"litestar\.")
    from selfheal.drift import detect_drift, drift_columns
from selfheal.schema import CALIFORNIA_HOUSING, schema_from_file_dict

SCHEMA = schema_from_file_dict({
    "name": "homes",
    "target": {"name": "price", "unit": "USD", "minimum": 10000, "maximum": 10000000},
    "columns": [
        {"name": "sqft", "kind": "numeric", "minimum": 100, "maximum": 20000},
        {"name": "bedrooms", "kind": "integer", "minimum": 0, "maximum": 20},
        {"name": "zipcode", "kind": "categorical", "levels": ["98103", "98105", "98112", "98115", "98117", "98199"],
         "other": "other"},
        {"name": "waterfront", "kind": "boolean", "levels": ["0", "1"]},
        {"name": "id", "kind": "id"},
        {"name": "date", "kind": "date"},
    ],
})
ZIPS = ["98103", "98105", "98112", "98115", "98117", "98199"]
SHARES = [0.3, 0.2, 0.2, 0.1, 0.1, 0.1]
MOVED = [0.1, 0.1, 0.1, 0.2, 0.2, 0.3]
CATEGORICAL = {"method": "Jensen-Shannon distance", "threshold": 0.1}  # Evidently, reference > 1000 rows
NUMERICAL = {"method": "Wasserstein distance (normed)", "threshold": 0.1}


def batch(rows: int, *, seed: int, zip_shares: list[float] = SHARES, waterfront: float = 0.1) -> pd.DataFrame:
    """A fixed batch as FixData writes it: levels as strings, numbers as floats, id and date kept."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(rows) + 1000 * seed,  # never the same ids: compared, they would drift
        "date": pd.date_range("2014-01-01", periods=rows, freq="h").astype(str).map(lambda d: d[:10]),
        "sqft": rng.normal(2000, 500, rows).round(),
        # More than 5 distinct values: Evidently gives a numerical column with 5 or fewer a
        # categorical-style test (chi-squared/Z, or Jensen-Shannon), whatever we declare.
        "bedrooms": rng.integers(1, 9, rows).astype(float),
        "zipcode": rng.choice(ZIPS, rows, p=zip_shares),
        "waterfront": np.where(rng.random(rows) < waterfront, "1", "0"),
        "price": rng.normal(450_000, 80_000, rows),
    })


def read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the pipeline reads a stored CSV back: pandas guesses int zip codes and 0/1."""
    return pd.read_csv(io.BytesIO(frame.to_csv(index=False).encode()))


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return read_back(batch(2000, seed=1))


def test_drift_columns_follow_the_schema_kinds():
    assert drift_columns(SCHEMA) == {"sqft": "numerical", "bedrooms": "numerical",
                                     "zipcode": "categorical", "waterfront": "categorical"}
    # Listed or not, id and date are left out; the target is numerical; an unknown column is left to the data.
    assert drift_columns(SCHEMA, ["id", "date", "price", "prediction"]) == {"price": "numerical"}
    assert set(drift_columns(CALIFORNIA_HOUSING).values()) == {"numerical"}


def test_same_distribution_is_not_drift_and_each_kind_gets_its_test(reference):
    assert reference["zipcode"].dtype.kind == "i" and reference["waterfront"].dtype.kind == "i"
    result = detect_drift(reference, batch(1000, seed=2), schema=SCHEMA)

    assert result.drifted_columns == []
    assert result.dataset_drift is False
    assert list(result.column_scores) == ["sqft", "bedrooms", "zipcode", "waterfront"]  # never id, date
    for column in ("zipcode", "waterfront"):
        score = result.column_scores[column]
        assert {k: score[k] for k in ("method", "threshold")} == CATEGORICAL, column
        assert score["kind"] == "categorical"
        assert score["score"] < 0.1, column  # 98103 (int) and "98103" (text) are one level
    for column in ("sqft", "bedrooms"):
        score = result.column_scores[column]
        assert {k: score[k] for k in ("method", "threshold")} == NUMERICAL, column
        assert score["kind"] == "numerical"


def test_a_level_whose_share_moves_is_drift(reference):
    moved = batch(1000, seed=3, zip_shares=MOVED, waterfront=0.4)
    result = detect_drift(reference, moved, columns=["id", "date", *SCHEMA.feature_names], schema=SCHEMA)

    assert sorted(result.drifted_columns) == ["waterfront", "zipcode"]
    assert result.column_scores["zipcode"]["score"] >= 0.1
    assert result.column_scores["waterfront"]["drifted"] is True
    assert result.drifted_share == pytest.approx(0.5)
    assert result.dataset_drift is True
    assert "id" not in result.column_scores and "date" not in result.column_scores


def test_folded_values_new_to_the_reference_are_drift_when_they_are_many(reference):
    current = batch(1000, seed=4)
    current.loc[: 399, "zipcode"] = "other"  # 40% of the batch in zip codes the schema does not know
    result = detect_drift(reference, current, columns=["zipcode"], schema=SCHEMA)
    assert result.drifted_columns == ["zipcode"]


def test_small_reference_uses_chi_squared_and_z_tests():
    # At most 1000 reference rows: p-values (drift when p < 0.05), so a same-distribution sample is
    # flagged 5% of the time by chance; the distance tests above are the ones to judge "no drift" by.
    reference = read_back(batch(600, seed=5))
    moved = detect_drift(reference, batch(400, seed=7, zip_shares=MOVED, waterfront=0.4),
                         columns=["zipcode", "waterfront"], schema=SCHEMA)
    assert moved.column_scores["zipcode"]["method"] == "chi-square p_value"
    assert moved.column_scores["waterfront"]["method"] == "Z-test p_value"  # two levels
    assert moved.drifted_columns == ["zipcode", "waterfront"]
    assert moved.column_scores["zipcode"]["score"] < 0.05  # a p-value: small means different


def test_without_a_schema_an_integer_coded_column_would_be_numerical(reference):
    result = detect_drift(reference, read_back(batch(1000, seed=2)), columns=["zipcode"])
    assert result.column_scores["zipcode"]["kind"] == "numerical"
    assert result.column_scores["zipcode"]["method"] == NUMERICAL["method"]


def test_the_default_schema_gives_the_same_result_with_or_without_it():
    rng = np.random.default_rng(8)
    columns = CALIFORNIA_HOUSING.feature_names
    reference = pd.DataFrame({c: rng.normal(10, 2, 1200) for c in columns})
    current = pd.DataFrame({c: rng.normal(10.5 if c == "MedInc" else 10, 2, 800) for c in columns})
    plain = detect_drift(reference, current, columns=columns).summary()
    with_schema = detect_drift(reference, current, schema=CALIFORNIA_HOUSING).summary()
    assert with_schema == plain
    assert {s["kind"] for s in plain["column_scores"].values()} == {"numerical"}


def test_a_schema_or_columns_is_needed_and_only_excluded_columns_is_nothing():
    with pytest.raises(ValueError, match="columns"):
        detect_drift(pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="columns is empty"):
        detect_drift(pd.DataFrame({"id": [1]}), pd.DataFrame({"id": [1]}), columns=["id", "date"], schema=SCHEMA)
