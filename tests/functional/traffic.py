"""Synthetic live traffic for the monitor: capture objects as PredictFunction writes them, and label files.

Shared by tests/functional/test_live_monitor.py and tests/benchmarks/bench_monitor.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from selfheal import capture, datagen
from selfheal.capture import CaptureRecord
from selfheal.inference import OnnxModel
from selfheal.schema import DEFAULT_SCHEMA, Schema


def predictions(model: OnnxModel, frame: pd.DataFrame, schema: Schema = DEFAULT_SCHEMA) -> np.ndarray:
    return model.predict_columns({c: frame[c].to_numpy() for c in schema.feature_names})


def records(frame: pd.DataFrame, predicted: np.ndarray, *, version: str, schema: Schema = DEFAULT_SCHEMA,
            now: datetime | None = None) -> list[CaptureRecord]:
    """One capture record per row of ``frame`` (its features; ``predicted`` as the answer)."""
    ts = (now or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ids = [str(uuid.uuid4()) for _ in range(len(frame))]
    features = frame[schema.feature_names].to_dict("records")
    return [CaptureRecord(prediction_id=ids[i], ts=ts, model_version=version, features=features[i],
                          prediction=float(predicted[i]), latency_ms=1.0) for i in range(len(frame))]


def write_capture(s3: Any, bucket: str, recs: list[CaptureRecord], *, per_object: int = 1000,
                  writer: str = "test", now: datetime | None = None) -> list[str]:
    """The records as capture objects of ``per_object`` records each, keyed as the writer keys them."""
    moment = now or datetime.now(UTC)
    keys = []
    for seq, start in enumerate(range(0, len(recs), per_object), start=1):
        key = capture.object_key(moment, writer, seq)
        capture.put_records(s3, bucket, key, recs[start:start + per_object])
        keys.append(key)
    return keys


def labels_csv(recs: list[CaptureRecord], truth: np.ndarray | list[float], schema: Schema = DEFAULT_SCHEMA) -> bytes:
    """``prediction_id,<target>`` for ``recs`` with the true values ``truth``."""
    lines = [f"prediction_id,{schema.target.name}"] + [f"{r['prediction_id']},{t:.5f}" for r, t in
                                                         zip(recs, truth, strict=True)]
    return ("\n".join(lines) + "\n").encode()


def traffic(n: int, *, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """Synthetic requests with their true target (which the caller may keep back as labels)."""
    return datagen.generate(n, seed=seed, drift=drift)
