"""Serving: run an exported ONNX model with onnxruntime.

Deliberately free of scikit-learn and pandas: the Predict Lambda imports only numpy and
onnxruntime, which keeps its package small and its cold start short. The model's graph has one
input per schema feature, shaped ``[None, 1]``: float32 for numeric and integer features, string
for categorical and boolean ones (see ``selfheal.training.export_onnx``). Its one output is the
prediction in the target's own units, whatever the model learnt through (a log target's graph
ends in ``Exp``).

Categorical values reach the graph as the schema's levels (:class:`selfheal.levels.LevelMap`,
the one set of rules shared with training and FixData): a value spelled differently
(``" Condo"``, ``"CONDO"``, the number ``98103`` for the level ``"98103"``, ``True`` for a
boolean's second level) is its level; a value that is no known
level is **unknown**: folded into the column's fold level (``other``) when the column folds, else
sent as ``""``, which the one-hot encoder ignores (the row scores as "none of the levels"). An
unknown level is never an error. :meth:`OnnxModel.score_records` and
:meth:`OnnxModel.score_columns` return the predictions with how many values were unknown per
column (:class:`Scored`), so serving can count them; ``predict_records``/``predict_columns``
return the predictions alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from selfheal.exceptions import ModelLoadError
from selfheal.levels import FALSE_SPELLINGS as FALSE_SPELLINGS
from selfheal.levels import TRUE_SPELLINGS as TRUE_SPELLINGS
from selfheal.levels import UNKNOWN_LEVEL as UNKNOWN_LEVEL
from selfheal.levels import LevelMap as LevelMap
from selfheal.schema import Schema

# LevelMap, UNKNOWN_LEVEL and the boolean spellings live in selfheal.levels (the one set of level
# rules, shared with FixData and training) and are re-exported above, where callers import them.

_NUMERIC_TYPE = "tensor(float)"
_STRING_TYPE = "tensor(string)"

# What onnxruntime raises for bytes that are not a loadable model. They derive from Exception
# directly, so they are listed one by one rather than caught as a family.
_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    ort_errors.InvalidProtobuf,
    ort_errors.InvalidGraph,
    ort_errors.InvalidArgument,
    ort_errors.Fail,
    ort_errors.NotImplemented,
    ort_errors.RuntimeException,
)


class InvalidRecordError(ValueError):
    """A record to score is missing a feature or has a value of the wrong kind."""


@dataclass(frozen=True)
class Scored:
    """Predictions and, per categorical column, how many of its values were not a known level.

    ``unknown_levels`` lists only columns with at least one such value; each was folded into the
    column's fold level, or (a column without one) scored as none of its levels.
    """

    values: np.ndarray  # float64, shape [n], in the target's units
    unknown_levels: dict[str, int] = field(default_factory=dict)

    def tolist(self) -> list[float]:
        return [float(v) for v in self.values]


def small_request_session_options() -> ort.SessionOptions:
    """Session options for a Lambda answering one or a few records per request."""
    options = ort.SessionOptions()
    # One thread: a single-row tree ensemble takes microseconds, far less than waking and joining
    # a thread pool. A Lambda also gets a fraction of a vCPU at small memory sizes, and several
    # warm workers share one host here, so extra threads would only contend with each other.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # With a single thread there is nothing to gain from spin-waiting; it would only burn the
    # CPU a concurrent request could use.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def load_session(data: bytes, *, options: ort.SessionOptions | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session for model bytes; :class:`ModelLoadError` if they do not load."""
    if not data:
        raise ModelLoadError("model bytes are empty", reason="model_corrupt")
    try:
        return ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
    except _LOAD_ERRORS as exc:
        raise ModelLoadError(f"onnxruntime cannot load the model: {exc}", reason="model_corrupt") from exc


# From this many rows a batch runs on a second session that uses every core: a 10,000-row tree
# ensemble is worth the thread pool's wake-up (about 280k rows/s against 170k on one thread here).
BATCH_ROWS = 2048


