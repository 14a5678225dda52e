"""Training: fit a scikit-learn pipeline on a fixed batch, export it to ONNX, measure parity.

The pipeline is ``ColumnTransformer -> regressor``: numeric features pass through (standardised
for linear models) and categorical features are one-hot encoded with ``handle_unknown="ignore"``,
so a category never seen in training scores as "none of the known ones" instead of failing.
The ONNX graph takes one ``[None, 1]`` input per schema feature, named after it: float32 for
numeric features, string for categorical ones. ``selfheal.inference`` serves it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from selfheal.exceptions import TrainingError
from selfheal.inference import load_session, small_request_session_options
from selfheal.metrics import regression_metrics
from selfheal.schema import Schema

DEFAULT_MODEL_TYPE = "hist_gradient_boosting"

# Largest |ONNX - scikit-learn| prediction difference accepted, in target units ($100k): 0.001 is
# $100 on a house. Features are rounded to float32 before training (see feature_frame), so the only
# difference left is float32 arithmetic in the ONNX tree ensemble and scaler: 2e-6..4e-6 for the
# default model on 4,000 holdout rows. A wrong conversion fails by orders of magnitude: one of 300
# boosting trees missing moves predictions by 0.03, a dropped scaler by 100+.
DEFAULT_PARITY_TOLERANCE = 1e-3

# Pinned so an upgrade of skl2onnx cannot silently produce graphs an older onnxruntime (the one
# in the Predict Lambda) refuses. ai.onnx.ml 3 provides TreeEnsembleRegressor, which every
# onnxruntime release of recent years runs.
TARGET_OPSET: dict[str, int] = {"": 18, "ai.onnx.ml": 3}


@dataclass(frozen=True)
class ModelSpec:
    """How to build one model type: its class, default hyper-parameters and preprocessing needs."""

    estimator: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    scale_numeric: bool = False  # linear models want standardised inputs; trees do not care
    seeded: bool = True  # accepts random_state


MODEL_TYPES: dict[str, ModelSpec] = {
    # A fixed number of iterations (no early stopping): training time and model size stay
    # predictable, and no further 10% of the rows is set aside for an internal validation split.
    "hist_gradient_boosting": ModelSpec(
        HistGradientBoostingRegressor,
        {"max_iter": 300, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20, "early_stopping": False},
    ),
    # Depth and leaf size are bounded: an unbounded forest on 20k rows exports to tens of MB of
    # ONNX, too large for a quick Lambda cold start, for a few thousandths of R².
    "random_forest": ModelSpec(
        RandomForestRegressor, {"n_estimators": 100, "max_depth": 12, "min_samples_leaf": 5, "n_jobs": 1}
    ),
    "gradient_boosting": ModelSpec(GradientBoostingRegressor, {"n_estimators": 200, "max_depth": 4, "learning_rate": 0.1}),
    "ridge": ModelSpec(Ridge, {"alpha": 1.0}, scale_numeric=True, seeded=False),
    "linear": ModelSpec(LinearRegression, {}, scale_numeric=True, seeded=False),
}


@dataclass
class TrainedModel:
    """A fitted pipeline, its metrics on the seeded holdout, and that holdout for later comparisons."""

    pipeline: Pipeline
    metrics: dict[str, float]
    X_holdout: pd.DataFrame
    y_holdout: np.ndarray
    train_rows: int
    holdout_rows: int
    training_seconds: float
    model_type: str
    params: dict[str, Any]
    seed: int


def build_pipeline(schema: Schema, model_type: str = DEFAULT_MODEL_TYPE, params: Mapping[str, Any] | None = None, *, seed: int = 42) -> Pipeline:
    """An unfitted pipeline for ``model_type``; raises TrainingError for unknown types or parameters."""
    spec = MODEL_TYPES.get(model_type)
    if spec is None:
        raise TrainingError(
            f"unknown model type {model_type!r}; known: {sorted(MODEL_TYPES)}",
            reason="unknown_model_type",
            details={"model_type": model_type, "known": sorted(MODEL_TYPES)},
        )
    effective = {**spec.defaults, **(params or {})}
    if spec.seeded:
        effective.setdefault("random_state", seed)
    try:
        estimator = spec.estimator(**effective)
    except TypeError as exc:
        raise TrainingError(f"invalid parameters for {model_type}: {exc}", reason="invalid_params") from exc

    transformers: list[tuple[str, Any, list[str]]] = [
        ("numeric", StandardScaler() if spec.scale_numeric else "passthrough", schema.numeric_names)
    ]
    if schema.categorical:
        encoder = OneHotEncoder(
            categories=[list(c.categories) for c in schema.categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categorical", encoder, schema.categorical_names))
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def feature_frame(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The schema's feature columns, numerics rounded to float32 precision (dtype stays float64).

    Serving feeds float32 to ONNX, so the model only ever sees float32 values. Training on the
    same values means every split a tree learns can be honoured at serving time; trained on
    float64, a split between two values that collapse to one float32 (or at a threshold equal to
    a duplicated value, which histogram binning produces) flips decisions once deployed: the
    classic ONNX/scikit-learn disagreement (skl2onnx's "Issues when switching to float").
    """
    frame = df[schema.feature_names].copy()
    numeric = schema.numeric_names
    frame[numeric] = frame[numeric].astype(np.float32).astype(np.float64)
    return frame


