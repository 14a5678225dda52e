"""Training, ONNX export and parity: the model that gets promoted is the model that gets served."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from selfheal import datagen
from selfheal.exceptions import TrainingError
from selfheal.gate import Check, GateCheck, Measured, Thresholds, decide
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from selfheal.schema import CategoricalFeature
from selfheal.training import (
    DEFAULT_PARITY_TOLERANCE,
    MODEL_TYPES,
    build_pipeline,
    export_onnx,
    onnx_parity,
    train_model,
)

OCEAN_SCHEMA = replace(
    SCHEMA,
    name="california_housing_ocean",
    categorical=(CategoricalFeature("OceanProximity", ("<1H OCEAN", "INLAND", "NEAR OCEAN", "NEAR BAY", "ISLAND")),),
)


def _with_ocean_proximity(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    bay = out["Latitude"].between(37.2, 38.2) & (out["Longitude"] < -121.8)
    inland = out["Longitude"] > -118.0 + (out["Latitude"] - 34.0) * -1.2
    out["OceanProximity"] = np.where(bay, "NEAR BAY", np.where(inland, "INLAND", "<1H OCEAN"))
    return out


def parity_check(max_abs_diff: float) -> Check:
    """The validation gate's ONNX parity check on a measured difference: where a bad conversion is refused."""
    candidate = Measured(r2=1.0, rmse=0.0, parity=max_abs_diff, latency_ms=0.0)
    thresholds = Thresholds(min_r2=0.0, parity_tolerance=DEFAULT_PARITY_TOLERANCE, max_latency_ms=1.0,
                            challenger_margin=0.0)
    return next(c for c in decide(candidate, None, thresholds).checks if c.name == GateCheck.ONNX_PARITY)


@pytest.fixture(scope="module")
def default_model():
    # ~20k rows with a 20% holdout: the size of the real table, and still about a second to fit.
    return train_model(datagen.generate(20_000, seed=0), SCHEMA, seed=42, n_threads=1)


@pytest.fixture(scope="module")
def default_onnx(default_model) -> bytes:
    return export_onnx(default_model.pipeline, SCHEMA)


def test_default_model_explains_most_of_the_variance(default_model):
    assert default_model.model_type == "hist_gradient_boosting"
    assert default_model.metrics["r2"] >= 0.80
    assert default_model.metrics["rmse"] < 0.6  # $60k on a median house of ~$180k
    # The holdout is chosen by row hash, so it is about (not exactly) 20%.
    assert default_model.train_rows + default_model.holdout_rows == 20_000
    assert 3_800 <= default_model.holdout_rows <= 4_200
    assert len(default_model.X_holdout) == len(default_model.y_holdout) == default_model.holdout_rows
    assert list(default_model.X_holdout.columns) == SCHEMA.feature_names
    assert default_model.training_seconds > 0


def test_training_is_reproducible_for_a_seed():
    frame = datagen.generate(2_000, seed=1)
    a = train_model(frame, SCHEMA, seed=7, n_threads=1)
    b = train_model(frame, SCHEMA, seed=7, n_threads=1)
    assert a.metrics == b.metrics
    pd.testing.assert_frame_equal(a.X_holdout, b.X_holdout)


def test_params_override_defaults_and_are_recorded_as_json(default_model):
    model = train_model(datagen.generate(1_000, seed=2), SCHEMA, params={"max_iter": 20}, n_threads=1)
    assert model.params["max_iter"] == 20
    assert model.params["random_state"] == 42
    json.dumps(default_model.params)


def test_onnx_matches_sklearn_within_tolerance(default_model, default_onnx):
    diff = onnx_parity(default_onnx, default_model.pipeline, default_model.X_holdout)
    assert diff < DEFAULT_PARITY_TOLERANCE / 100  # float32 noise only (~2e-6 measured)
    assert parity_check(diff).passed


def test_parity_holds_on_raw_float64_inputs_too(default_model, default_onnx):
    raw = datagen.generate(2_000, seed=99)[SCHEMA.feature_names]
    assert parity_check(onnx_parity(default_onnx, default_model.pipeline, raw)).passed


def test_the_gate_rejects_a_wrong_conversion():
    # A conversion that lost a step: the ridge model exported without its StandardScaler.
    model = train_model(datagen.generate(1_000, seed=3), SCHEMA, model_type="ridge")
    unscaled = ColumnTransformer([("numeric", "passthrough", SCHEMA.numeric_names)]).fit(model.X_holdout)
    broken = Pipeline([("preprocess", unscaled), ("model", model.pipeline.named_steps["model"])])
    diff = onnx_parity(export_onnx(broken, SCHEMA), model.pipeline, model.X_holdout)
    check = parity_check(diff)
    assert not check.passed
    assert (check.value, check.threshold) == (diff, DEFAULT_PARITY_TOLERANCE)


