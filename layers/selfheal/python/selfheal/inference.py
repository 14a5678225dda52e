"""Serving: run an exported ONNX model with onnxruntime.

Deliberately free of scikit-learn and pandas: the Predict Lambda imports only numpy and
onnxruntime, which keeps its package small and its cold start short. The model's graph has one
input per schema feature, shaped ``[None, 1]``: float32 for numeric features, string for
categorical ones (see ``selfheal.training.export_onnx``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from selfheal.exceptions import ModelLoadError
from selfheal.schema import Schema

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

    def predict_columns(self, columns: Mapping[str, Sequence[Any] | np.ndarray]) -> np.ndarray:
        """Predictions (float64, shape ``[n]``) for column-oriented input, one sequence per feature."""
        feed: dict[str, np.ndarray] = {}
        for name in self._numeric:
            feed[name] = np.asarray(columns[name], dtype=np.float32).reshape(-1, 1)
        for name in self._categorical:
            feed[name] = np.array([str(v) for v in columns[name]], dtype=object).reshape(-1, 1)
        rows = len(next(iter(feed.values()))) if feed else 0
        (result,) = self._session_for(rows).run([self._output], feed)
        return np.asarray(result, dtype=np.float64).reshape(-1)

    def predict_records(self, records: list[dict[str, Any]]) -> list[float]:
        """One prediction per record (a mapping of feature name to value); extra keys are ignored.

        Raises :class:`InvalidRecordError` when a feature is missing, a numeric value is not a
        finite number, or a categorical value is not a string.
        """
        if not records:
            return []
        feed = {name: _numeric_column(records, name) for name in self._numeric}
        feed |= {name: _string_column(records, name) for name in self._categorical}
        (result,) = self._session_for(len(records)).run([self._output], feed)
        return [float(v) for v in result.reshape(-1)]


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


def _string_column(records: list[dict[str, Any]], name: str) -> np.ndarray:
    try:
        column = [r[name] for r in records]
    except KeyError as exc:
        raise InvalidRecordError(f"record is missing feature {name!r}") from exc
    if not all(isinstance(v, str) for v in column):
        raise InvalidRecordError(f"feature {name!r} must be a string")
    return np.array(column, dtype=object).reshape(-1, 1)


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
