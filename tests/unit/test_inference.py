"""Serving: load ONNX bytes safely and score records like scikit-learn would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from selfheal import datagen
from selfheal.exceptions import ModelLoadError
from selfheal.inference import InvalidRecordError, OnnxModel
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from selfheal.schema import CategoricalFeature
from selfheal.training import DEFAULT_PARITY_TOLERANCE, export_onnx, train_model

OCEAN_SCHEMA = replace(SCHEMA, categorical=(CategoricalFeature("OceanProximity", ("INLAND", "NEAR BAY")),))


@pytest.fixture(scope="module")
def trained():
    return train_model(datagen.generate(4_000, seed=30), SCHEMA, n_threads=1)


@pytest.fixture(scope="module")
def onnx_bytes(trained) -> bytes:
    return export_onnx(trained.pipeline, SCHEMA)


@pytest.fixture(scope="module")
def model(onnx_bytes) -> OnnxModel:
    return OnnxModel.from_bytes(onnx_bytes, SCHEMA)


def test_predictions_match_sklearn(trained, model):
    X = trained.X_holdout
    records = X.to_dict("records")
    served = np.array(model.predict_records(records))
    assert np.max(np.abs(served - trained.pipeline.predict(X))) < DEFAULT_PARITY_TOLERANCE


def test_single_record_returns_one_float(trained, model):
    record = trained.X_holdout.iloc[0].to_dict()
    (value,) = model.predict_records([record])
    assert isinstance(value, float)
    assert value == pytest.approx(float(trained.pipeline.predict(trained.X_holdout.head(1))[0]), abs=1e-3)
    assert model.predict_records([]) == []


def test_extra_keys_are_ignored_and_ints_accepted(model):
    record = {"MedInc": 4, "HouseAge": 30, "AveRooms": 5, "AveBedrms": 1, "Population": 1000, "AveOccup": 3,
              "Latitude": 34, "Longitude": -118, "comment": "ignored"}
    assert len(model.predict_records([record])) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [({"MedInc": None}, "MedInc"), ({"MedInc": "rich"}, "MedInc"), ({"AveRooms": float("nan")}, "finite")],
)
def test_invalid_records_raise(model, trained, change, message):
    record = trained.X_holdout.iloc[0].to_dict() | change
    with pytest.raises(InvalidRecordError, match=message):
        model.predict_records([record])


def test_missing_feature_raises(model, trained):
    record = trained.X_holdout.iloc[0].to_dict()
    del record["Latitude"]
    with pytest.raises(InvalidRecordError, match="Latitude"):
        model.predict_records([record])


@pytest.mark.parametrize("cut", ["empty", "garbage", "half", "zeros"])
def test_corrupt_or_truncated_bytes_raise_model_load_error(onnx_bytes, cut):
    data = {"empty": b"", "garbage": b"not an onnx model", "half": onnx_bytes[: len(onnx_bytes) // 2],
            "zeros": bytes(2048)}[cut]
    with pytest.raises(ModelLoadError) as info:
        OnnxModel.from_bytes(data, SCHEMA)
    assert info.value.reason == "model_corrupt"


def test_model_for_another_schema_is_refused(onnx_bytes):
    with pytest.raises(ModelLoadError) as info:
        OnnxModel.from_bytes(onnx_bytes, OCEAN_SCHEMA)
    assert info.value.reason == "input_mismatch"
    assert info.value.details["missing"] == ["OceanProximity"]


def test_categorical_records_are_scored():
    frame = datagen.generate(1_500, seed=31)
    frame["OceanProximity"] = np.where(frame["Longitude"] < -121.5, "NEAR BAY", "INLAND")
    trained = train_model(frame, OCEAN_SCHEMA, n_threads=1)
    model = OnnxModel.from_bytes(export_onnx(trained.pipeline, OCEAN_SCHEMA), OCEAN_SCHEMA)
    X = trained.X_holdout.head(20)
    served = np.array(model.predict_records(X.to_dict("records")))
    assert np.max(np.abs(served - trained.pipeline.predict(X))) < DEFAULT_PARITY_TOLERANCE
    # A value that is no level is scored (as none of the levels: this column does not fold), never refused;
    # a missing value or one that is not even a scalar still is.
    scored = model.score_records([X.iloc[0].to_dict() | {"OceanProximity": 3}])
    assert len(scored.values) == 1 and scored.unknown_levels == {"OceanProximity": 1}
    for bad in (None, ["INLAND"], float("nan")):
        with pytest.raises(InvalidRecordError, match="OceanProximity"):
            model.predict_records([X.iloc[0].to_dict() | {"OceanProximity": bad}])


def test_serving_module_does_not_import_sklearn_or_pandas():
    code = (
        "import sys, selfheal.inference; "
        "bad = [m for m in ('sklearn', 'pandas', 'skl2onnx') if m in sys.modules]; "
        "print(*bad); sys.exit(1 if bad else 0)"
    )
    # A fresh interpreter: this test process has imported both already.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, f"imported: {result.stdout} {result.stderr}"


def test_large_batches_use_the_all_cores_session_and_agree_with_small_ones(onnx_bytes, trained):
    from selfheal.inference import BATCH_ROWS

    X = trained.X_holdout
    columns = {c: np.resize(X[c].to_numpy(), BATCH_ROWS + 10) for c in X.columns}
    model = OnnxModel.from_bytes(onnx_bytes, SCHEMA)
    big = model.predict_columns(columns)
    small = np.concatenate([model.predict_columns({c: v[i:i + 100] for c, v in columns.items()})
                            for i in range(0, BATCH_ROWS + 10, 100)])
    assert model._batch_session is not None
    # Threads sum the trees in another order; in float32 that moves results by ~1e-6, far inside the
    # 1e-3 parity tolerance.
    np.testing.assert_allclose(big, small, rtol=0, atol=1e-5)
