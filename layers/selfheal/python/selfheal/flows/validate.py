"""Validate: the gate between a challenger and production.

Checks, all on the challenger's seeded holdout: absolute R², ONNX-vs-sklearn parity, single-row
latency, and champion/challenger RMSE on the *same* holdout (the champion may be at most
``challenger_margin`` better). Regression metrics only; the seed project computed classification
accuracy on a regressor. This module measures; the decision itself is ``selfheal.gate.decide``.
"""

from __future__ import annotations

import logging
from typing import Any

from selfheal import lineage
from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.contracts import ValidateResult
from selfheal.exceptions import ModelLoadError, ModelNotFoundError
from selfheal.gate import ChampionScore, Measured, Thresholds, decide, median_latency_ms
from selfheal.inference import OnnxModel
from selfheal.metrics import regression_metrics
from selfheal.storage import read_frame
from selfheal.telemetry import Stage

logger = logging.getLogger(__name__)


def validate_version(ctx: Context, *, version: str, holdout_key: str, execution_arn: str | None) -> ValidateResult:
    s = ctx.settings
    schema = ctx.schemas.of_version(version)  # the challenger's own schema (selfheal.lineage)
    production = ctx.registry.production()
    change = (lineage.describe_change(ctx.schemas.of_version(production["version"]), schema)
              if production and production["version"] != version else None)
    holdout = read_frame(ctx.s3, s.model_bucket, holdout_key)
    columns = {name: holdout[name].to_numpy() for name in schema.feature_names}
    y = holdout[schema.target.name].to_numpy()
    record = ctx.registry.get_version(version)
    challenger = OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), schema)
    metrics = regression_metrics(y, challenger.predict_columns(columns))
    ctx.telemetry.model_quality(model_version=version, stage=Stage.VALIDATE, r2=metrics["r2"], rmse=metrics["rmse"])
    # The value Train gated on (selfheal.training.Parity); versions before it recorded only the absolute one.
    parity = float(record["metrics"].get("parity", record["metrics"].get("parity_max_abs_diff", float("inf"))))
    row = [holdout.iloc[0][schema.feature_names].to_dict()]
    latency = median_latency_ms(lambda: challenger.predict_records(row))
    champion = _champion(ctx, version, columns, y, schema_change=change)
    score = ChampionScore(champion["version"], champion["rmse"]) if champion.get("rmse") is not None else None
    verdict = decide(Measured(r2=metrics["r2"], rmse=metrics["rmse"], parity=parity, latency_ms=latency,
                              schema_change=change), score, Thresholds.from_settings(s))
    checks = [c.to_dict() for c in verdict.checks]
    passed, reasons = verdict.passed, verdict.reasons
    summary = (f"{version} passed: R² {metrics['r2']:.3f}, RMSE {metrics['rmse']:.4f}" if passed
               else f"{version} failed: " + "; ".join(reasons))
    item = ctx.audit.record(AuditAction.VALIDATED if passed else AuditAction.REJECTED, summary,
                            execution_arn=execution_arn,
                            details={"version": version, "checks": checks, "metrics": metrics, "champion": champion})
    if not passed:
        stays = f"{champion['version']} stays in production" if champion.get("version") else "no production model"
        ctx.alerter.send(AlertKind.VALIDATION_REJECTED, f"challenger {version} rejected; {stays}",
                         reason="; ".join(reasons), versions={"challenger": version, "champion": champion.get("version")},
                         details={"failed_checks": [c["name"] for c in checks if not c["passed"]], "metrics": metrics},
                         execution_arn=execution_arn, about=item)
    return {"passed": passed, "version": version, "metrics": metrics, "checks": checks, "reasons": reasons,
            "champion": champion}


def _champion(ctx: Context, challenger: str, columns: dict[str, Any], y: Any, *,
              schema_change: str | None) -> dict[str, Any]:
    production = ctx.registry.production()
    if production is None:
        return {"version": None, "rmse": None, "note": "no production model yet"}
    version = production["version"]
    if version == challenger:
        return {"version": version, "rmse": None, "note": "challenger is already production"}
    if schema_change is not None:
        # Another lineage: the champion cannot score the challenger's holdout (other columns).
        return {"version": version, "rmse": None, "note": f"another schema, not comparable: {schema_change}"}
    try:
        model = OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), ctx.schemas.of_version(version))
    except (ModelLoadError, ModelNotFoundError) as err:
        # A broken champion cannot defend its title; the absolute checks still apply.
        logger.warning("champion %s cannot be loaded (%s); comparing on absolute checks only", version, err)
        return {"version": version, "rmse": None, "note": f"champion unavailable: {err}"}
    m = regression_metrics(y, model.predict_columns(columns))
    return {"version": version, "rmse": m["rmse"], "r2": m["r2"]}