def test_unfitted_pipeline_cannot_be_exported():
    with pytest.raises(NotFittedError):
        export_onnx(build_pipeline(SCHEMA), SCHEMA)


@pytest.mark.parametrize("model_type", sorted(MODEL_TYPES))
def test_every_model_type_trains_exports_and_keeps_parity(model_type):
    frame = datagen.generate(1_500, seed=4)
    model = train_model(frame, SCHEMA, model_type=model_type, params=_small(model_type), n_threads=1)
    assert model.metrics["r2"] > 0.5
    assert parity_check(onnx_parity(export_onnx(model.pipeline, SCHEMA), model.pipeline, model.X_holdout)).passed


def _small(model_type: str) -> dict:
    # Fewer trees keep the parametrised run quick; the conversion path is the same.
    return {"random_forest": {"n_estimators": 20}, "gradient_boosting": {"n_estimators": 50}}.get(model_type, {})


def test_categorical_feature_exports_with_a_string_input():
    frame = _with_ocean_proximity(datagen.generate(3_000, seed=5))
    model = train_model(frame, OCEAN_SCHEMA, n_threads=1)
    onnx_bytes = export_onnx(model.pipeline, OCEAN_SCHEMA)
    assert parity_check(onnx_parity(onnx_bytes, model.pipeline, model.X_holdout)).passed
    unseen = model.X_holdout.head(50).assign(OceanProximity="ISLAND")  # declared but never trained on
    assert parity_check(onnx_parity(onnx_bytes, model.pipeline, unseen)).passed


def test_unknown_model_type_is_named():
    with pytest.raises(TrainingError, match="xgboost") as info:
        train_model(datagen.generate(50, seed=0), SCHEMA, model_type="xgboost")
    assert info.value.reason == "unknown_model_type"


def test_bad_params_and_bad_data_are_training_errors():
    frame = datagen.generate(200, seed=6)
    with pytest.raises(TrainingError) as info:
        train_model(frame, SCHEMA, params={"no_such_param": 1})
    assert info.value.reason == "invalid_params"
    with pytest.raises(TrainingError) as info:
        train_model(frame, SCHEMA, params={"max_iter": -1})
    assert info.value.reason == "fit_failed"
    with pytest.raises(TrainingError) as info:
        train_model(frame.drop(columns=["MedInc"]), SCHEMA)
    assert info.value.reason == "missing_columns"
    gappy = frame.copy()
    gappy.loc[3, "AveRooms"] = np.nan
    with pytest.raises(TrainingError) as info:
        train_model(gappy, SCHEMA)
    assert info.value.reason == "missing_values"
    with pytest.raises(TrainingError) as info:
        train_model(frame.head(3), SCHEMA)
    assert info.value.reason == "too_few_rows"


def test_training_seconds_come_from_the_injected_clock():
    ticks = iter([10.0, 12.5])
    model = train_model(datagen.generate(300, seed=8), SCHEMA, model_type="ridge", clock=lambda: next(ticks))
    assert model.training_seconds == 2.5


def test_training_does_not_modify_its_input():
    frame = datagen.generate(300, seed=9)
    before = frame.copy()
    train_model(frame, SCHEMA, model_type="linear")
    pd.testing.assert_frame_equal(frame, before)


def test_drifted_data_costs_the_reference_model_accuracy(default_model):
    features = SCHEMA.feature_names
    same = datagen.generate(3_000, seed=50)
    drifted = datagen.generate(3_000, seed=50, drift=1.0)
    rmse_same = np.sqrt(np.mean((default_model.pipeline.predict(same[features]) - same["MedHouseVal"]) ** 2))
    rmse_drifted = np.sqrt(np.mean((default_model.pipeline.predict(drifted[features]) - drifted["MedHouseVal"]) ** 2))
    assert rmse_drifted > 1.2 * rmse_same


def test_a_row_keeps_its_side_of_the_holdout_across_retrainings():
    from selfheal.training import holdout_mask

    reference = datagen.generate(3_000, seed=3)
    grown = pd.concat([reference, datagen.generate(1_000, seed=4, drift=1.0)], ignore_index=True)
    before = holdout_mask(reference, SCHEMA, 0.2, 42)
    after = holdout_mask(grown, SCHEMA, 0.2, 42)
    # Rows the first model trained on never become holdout rows of the next one.
    assert (after[: len(reference)] == before).all()
    assert 0.15 < after.mean() < 0.25
