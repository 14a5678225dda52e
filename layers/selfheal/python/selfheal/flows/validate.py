"""Validate: the gate between a challenger and production.

Checks, all on the challenger's seeded holdout: absolute R², ONNX-vs-sklearn parity, single-row
latency, and champion/challenger RMSE on the *same* holdout (the champion may be at most
``challenger_margin`` better). Regression metrics only; the seed project computed classification
accuracy on a regressor.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.exceptions import ModelLoadError, ModelNotFoundError
from selfheal.inference import OnnxModel
from selfheal.metrics import regression_metrics
from selfheal.storage import read_frame
from selfheal.telemetry import Stage

logger = logging.getLogger(__name__)


def _latency_ms(model: OnnxModel, record: dict[str, Any], runs: int = 50) -> float:
    model.predict_records([record])  # warm-up
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        model.predict_records([record])
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def validate_version(ctx: Context, *, version: str, holdout_key: str, execution_arn: str | None) -> dict[str, Any]:
    s = ctx.settings
    schema = s.schema
    holdout = read_frame(ctx.s3, s.model_bucket, holdout_key)
    columns = {name: holdout[name].to_numpy() for name in schema.feature_names}
    y = holdout[schema.target.name].to_numpy()
    record = ctx.registry.get_version(version)
    challenger = OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), schema)
    metrics = regression_metrics(y, challenger.predict_columns(columns))
    ctx.telemetry.model_quality(model_version=version, stage=Stage.VALIDATE, r2=metrics["r2"], rmse=metrics["rmse"])
    parity = float(record["metrics"].get("parity_max_abs_diff", float("inf")))
    latency = _latency_ms(challenger, holdout.iloc[0][schema.feature_names].to_dict())
    checks = [
        _check("min_r2", metrics["r2"] >= s.min_r2, metrics["r2"], s.min_r2,
               f"holdout R² {metrics['r2']:.3f} below the minimum {s.min_r2:.2f}"),
        _check("onnx_parity", parity <= s.parity_tolerance, parity, s.parity_tolerance,
               f"ONNX differs from scikit-learn by {parity:.2e}, above the tolerance {s.parity_tolerance:.1e}"),
        _check("latency_ms", latency <= s.max_predict_latency_ms, latency, s.max_predict_latency_ms,
               f"single-row latency {latency:.2f} ms above {s.max_predict_latency_ms} ms"),
    ]
    champion = _champion(ctx, version, columns, y)
    if champion.get("rmse") is not None:
        limit = champion["rmse"] * (1 + s.challenger_margin)
        checks.append(_check("champion_rmse", metrics["rmse"] <= limit, metrics["rmse"], limit,
                             f"challenger RMSE {metrics['rmse']:.4f} worse than champion {champion['version']} "
                             f"RMSE {champion['rmse']:.4f} (margin {s.challenger_margin:.0%})"))
    failed = [c for c in checks if not c["passed"]]
    passed = not failed
    reasons = [c["reason"] for c in failed]
    summary = (f"{version} passed: R² {metrics['r2']:.3f}, RMSE {metrics['rmse']:.4f}" if passed
               else f"{version} failed: " + "; ".join(reasons))
    ctx.audit.record(AuditAction.VALIDATED if passed else AuditAction.REJECTED, summary, execution_arn=execution_arn,
                     details={"version": version, "checks": checks, "metrics": metrics, "champion": champion})
    return {"passed": passed, "version": version, "metrics": metrics, "checks": checks, "reasons": reasons,
            "champion": champion}


def _check(name: str, passed: bool, value: float, threshold: float, reason: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "value": float(value), "threshold": float(threshold),
            "reason": "" if passed else reason}


def _champion(ctx: Context, challenger: str, columns: dict[str, Any], y: Any) -> dict[str, Any]:
    production = ctx.registry.production()
    if production is None:
        return {"version": None, "rmse": None, "note": "no production model yet"}
    version = production["version"]
    if version == challenger:
        return {"version": version, "rmse": None, "note": "challenger is already production"}
    try:
        model = OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), ctx.settings.schema)
    except (ModelLoadError, ModelNotFoundError) as err:
        # A broken champion cannot defend its title; the absolute checks still apply.
        logger.warning("champion %s cannot be loaded (%s); comparing on absolute checks only", version, err)
        return {"version": version, "rmse": None, "note": f"champion unavailable: {err}"}
    m = regression_metrics(y, model.predict_columns(columns))
    return {"version": version, "rmse": m["rmse"], "r2": m["r2"]}
