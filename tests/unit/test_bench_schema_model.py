"""The schema benchmark's table and script (tests/benchmarks/realestate.py, bench_schema_model.py), small and offline."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_schema_model  # noqa: E402
import realestate  # noqa: E402

from selfheal.schema_inference import infer_schema, read_csv_bytes  # noqa: E402


def test_the_table_is_deterministic_and_shaped_like_an_assessors_export():
    a, b = realestate.generate(2_000, seed=5), realestate.generate(2_000, seed=5)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(realestate.generate(2_000, seed=6))
    assert a.shape == (2_000, 18) and a["id"].is_unique and not a.isna().any().any()
    assert 300_000 < a["price"].median() < 800_000


def test_its_inferred_schema_has_every_kind_and_a_log_dollar_target():
    schema = infer_schema(read_csv_bytes(realestate.to_csv_bytes(realestate.generate(20_000, seed=0))), "price")
    kinds = {f.name: f.kind for f in (*schema.numeric, *schema.categorical, *schema.excluded)}
    assert kinds == {"bedrooms": "integer", "bathrooms": "numeric", "sqft_living": "integer", "sqft_lot": "integer",
                     "floors": "numeric", "yr_built": "integer", "lat": "numeric", "long": "numeric",
                     "waterfront": "boolean", "view": "categorical", "condition": "categorical",
                     "grade": "categorical", "zipcode": "categorical", "neighbourhood": "categorical",
                     "property_type": "categorical", "id": "id", "date": "date"}
    assert (schema.target.unit, schema.target.transform) == ("USD", "log")
    neighbourhood = next(c for c in schema.categorical if c.name == "neighbourhood")
    assert "Vashon" not in neighbourhood.categories and neighbourhood.other == "other"  # rare: folded


def test_the_script_measures_a_users_csv(tmp_path, capsys):
    csv = tmp_path / "my sales.csv"
    frame = realestate.generate(1_500, seed=2)
    frame.loc[frame.index % 500 == 0, "neighbourhood"] = "Shoreline"  # 3 rows: rare, the schema folds it
    frame.to_csv(csv, index=False)
    result = bench_schema_model.measure(csv=csv, target="price")
    assert result["parity"]["passed"] and result["parity"]["basis"] == "relative"
    assert result["rows"] == 1_500 and result["model"]["r2"] > 0.7
    assert abs(result["r2_difference"] - (result["model"]["r2"] - result["baseline"]["r2"])) < 1e-12
    text = bench_schema_model.report(result)
    assert "model    holdout R²" in text and "baseline holdout R²" in text and "difference" in text
    assert bench_schema_model.main(["--csv", str(csv), "--target", "prize"]) == 2
    assert "did you mean 'price'" in capsys.readouterr().err
