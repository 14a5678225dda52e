"""Training: fit a scikit-learn pipeline on a fixed batch, export it to ONNX, measure parity.

The pipeline is ``ColumnTransformer -> regressor``, built from the :class:`~selfheal.schema.Schema`:

- numeric and integer features pass through (standardised for linear models), rounded to float32
  first (see :func:`feature_frame`);
- categorical and boolean features are one-hot encoded over the schema's ``categories``: its
  levels plus, for a column that folds, its fold level (``other``) last, so a value folded into
  ``other`` is a known category. Values reach the encoder as levels (``selfheal.levels.LevelMap``,
  the mapping serving uses: ``98103`` is the level ``"98103"``, an unknown value is folded), and
  ``handle_unknown="ignore"`` scores anything else as "none of the levels" instead of failing;
- id and date columns (``schema.excluded``) never reach the model;
- a target with ``transform: log`` is learnt as log(target): the regressor is wrapped in a
  ``TransformedTargetRegressor(func=np.log, inverse_func=np.exp)``, so the pipeline, its metrics
  and the exported ONNX graph (which ends in an ``Exp`` node) all speak the data's own units.

The ONNX graph takes one ``[None, 1]`` input per schema feature, named after it: float32 for
numeric features, string for categorical ones. Its output is the prediction in the target's units.
``selfheal.inference`` serves it.

**Parity** (:func:`parity_report`) compares ONNX with scikit-learn on the holdout and records both
the largest absolute difference (``max_abs_diff``, target units) and that difference relative to
the predictions' typical magnitude (``max_rel_diff`` = ``max_abs_diff`` / mean |prediction|, the
mean taken as at least 1). The gate compares one of them with ``ParityTolerance`` (1e-3):

- ``absolute`` while that typical magnitude is at most :data:`RELATIVE_PARITY_SCALE` (100 target
  units). The California default ($100k units, predictions around 2) is always here: its gate
  value and numbers are unchanged (2e-6..4e-6 against 1e-3);
- ``relative`` above it. A float32 graph differs from float64 scikit-learn by about 1e-7 of the
  value (0.03 at $500k), which an absolute 1e-3 would reject at any large scale. Read relatively,
  1e-3 is 0.1% of a typical prediction ($500 on a $500k house): float32 noise stays four orders
  of magnitude below it, while a wrong conversion (a lost scaler, shuffled categories, a missing
  ``Exp``) is off by percent or by orders of magnitude.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from selfheal.exceptions import TrainingError
from selfheal.inference import load_session, small_request_session_options
from selfheal.levels import LevelMap
from selfheal.metrics import regression_metrics
from selfheal.schema import Schema

DEFAULT_MODEL_TYPE = "hist_gradient_boosting"

# Largest |ONNX - scikit-learn| prediction difference accepted, in target units ($100k): 0.001 is
# $100 on a house. Features are rounded to float32 before training (see feature_frame), so the only
# difference left is float32 arithmetic in the ONNX tree ensemble and scaler: 2e-6..4e-6 for the
# default model on 4,000 holdout rows. A wrong conversion fails by orders of magnitude: one of 300
# boosting trees missing moves predictions by 0.03, a dropped scaler by 100+.
DEFAULT_PARITY_TOLERANCE = 1e-3

# Up to this typical prediction magnitude (target units) parity is gated on the absolute difference;
# above it, on the difference relative to that magnitude (see the module docstring).
RELATIVE_PARITY_SCALE = 100.0

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
    # "none" or "log" (the schema's target transform): with "log" the pipeline learnt log(target),
    # and still predicts (and was measured) in the target's units.
    target_transform: str = "none"
    # Categorical values in the training batch that were no known level, per column (folded into
    # the fold level, or encoded as none of the levels); only columns with any.
    unknown_levels: dict[str, int] = field(default_factory=dict)


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
        # The schema's categories: the known levels, then the fold level for a column that folds.
        encoder = OneHotEncoder(
            categories=[list(c.categories) for c in schema.categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categorical", encoder, schema.categorical_names))
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    if schema.target.transform == "log":
        # check_inverse=False: exp is log's inverse; the check would only cost a predict.
        estimator = TransformedTargetRegressor(regressor=estimator, func=np.log, inverse_func=np.exp,
                                               check_inverse=False)
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def encode_levels(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, dict[str, int]]:
    """Categorical columns as the levels the model knows (a copy), and the unknown values per column.

    The same mapping as serving (:class:`selfheal.levels.LevelMap`): differently spelled levels
    are recognised, unknown values are folded into the column's fold level (or, without one, sent
    as a value the encoder ignores).
    """
    frame = df.copy()
    unknown: dict[str, int] = {}
    for feature in schema.categorical:
        levels, count = LevelMap(feature).encode(frame[feature.name].tolist())
        frame[feature.name] = pd.Series(levels, index=frame.index, dtype=object)
        if count:
            unknown[feature.name] = count
    return frame, unknown


def feature_frame(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The schema's feature columns (never an id or a date), categoricals as their levels
    (:func:`encode_levels`), numerics rounded to float32 precision (dtype stays float64).

    Serving feeds float32 to ONNX, so the model only ever sees float32 values. Training on the
    same values means every split a tree learns can be honoured at serving time; trained on
    float64, a split between two values that collapse to one float32 (or at a threshold equal to
    a duplicated value, which histogram binning produces) flips decisions once deployed: the
    classic ONNX/scikit-learn disagreement (skl2onnx's "Issues when switching to float").
    """
    return _features(df, schema)[0]