class OnnxModel:
    """An ONNX regression model whose inputs match a :class:`Schema`; build with :meth:`from_bytes`."""

    def __init__(self, session: ort.InferenceSession, schema: Schema, data: bytes | None = None):
        self.session = session
        self.schema = schema
        self._numeric = schema.numeric_names
        self._categorical = schema.categorical_names
        self._levels = {c.name: LevelMap(c) for c in schema.categorical}
        self._output = session.get_outputs()[0].name
        self._data = data
        self._batch_session: ort.InferenceSession | None = None

    def _session_for(self, rows: int) -> ort.InferenceSession:
        if rows < BATCH_ROWS or self._data is None:
            return self.session
        if self._batch_session is None:  # built on first use: most requests are single records
            self._batch_session = load_session(self._data, options=ort.SessionOptions())
        return self._batch_session

    @classmethod
    def from_bytes(cls, data: bytes, schema: Schema, *, options: ort.SessionOptions | None = None) -> OnnxModel:
        """Load a model, checking that its inputs are exactly the schema's features.

        Raises :class:`ModelLoadError` (reason ``model_corrupt``) for bytes onnxruntime cannot load
        (corrupt, truncated, empty) and (reason ``input_mismatch``) for a model whose inputs do not
        match the schema (names, element types or ``[None, 1]`` shapes).
        """
        session = load_session(data, options=options or small_request_session_options())
        _check_inputs(session, schema)
        return cls(session, schema, data if options is None else None)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def _run(self, feed: dict[str, np.ndarray], rows: int) -> np.ndarray:
        (result,) = self._session_for(rows).run([self._output], feed)
        return np.asarray(result, dtype=np.float64).reshape(-1)

    def _encode(self, name: str, values: Iterable[Any], unknown: dict[str, int]) -> np.ndarray:
        levels, count = self._levels[name].encode(values)
        if count:
            unknown[name] = count
        return np.array(levels, dtype=object).reshape(-1, 1)

    def score_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> Scored:
        """:meth:`predict_columns` with the unknown-level counts. A categorical value that is no
        level (``None`` and NaN included) is unknown, never an error."""
        feed: dict[str, np.ndarray] = {}
        unknown: dict[str, int] = {}
        for name in self._numeric:
            feed[name] = np.asarray(columns[name], dtype=np.float32).reshape(-1, 1)
        for name in self._categorical:
            feed[name] = self._encode(name, columns[name], unknown)
        rows = len(next(iter(feed.values()))) if feed else 0
        return Scored(self._run(feed, rows), unknown)

    def predict_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Predictions (float64, shape ``[n]``) for column-oriented input, one sequence per feature."""
        return self.score_columns(columns).values

    def score_records(self, records: list[dict[str, Any]]) -> Scored:
        """:meth:`predict_records` with the unknown-level counts (the same checks and errors)."""
        if not records:
            return Scored(np.zeros(0, dtype=np.float64))
        unknown: dict[str, int] = {}
        feed = {name: _numeric_column(records, name) for name in self._numeric}
        feed |= {name: self._encode(name, _category_column(records, name), unknown) for name in self._categorical}
        return Scored(self._run(feed, len(records)), unknown)

    def predict_records(self, records: list[dict[str, Any]]) -> list[float]:
        """One prediction per record (a mapping of feature name to value); extra keys are ignored.

        Raises :class:`InvalidRecordError` when a feature is missing, a numeric value is not a
        finite number, or a categorical value is neither a string nor a number (or is missing).
        A categorical value that is not a known level is no error: see :class:`LevelMap`.
        """
        return self.score_records(records).tolist()


def _numeric_column(records: list[dict[str, Any]], name: str) -> np.ndarray:
    try:
        column = [float(r[name]) for r in records]
    except KeyError as exc:
        raise InvalidRecordError(f"record is missing feature {name!r}") from exc
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"feature {name!r} must be a number: {exc}") from exc
    if not all(map(math.isfinite, column)):
        raise InvalidRecordError(f"feature {name!r} must be a finite number")
    return np.array(column, dtype=np.float32).reshape(-1, 1)


def _category_column(records: list[dict[str, Any]], name: str) -> list[Any]:
    try:
        column = [r[name] for r in records]
    except KeyError as exc:
        raise InvalidRecordError(f"record is missing feature {name!r}") from exc
    for value in column:
        if isinstance(value, str | bool | np.bool_):
            continue
        if not isinstance(value, int | float | np.integer | np.floating) or not math.isfinite(value):
            raise InvalidRecordError(f"feature {name!r} must be a string (one of its levels), got {value!r}")
    return column


def _check_inputs(session: ort.InferenceSession, schema: Schema) -> None:
    expected = {name: _NUMERIC_TYPE for name in schema.numeric_names} | {
        name: _STRING_TYPE for name in schema.categorical_names
    }
    actual = {i.name: i.type for i in session.get_inputs()}
    problems: dict[str, Any] = {}
    if missing := sorted(set(expected) - set(actual)):
        problems["missing"] = missing
    if unknown := sorted(set(actual) - set(expected)):
        problems["unknown"] = unknown
    if wrong := {n: actual[n] for n in expected.keys() & actual.keys() if actual[n] != expected[n]}:
        problems["wrong_type"] = wrong
    for node in session.get_inputs():
        # [None, 1] (a named or unnamed batch dimension, one column) is what export_onnx writes.
        if node.name in expected and (len(node.shape) != 2 or node.shape[1] != 1):
            problems.setdefault("wrong_shape", {})[node.name] = list(node.shape)
    if problems:
        raise ModelLoadError("model inputs do not match the schema", reason="input_mismatch", details=problems)
