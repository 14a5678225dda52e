"""Train: fit the scikit-learn pipeline, export ONNX, measure parity, publish an immutable version."""

from __future__ import annotations

import platform
from importlib.metadata import version as package_version
from typing import Any

import pandas as pd

from selfheal import lineage
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.contracts import TrainResult
from selfheal.flows.keys import holdout_key
from selfheal.registry import HOLDOUT_PREDICTIONS_FILE
from selfheal.storage import read_bytes, read_frame, write_frame
from selfheal.telemetry import Stage
from selfheal.training import export_onnx, onnx_predict, parity_report, train_model

_LIBRARIES = ("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "pandas", "numpy")


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **{name: package_version(name) for name in _LIBRARIES}}


def train_version(ctx: Context, *, training_key: str, fingerprint: str, trigger: str,
                  execution_arn: str | None, params: dict[str, Any] | None = None,
                  schema_key: str | None = None) -> TrainResult:
    """Train on ``training_key`` with the schema FixData used (``schema_key``; production's without
    one) and publish the version with that schema in its manifest (``selfheal.lineage``)."""
    s = ctx.settings
    schema = (lineage.parse_uploaded(read_bytes(ctx.s3, s.data_bucket, schema_key, max_bytes=1024 * 1024),
                                     key=schema_key) if schema_key else ctx.schema)
    data = read_frame(ctx.s3, s.data_bucket, training_key)
    # One thread: on a small machine the booster's default two threads made fits take 0.5 s to 24 s
    # at random; one thread is steady (and a Lambda has few vCPUs anyway).
    trained = train_model(data, schema, model_type=s.model_type, params=params, n_threads=1)
    onnx_bytes = export_onnx(trained.pipeline, schema)
    # Absolute in the default's $100k units, relative to the predictions' scale for larger units.
    parity = parity_report(onnx_bytes, trained.pipeline, trained.X_holdout)
    production = ctx.registry.production()
    parent_version: str | None = production["version"] if production else None
    metrics = {**trained.metrics, **parity.to_metrics()}
    manifest = {
        "model_type": trained.model_type,
        "params": trained.params,
        "seed": trained.seed,
        lineage.MANIFEST_KEY: lineage.manifest_entry(schema),
        "schema_name": schema.name,
        "features": schema.feature_names,
        "target": schema.target.name,
        "data_fingerprint": fingerprint,
        "training_key": f"s3://{s.data_bucket}/{training_key}",
        "rows": {"train": trained.train_rows, "holdout": trained.holdout_rows},
        "training_seconds": round(trained.training_seconds, 3),
        "parent_version": parent_version,
        "trigger": trigger,
        "execution_arn": execution_arn,
        "parity_tolerance": s.parity_tolerance,
        "libraries": library_versions(),
    }
    # What serving would answer on the holdout: the reference the monitor compares live predictions with.
    predictions = onnx_predict(onnx_bytes, trained.X_holdout)
    holdout_predictions = {"rows": len(predictions), "source": "onnx",
                           "predictions": [round(float(p), 6) for p in predictions]}
    version = ctx.registry.publish_version(onnx_bytes, metrics, manifest,
                                           documents={HOLDOUT_PREDICTIONS_FILE: holdout_predictions})
    holdout = pd.concat([trained.X_holdout.reset_index(drop=True),
                         pd.Series(trained.y_holdout, name=schema.target.name)], axis=1)
    hkey = holdout_key(s.model_name, version)
    write_frame(ctx.s3, s.model_bucket, hkey, holdout)
    ctx.telemetry.model_quality(model_version=version, stage=Stage.TRAIN, r2=metrics["r2"], rmse=metrics["rmse"])
    ctx.audit.record(AuditAction.TRAINED,
                     f"{version}: R2 {metrics['r2']:.3f}, RMSE {metrics['rmse']:.3f}, parity {parity.value:.2e} ({parity.basis})",
                     execution_arn=execution_arn, details={"version": version, "metrics": metrics,
                                                          "rows": manifest["rows"]})
    return {"version": version, "metrics": metrics, "parity": parity.value, "holdout_key": hkey,
            "parent_version": parent_version}