def _features(df: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, dict[str, int]]:
    """:func:`feature_frame` and the unknown categorical values per column (:func:`encode_levels`)."""
    frame, unknown = encode_levels(df[schema.feature_names], schema)
    numeric = schema.numeric_names
    frame[numeric] = frame[numeric].astype(np.float32).astype(np.float64)
    return frame, unknown


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
    With a log target (``schema.target.transform == "log"``) the model learns log(target);
    predictions and ``metrics`` are in the target's units all the same.
    Raises :class:`TrainingError` with reason ``unknown_model_type``, ``invalid_params``,
    ``missing_columns``, ``missing_values``, ``non_positive_target`` (a log target with a value
    <= 0; details name the column and the count), ``too_few_rows`` or ``fit_failed``.
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

    target = schema.target
    y = df[target.name].to_numpy(dtype=np.float64)
    if target.transform == "log":
        bad = int(np.count_nonzero(~(y > 0)))
        if bad:
            raise TrainingError(
                f"target {target.name!r} has {bad} value(s) <= 0 but its transform is 'log', which needs positive "
                "values: drop or fix those rows, or set the target's transform to \"none\" in the schema",
                reason="non_positive_target", details={"column": target.name, "count": bad})
    X, unknown = _features(df, schema)
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
    if isinstance(model, TransformedTargetRegressor):
        model = model.regressor_
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
        target_transform=target.transform,
        unknown_levels=unknown,
    )


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Hyper-parameters that survive JSON (the manifest); objects are shown by their repr."""
    return {k: v if v is None or isinstance(v, bool | int | float | str) else repr(v) for k, v in params.items()}


def export_onnx(pipeline: Pipeline, schema: Schema) -> bytes:
    """Serialised ONNX model with one ``[None, 1]`` input per feature (float32 numeric, string categorical).

    Its one output is the prediction in the target's units: for a log target the converted
    regressor's output (a log) goes through an appended ``Exp`` node, under the output's name.
    Raises scikit-learn's NotFittedError for an unfitted pipeline (a caller bug) and
    :class:`TrainingError` (reason ``onnx_export_failed``) when skl2onnx cannot convert it or the
    pipeline's target transform is not the schema's.
    """
    check_is_fitted(pipeline)
    *steps, (last_name, last) = pipeline.steps
    log_target = isinstance(last, TransformedTargetRegressor)
    if log_target and not (last.func is np.log and last.inverse_func is np.exp):
        raise TrainingError("ONNX export supports a TransformedTargetRegressor with func=np.log and "
                            "inverse_func=np.exp only", reason="onnx_export_failed")
    if log_target != (schema.target.transform == "log"):
        raise TrainingError(
            f"the pipeline {'learns' if log_target else 'does not learn'} log(target) but schema {schema.name!r} "
            f"says transform {schema.target.transform!r}: export it with the schema it was trained with",
            reason="onnx_export_failed")
    convertible = Pipeline([*steps, (last_name, last.regressor_)]) if log_target else pipeline
    inputs = [(name, FloatTensorType([None, 1])) for name in schema.numeric_names]
    inputs += [(name, StringTensorType([None, 1])) for name in schema.categorical_names]
    try:
        model = convert_sklearn(convertible, name=f"selfheal_{schema.name}", initial_types=inputs,
                                target_opset=TARGET_OPSET)
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        # skl2onnx raises RuntimeError subclasses for missing converters/shape calculators.
        raise TrainingError(f"ONNX export failed: {exc}", reason="onnx_export_failed") from exc
    if log_target:
        _append_exp(model)
    return model.SerializeToString()


def _append_exp(model: onnx.ModelProto) -> None:
    """Make the graph's output exp(output): the node that wrote the output now writes ``<name>_log``."""
    graph = model.graph
    (output,) = graph.output
    inner = f"{output.name}_log"
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name == output.name:
                node.output[i] = inner
    graph.node.append(helper.make_node("Exp", [inner], [output.name], name="selfheal_target_exp"))
    onnx.checker.check_model(model)


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