def holdout_mask(df: pd.DataFrame, schema: Schema, fraction: float, seed: int) -> np.ndarray:
    """True for the rows held out: chosen by a seeded hash of each row's content, not by position.

    A row keeps its side across retrainings, so rows a champion was trained on never land in a
    later challenger's holdout; otherwise champion/challenger on "the same holdout" would favour
    the champion, which has already seen part of it.
    """
    hashes = pd.util.hash_pandas_object(df[schema.all_columns], index=False, hash_key=f"selfheal{seed:08d}"[:16])
    return (hashes.to_numpy() % 10_000) < round(fraction * 10_000)


def train_model(
    df: pd.DataFrame,
    schema: Schema,
    *,
    model_type: str = DEFAULT_MODEL_TYPE,
    params: Mapping[str, Any] | None = None,
    seed: int = 42,
    holdout_fraction: float = 0.2,
    n_threads: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> TrainedModel:
    """Fit ``model_type`` on ``df`` (a fixed batch: every schema column present, no missing values).

    A seeded ``holdout_fraction`` of the rows is held out; ``metrics`` (mae, rmse, r2, mape) are
    measured on it. ``params`` override the model type's defaults (see :data:`MODEL_TYPES`).
    ``n_threads`` caps the native (OpenMP/BLAS) threads used while fitting; None keeps the
    library default of one per CPU. ``clock`` times the fit.
    Raises :class:`TrainingError` with reason ``unknown_model_type``, ``invalid_params``,
    ``missing_columns``, ``missing_values``, ``too_few_rows`` or ``fit_failed``.
    """
    pipeline = build_pipeline(schema, model_type, params, seed=seed)
    missing = [c for c in schema.all_columns if c not in df.columns]
    if missing:
        raise TrainingError(f"training data lacks columns {missing}", reason="missing_columns", details={"missing": missing})
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be within (0, 1), got {holdout_fraction}")
    gaps = {c: int(n) for c, n in df[schema.all_columns].isna().sum().items() if n}
    if gaps:
        raise TrainingError("training data has missing values; fix the batch first", reason="missing_values", details=gaps)
    n_holdout = math.ceil(len(df) * holdout_fraction)
    if n_holdout < 2 or len(df) - n_holdout < 2:
        raise TrainingError(f"{len(df)} rows are too few to train and hold out", reason="too_few_rows", details={"rows": len(df)})

    X = feature_frame(df, schema)
    y = df[schema.target.name].to_numpy(dtype=np.float64)
    mask = holdout_mask(df, schema, holdout_fraction, seed)
    if mask.sum() < 2 or (~mask).sum() < 2:
        raise TrainingError(f"{len(df)} rows are too few to train and hold out", reason="too_few_rows",
                            details={"rows": len(df)})
    X_train, X_holdout, y_train, y_holdout = X[~mask], X[mask], y[~mask], y[mask]
    started = clock()
    try:
        # HistGradientBoosting parallelises with OpenMP, one thread per visible CPU. Where CPUs are
        # shared (a small Lambda's fractional vCPU, several local workers on one laptop) threads
        # that spin at barriers can make a sub-second fit take tens of seconds; a cap avoids that.
        with threadpool_limits(limits=n_threads):
            pipeline.fit(X_train, y_train)
    except ValueError as exc:
        # sklearn validates hyper-parameters at fit (InvalidParameterError is a ValueError).
        raise TrainingError(f"fitting {model_type} failed: {exc}", reason="fit_failed") from exc
    seconds = clock() - started

    model = pipeline.named_steps["model"]
    return TrainedModel(
        pipeline=pipeline,
        metrics=regression_metrics(y_holdout, pipeline.predict(X_holdout)),
        X_holdout=X_holdout.reset_index(drop=True),
        y_holdout=y_holdout,
        train_rows=len(X_train),
        holdout_rows=len(X_holdout),
        training_seconds=seconds,
        model_type=model_type,
        params=_json_params(model.get_params()),
        seed=seed,
    )


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters that survive JSON (the manifest); objects are shown by their repr."""
    return {k: v if v is None or isinstance(v, bool | int | float | str) else repr(v) for k, v in params.items()}


def export_onnx(pipeline: Pipeline, schema: Schema) -> bytes:
    """Serialised ONNX model with one ``[None, 1]`` input per feature (float32 numeric, string categorical).

    Raises scikit-learn's NotFittedError for an unfitted pipeline (a caller bug) and
    :class:`TrainingError` (reason ``onnx_export_failed``) when skl2onnx cannot convert it.
    """
    check_is_fitted(pipeline)
    inputs = [(name, FloatTensorType([None, 1])) for name in schema.numeric_names]
    inputs += [(name, StringTensorType([None, 1])) for name in schema.categorical_names]
    try:
        model = convert_sklearn(pipeline, name=f"selfheal_{schema.name}", initial_types=inputs, target_opset=TARGET_OPSET)
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        # skl2onnx raises RuntimeError subclasses for missing converters/shape calculators.
        raise TrainingError(f"ONNX export failed: {exc}", reason="onnx_export_failed") from exc
    return model.SerializeToString()


def onnx_predict(onnx_bytes: bytes, X: pd.DataFrame) -> np.ndarray:
    """ONNX predictions for a feature frame, fed exactly as serving feeds them."""
    session = load_session(onnx_bytes, options=small_request_session_options())
    feed: dict[str, np.ndarray] = {}
    for node in session.get_inputs():
        column = X[node.name]
        if node.type == "tensor(string)":
            feed[node.name] = column.astype(str).to_numpy(dtype=object).reshape(-1, 1)
        else:
            feed[node.name] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
    (result,) = session.run([session.get_outputs()[0].name], feed)
    return np.asarray(result, dtype=np.float64).reshape(-1)


def onnx_parity(onnx_bytes: bytes, pipeline: Pipeline, X: pd.DataFrame) -> float:
    """Largest absolute difference between ONNX and scikit-learn predictions on ``X`` (target units).

    Both sides see the values serving sees: numeric columns rounded to float32. Comparing against
    scikit-learn on raw float64 would measure the input cast, not the conversion: a tree with a
    threshold at a data value sends ``37.89`` and ``float32(37.89)`` different ways (up to 0.8
    apart on the default model), whatever the converter does.
    """
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    rounded = X.copy()
    rounded[numeric] = rounded[numeric].astype(np.float32).astype(np.float64)
    expected = pipeline.predict(rounded)
    actual = onnx_predict(onnx_bytes, rounded)
    return float(np.max(np.abs(actual - expected))) if len(expected) else 0.0
