"""The model for any schema: string, integer, boolean, id and date columns, a dollar target, a log target.

Small frames built here (no datagen): every column kind a schema file can declare, prices in dollars.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from selfheal import datagen
from selfheal.exceptions import TrainingError
from selfheal.gate import GateCheck, Measured, Thresholds, decide
from selfheal.inference import UNKNOWN_LEVEL, InvalidRecordError, LevelMap, OnnxModel
from selfheal.metrics import regression_metrics
from selfheal.schema import (
    CALIFORNIA_HOUSING,
    CategoricalFeature,
    ExcludedColumn,
    NumericFeature,
    Schema,
    Target,
)
from selfheal.training import (
    DEFAULT_PARITY_TOLERANCE,
    MODEL_TYPES,
    RELATIVE_PARITY_SCALE,
    Parity,
    export_onnx,
    feature_frame,
    onnx_parity,
    onnx_predict,
    parity_report,
    train_model,
)

NEIGHBOURHOODS = ("Ballard", "Fremont", "Capitol Hill", "Rainier Valley")
ZIPCODES = ("98103", "98107", "98112", "98118")

SCHEMA = Schema(
    name="tiny_sales",
    numeric=(
        NumericFeature("sqft", 200, 10_000, kind="integer", example=1800),
        NumericFeature("bedrooms", 0, 12, kind="integer", example=3),
        NumericFeature("bathrooms", 0, 8, example=2.25),
        NumericFeature("lat", 47.0, 48.0, cap_outliers=False, example=47.6),
    ),
    target=Target("price", 10_000, 10_000_000, unit="USD"),
    categorical=(
        CategoricalFeature("neighbourhood", NEIGHBOURHOODS, other="other"),
        CategoricalFeature("zipcode", ZIPCODES, other="other"),
        CategoricalFeature("property_type", ("house", "condo")),  # no fold level
        CategoricalFeature("waterfront", ("no", "yes"), kind="boolean"),
    ),
    excluded=(ExcludedColumn("id", "id"), ExcludedColumn("sale_date", "date")),
)
LOG_SCHEMA = replace(SCHEMA, name="tiny_sales_log", target=replace(SCHEMA.target, transform="log"))


def sales(rows: int = 1_200, seed: int = 0) -> pd.DataFrame:
    """Dollar prices driven by size, location, type and waterfront; zip codes as the integers pandas reads."""
    rng = np.random.default_rng(seed)
    hood = rng.choice(NEIGHBOURHOODS, rows, p=[0.35, 0.3, 0.2, 0.15])
    zipcode = np.array([int(ZIPCODES[NEIGHBOURHOODS.index(h)]) for h in hood])
    sqft = rng.integers(500, 4_500, rows)
    bedrooms = np.clip(np.round(sqft / 700 + rng.normal(0, 0.7, rows)), 1, 8).astype(int)
    bathrooms = np.clip(np.round(bedrooms * 0.6 + rng.normal(0, 0.4, rows), 2), 1, 5) // 0.25 * 0.25
    ptype = np.where(rng.random(rows) < 0.3, "condo", "house")
    water = np.where(rng.random(rows) < 0.08, "yes", "no")
    premium = {"Ballard": 1.25, "Fremont": 1.35, "Capitol Hill": 1.5, "Rainier Valley": 0.85}
    price = (40_000 + 260 * sqft * np.array([premium[h] for h in hood]) * np.where(ptype == "condo", 0.8, 1.0)
             * np.where(water == "yes", 1.6, 1.0) * rng.lognormal(0.0, 0.12, rows))
    return pd.DataFrame({
        "id": np.arange(7_000_000, 7_000_000 + rows),
        "sale_date": pd.date_range("2014-05-01", periods=rows, freq="h").strftime("%Y%m%dT%H%M%S"),
        "sqft": sqft, "bedrooms": bedrooms, "bathrooms": bathrooms,
        "lat": np.round(47.5 + rng.random(rows) * 0.25, 4),
        "neighbourhood": hood, "zipcode": zipcode, "property_type": ptype, "waterfront": water,
        "price": np.round(price, -2),
    })


@pytest.fixture(scope="module")
def trained():
    return train_model(sales(), SCHEMA, n_threads=1)


@pytest.fixture(scope="module")
def onnx_bytes(trained) -> bytes:
    return export_onnx(trained.pipeline, SCHEMA)


@pytest.fixture(scope="module")
def model(onnx_bytes) -> OnnxModel:
    return OnnxModel.from_bytes(onnx_bytes, SCHEMA)


@pytest.fixture(scope="module")
def log_trained():
    return train_model(sales(), LOG_SCHEMA, n_threads=1)


def parity_gate(value: float) -> bool:
    candidate = Measured(r2=1.0, rmse=0.0, parity=value, latency_ms=0.0)
    thresholds = Thresholds(min_r2=0.0, parity_tolerance=DEFAULT_PARITY_TOLERANCE, max_latency_ms=1.0,
                            challenger_margin=0.0)
    return next(c for c in decide(candidate, None, thresholds).checks if c.name == GateCheck.ONNX_PARITY).passed


def record(**change) -> dict:
    base = {"sqft": 1800, "bedrooms": 3, "bathrooms": 2.0, "lat": 47.6, "neighbourhood": "Fremont",
            "zipcode": "98107", "property_type": "house", "waterfront": "no"}
    return base | change


# ---- the pipeline and the graph -------------------------------------------------------------------


def test_the_encoder_knows_the_levels_and_the_fold_level_and_ids_and_dates_never_reach_the_model(trained):
    encoder = trained.pipeline.named_steps["preprocess"].named_transformers_["categorical"]
    assert [list(c) for c in encoder.categories_] == [
        [*NEIGHBOURHOODS, "other"], [*ZIPCODES, "other"], ["house", "condo"], ["no", "yes"]]
    assert list(trained.X_holdout.columns) == SCHEMA.feature_names
    assert "id" not in trained.X_holdout and "sale_date" not in trained.X_holdout
    # Zip codes arrive as integers (pandas reads them so) and become the schema's string levels.
    assert set(trained.X_holdout["zipcode"]) <= set(ZIPCODES)
    assert trained.unknown_levels == {}
    assert trained.target_transform == "none"


def test_the_graph_takes_float_numbers_and_string_categories_and_nothing_else(onnx_bytes):
    graph = onnx.load_from_string(onnx_bytes).graph
    types = {i.name: i.type.tensor_type.elem_type for i in graph.input}
    assert types == {**{n: onnx.TensorProto.FLOAT for n in SCHEMA.numeric_names},
                     **{n: onnx.TensorProto.STRING for n in SCHEMA.categorical_names}}


def test_a_dollar_model_explains_the_prices_and_passes_the_parity_gate_on_the_holdout(trained, onnx_bytes):
    assert trained.metrics["r2"] > 0.8
    assert trained.metrics["rmse"] > 1_000  # dollars, not $100k
    parity = parity_report(onnx_bytes, trained.pipeline, trained.X_holdout)
    assert parity.basis == "relative" and parity.scale > RELATIVE_PARITY_SCALE
    # float32 in dollars: cents to a few dollars apart, which an absolute 1e-3 would refuse...
    assert parity.max_abs_diff > DEFAULT_PARITY_TOLERANCE
    assert not parity_gate(parity.max_abs_diff)
    # ...and about 1e-7..1e-5 of a typical price, which the gate's relative reading accepts.
    assert parity.max_rel_diff < DEFAULT_PARITY_TOLERANCE / 100
    assert parity.value == parity.max_rel_diff and parity_gate(parity.value)
    assert parity.to_metrics() == {"parity_max_abs_diff": parity.max_abs_diff, "parity_max_rel_diff": parity.max_rel_diff,
                                   "parity_scale": parity.scale, "parity": parity.max_rel_diff}


def test_parity_on_a_raw_frame_maps_its_categories_first(trained, onnx_bytes):
    raw = sales(300, seed=5).assign(neighbourhood=lambda f: f["neighbourhood"].str.upper())
    parity = parity_report(onnx_bytes, trained.pipeline, raw, schema=SCHEMA)
    assert parity_gate(parity.value)


def test_a_wrong_conversion_of_a_dollar_model_still_fails_the_relative_gate(log_trained):
    # The log model's regressor exported without its Exp: it answers log-dollars.
    steps = log_trained.pipeline.steps
    without_exp = Pipeline([*steps[:-1], ("model", steps[-1][1].regressor_)])
    onnx_logs = export_onnx(without_exp, SCHEMA)
    parity = parity_report(onnx_logs, log_trained.pipeline, log_trained.X_holdout)
    assert parity.basis == "relative" and parity.max_rel_diff > 0.9
    assert not parity_gate(parity.value)


def test_the_default_schema_keeps_the_absolute_parity_and_its_numbers():
    model = train_model(datagen.generate(2_000, seed=4), CALIFORNIA_HOUSING, n_threads=1)
    onnx_bytes = export_onnx(model.pipeline, CALIFORNIA_HOUSING)
    parity = parity_report(onnx_bytes, model.pipeline, model.X_holdout)
    assert parity.basis == "absolute"
    assert parity.value == parity.max_abs_diff == onnx_parity(onnx_bytes, model.pipeline, model.X_holdout)
    assert parity.max_abs_diff < DEFAULT_PARITY_TOLERANCE / 100
    assert parity.to_metrics()["parity"] == parity.to_metrics()["parity_max_abs_diff"]
    assert model.target_transform == "none" and model.unknown_levels == {}


def test_parity_of_no_rows_is_zero(trained, onnx_bytes):
    assert parity_report(onnx_bytes, trained.pipeline, trained.X_holdout.head(0)) == Parity(0.0, 1.0, 0.0, "absolute")


# ---- unknown levels --------------------------------------------------------------------------------


def test_an_unknown_level_is_folded_into_other_and_counted(model):
    scored = model.score_records([record(neighbourhood="Magnolia"), record(neighbourhood="other"), record()])
    assert scored.unknown_levels == {"neighbourhood": 1}  # a literal "other" is a known category
    assert scored.values[0] == scored.values[1]  # Magnolia scores as "other"
    assert scored.values[0] != scored.values[2]
    assert model.predict_records([record(neighbourhood="Magnolia")]) == [float(scored.values[0])]


def test_an_unknown_level_of_a_column_without_fold_level_is_ignored_by_the_encoder_and_counted(model):
    scored = model.score_records([record(property_type="houseboat", zipcode="99999", waterfront="maybe")])
    assert scored.unknown_levels == {"property_type": 1, "zipcode": 1, "waterfront": 1}
    assert np.isfinite(scored.values).all()


def test_levels_spelled_differently_are_their_level_not_unknown(model):
    spelled = [record(neighbourhood=" capitol hill ", zipcode=98112, waterfront=True, property_type="CONDO"),
               record(neighbourhood="Capitol Hill", zipcode="98112.0", waterfront="yes", property_type="condo"),
               record(neighbourhood="Capitol Hill", zipcode=98112.0, waterfront=np.True_, property_type="condo")]
    scored = model.score_records(spelled)
    assert scored.unknown_levels == {}
    assert len(set(scored.values.tolist())) == 1


def test_columns_from_a_csv_are_mapped_and_counted_and_predict_columns_is_unchanged(trained, model):
    holdout = trained.X_holdout.head(40).copy()
    holdout["zipcode"] = holdout["zipcode"].astype(int)  # as pandas reads the holdout CSV back
    holdout.loc[holdout.index[:3], "neighbourhood"] = ["Magnolia", None, float("nan")]
    columns = {c: holdout[c].to_numpy() for c in SCHEMA.feature_names}
    scored = model.score_columns(columns)
    assert scored.unknown_levels == {"neighbourhood": 3}
    np.testing.assert_array_equal(model.predict_columns(columns), scored.values)
    expected = trained.pipeline.predict(feature_frame(holdout, SCHEMA))
    assert np.max(np.abs(scored.values - expected)) / np.mean(np.abs(expected)) < 1e-5


def test_a_missing_or_non_scalar_category_is_still_an_invalid_record(model):
    for bad in (None, {"name": "Fremont"}, float("inf")):
        with pytest.raises(InvalidRecordError, match="neighbourhood"):
            model.predict_records([record(neighbourhood=bad)])
    no_column = record()
    del no_column["waterfront"]
    with pytest.raises(InvalidRecordError, match="waterfront"):
        model.predict_records([no_column])


def test_unknown_training_values_are_folded_and_counted():
    frame = sales(600, seed=2)
    frame.loc[frame.index[:25], "neighbourhood"] = "Magnolia"
    frame.loc[frame.index[25:30], "property_type"] = "houseboat"
    model = train_model(frame, SCHEMA, n_threads=1)
    assert model.unknown_levels == {"neighbourhood": 25, "property_type": 5}
    X = feature_frame(frame, SCHEMA)
    assert (X["neighbourhood"].iloc[:25] == "other").all()
    assert (X["property_type"].iloc[25:30] == UNKNOWN_LEVEL).all()


def test_a_spelling_that_names_two_levels_names_neither():
    levels = LevelMap(CategoricalFeature("code", ("01", "1", "A", "a")))
    # The number 1 equals two levels; its plain text "1" is one of them. "1.0" is neither text nor a unique number.
    assert ([levels.level(v) for v in ("01", "1", 1, 1.0, "1.0", "A", "a", " A ", "á")]
            == ["01", "1", "1", "1", None, "A", "a", "A", None])
    # A boolean whose levels are false/true spellings takes any usual spelling, as FixData does.
    boolean = LevelMap(CategoricalFeature("flag", ("false", "true"), kind="boolean"))
    assert ([boolean.level(v) for v in (False, True, "TRUE", 1, "0", 0.0, " Y ", "no", "2", "maybe")]
            == ["false", "true", "true", "true", "false", "false", "true", "false", None, None])
    coded = LevelMap(CategoricalFeature("waterfront", ("0", "1"), kind="boolean"))
    assert [coded.level(v) for v in (True, "yes", 1.0, "1.0", "f")] == ["1", "1", "1", "1", "0"]
    # Levels that are no boolean spellings take their own spellings (and Python's True/False) only.
    named = LevelMap(CategoricalFeature("garage", ("none", "attached"), kind="boolean"))
    assert [named.level(v) for v in (True, False, "yes", "NONE")] == ["attached", "none", None, "none"]


# ---- the log target --------------------------------------------------------------------------------


def test_a_log_target_is_learnt_as_a_log_and_predicted_and_measured_in_dollars(log_trained):
    regressor = log_trained.pipeline.named_steps["model"].regressor_
    X = log_trained.X_holdout
    logs = regressor.predict(log_trained.pipeline.named_steps["preprocess"].transform(X))
    assert 10 < logs.mean() < 15  # log-dollars
    dollars = log_trained.pipeline.predict(X)
    np.testing.assert_allclose(dollars, np.exp(logs))
    assert log_trained.metrics == regression_metrics(log_trained.y_holdout, dollars)
    assert log_trained.metrics["r2"] > 0.8 and log_trained.metrics["rmse"] > 1_000
    assert log_trained.target_transform == "log"
    assert "max_iter" in log_trained.params and "regressor" not in log_trained.params


def test_the_onnx_model_of_a_log_target_answers_dollars(log_trained):
    onnx_bytes = export_onnx(log_trained.pipeline, LOG_SCHEMA)
    graph = onnx.load_from_string(onnx_bytes).graph
    assert graph.node[-1].op_type == "Exp" and [o.name for o in graph.output] == [graph.node[-1].output[0]]
    served = OnnxModel.from_bytes(onnx_bytes, LOG_SCHEMA).predict_columns(
        {c: log_trained.X_holdout[c].to_numpy() for c in LOG_SCHEMA.feature_names})
    np.testing.assert_allclose(served, log_trained.pipeline.predict(log_trained.X_holdout), rtol=1e-5)
    assert regression_metrics(log_trained.y_holdout, served)["rmse"] == pytest.approx(log_trained.metrics["rmse"],
                                                                                       rel=1e-4)
    parity = parity_report(onnx_bytes, log_trained.pipeline, log_trained.X_holdout)
    assert parity.basis == "relative" and parity_gate(parity.value)
    np.testing.assert_allclose(onnx_predict(onnx_bytes, log_trained.X_holdout), served)


@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_every_model_type_learns_a_log_target_with_categories_and_exports_dollars(model_type):
    small = {"random_forest": {"n_estimators": 10}, "gradient_boosting": {"n_estimators": 30},
             "hist_gradient_boosting": {"max_iter": 50}}.get(model_type, {})
    model = train_model(sales(500, seed=6), LOG_SCHEMA, model_type=model_type, params=small, n_threads=1)
    assert model.metrics["r2"] > 0.5 and model.metrics["rmse"] > 1_000
    parity = parity_report(export_onnx(model.pipeline, LOG_SCHEMA), model.pipeline, model.X_holdout)
    assert parity.basis == "relative" and parity_gate(parity.value)


def test_a_pipeline_is_exported_only_with_the_target_transform_it_learnt(trained, log_trained):
    with pytest.raises(TrainingError, match="log") as info:
        export_onnx(log_trained.pipeline, SCHEMA)
    assert info.value.reason == "onnx_export_failed"
    with pytest.raises(TrainingError, match="log"):
        export_onnx(trained.pipeline, LOG_SCHEMA)


def test_a_log_target_with_values_that_are_not_positive_is_refused_by_name_and_count():
    frame = sales(300, seed=3)
    frame.loc[frame.index[:3], "price"] = [0.0, -5.0, 0.0]
    with pytest.raises(TrainingError, match=r"'price' has 3 value\(s\) <= 0") as info:
        train_model(frame, LOG_SCHEMA, n_threads=1)
    assert info.value.reason == "non_positive_target"
    assert info.value.details == {"column": "price", "count": 3}
    assert train_model(frame, SCHEMA, n_threads=1).target_transform == "none"  # fine without the log