@dataclass(frozen=True)
class Parity:
    """ONNX against scikit-learn on the same rows; ``value`` is what the gate compares with its tolerance."""

    max_abs_diff: float  # largest |ONNX - scikit-learn|, target units
    scale: float  # the predictions' typical magnitude: mean |scikit-learn prediction|, at least 1
    max_rel_diff: float  # max_abs_diff / scale
    basis: str  # "absolute" (scale <= RELATIVE_PARITY_SCALE) or "relative"

    @property
    def value(self) -> float:
        return self.max_abs_diff if self.basis == "absolute" else self.max_rel_diff

    def to_metrics(self) -> dict[str, float]:
        """For metrics.json: ``parity`` is the gated value (``parity_max_abs_diff`` for the default)."""
        return {"parity_max_abs_diff": self.max_abs_diff, "parity_max_rel_diff": self.max_rel_diff,
                "parity_scale": self.scale, "parity": self.value}


def parity_report(onnx_bytes: bytes, pipeline: Pipeline, X: pd.DataFrame, *, schema: Schema | None = None) -> Parity:
    """ONNX against scikit-learn on ``X`` (the holdout): absolute and relative differences, and the gate's basis.

    ``X`` is a feature frame (:attr:`TrainedModel.X_holdout`); with ``schema``, a raw frame is
    brought to one first (categorical values mapped to levels). See :func:`onnx_parity` for why
    both sides see float32-rounded numbers, and the module docstring for the basis.
    """
    if schema is not None:
        X = feature_frame(X, schema)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    rounded = X.copy()
    rounded[numeric] = rounded[numeric].astype(np.float32).astype(np.float64)
    if not len(rounded):
        return Parity(0.0, 1.0, 0.0, "absolute")
    expected = np.asarray(pipeline.predict(rounded), dtype=np.float64).reshape(-1)
    actual = onnx_predict(onnx_bytes, rounded)
    max_abs = float(np.max(np.abs(actual - expected)))
    scale = max(float(np.mean(np.abs(expected))), 1.0)
    return Parity(max_abs, scale, max_abs / scale, "absolute" if scale <= RELATIVE_PARITY_SCALE else "relative")


def onnx_parity(onnx_bytes: bytes, pipeline: Pipeline, X: pd.DataFrame) -> float:
    """Largest absolute difference between ONNX and scikit-learn predictions on ``X`` (target units).

    Both sides see the values serving sees: numeric columns rounded to float32. Comparing against
    scikit-learn on raw float64 would measure the input cast, not the conversion: a tree with a
    threshold at a data value sends ``37.89`` and ``float32(37.89)`` different ways (up to 0.8
    apart on the default model), whatever the converter does. :func:`parity_report` adds the
    relative difference and which one the gate should compare.
    """
    return parity_report(onnx_bytes, pipeline, X).max_abs_diff
