"""Promote, reject, roll back and finish: the only code that moves the production alias."""

from __future__ import annotations

import json
import logging
from typing import Any

from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.exceptions import ModelLoadError, ModelNotFoundError
from selfheal.flows.keys import REFERENCE_KEY, REFERENCE_META_KEY, execution_name
from selfheal.inference import OnnxModel
from selfheal.storage import write_json
from selfheal.telemetry import HealingAction

logger = logging.getLogger(__name__)


def loads_ok(ctx: Context):
    """The registry's health predicate: the bytes load in onnxruntime with the schema's inputs."""

    def check(data: bytes) -> bool:
        try:
            OnnxModel.from_bytes(data, ctx.settings.schema)
            return True
        except ModelLoadError:
            return False

    return check


def promote(ctx: Context, *, version: str, training_key: str | None, reason: str,
            execution_arn: str | None) -> dict[str, Any]:
    before = ctx.registry.production()
    alias = ctx.registry.promote(version, reason=reason, execution_arn=execution_arn)
    s = ctx.settings
    if training_key:
        # The reference moves to the new training distribution, so the next drift check compares
        # against what production was trained on. The bucket is versioned: old references are kept.
        ctx.s3.copy_object(Bucket=s.data_bucket, Key=REFERENCE_KEY,
                           CopySource={"Bucket": s.data_bucket, "Key": training_key})
        write_json(ctx.s3, s.data_bucket, REFERENCE_META_KEY,
                   {"version": version, "source": training_key, "execution_arn": execution_arn,
                    "at": ctx.clock().isoformat()})
    previous = before["version"] if before else None
    if previous == version and alias.get("execution_arn") == execution_arn:
        # A retry after the first attempt moved the alias and died before auditing it.
        previous = alias.get("previous_version")
    ctx.telemetry.healing_action(HealingAction.PROMOTE)
    ctx.audit.record(AuditAction.PROMOTED, f"{previous or 'none'} -> {version} ({reason})",
                     execution_arn=execution_arn, details={"version": version, "previous_version": previous})
    return {"version": alias["version"], "previous_version": previous}


def reject(ctx: Context, *, version: str, reasons: list[str], execution_arn: str | None) -> dict[str, Any]:
    text = "; ".join(reasons) or "validation failed"
    ctx.registry.mark_status(version, "rejected", text, execution_arn=execution_arn)
    ctx.telemetry.healing_action(HealingAction.REJECT)
    production = ctx.registry.production()
    return {"version": version, "status": "rejected", "champion": production["version"] if production else None}


def rollback(ctx: Context, *, reason: str, execution_arn: str | None, from_version: str | None = None,
             to_version: str | None = None) -> dict[str, Any]:
    before = ctx.registry.production()
    bad = from_version or (before["version"] if before else None)
    alias = ctx.registry.rollback(reason=reason, execution_arn=execution_arn, to_version=to_version,
                                  is_healthy=loads_ok(ctx))
    if bad and bad != alias["version"]:
        ctx.registry.mark_status(bad, "rolled_back", reason, execution_arn=execution_arn)
    ctx.telemetry.healing_action(HealingAction.ROLLBACK)
    ctx.audit.record(AuditAction.ROLLED_BACK, f"{bad} -> {alias['version']}: {reason}", execution_arn=execution_arn,
                     details={"from_version": bad, "version": alias["version"]})
    return {"version": alias["version"], "from_version": bad}


def finish(ctx: Context, *, outcome: str, state: dict[str, Any], execution_arn: str | None) -> dict[str, Any]:
    """Every path of the state machine ends here: release the lock, audit the outcome."""
    released = ctx.lock.release(execution_name(execution_arn))
    error = state.get("error") or {}
    err_name, cause = error.get("Error"), error.get("Cause")
    if err_name and cause:
        try:
            cause = json.loads(cause).get("errorMessage", cause)
        except (ValueError, AttributeError):
            pass  # a Cause that is plain text (not a Lambda error payload) is shown as it is
    production = None
    try:
        production = ctx.registry.production()
    except (ModelNotFoundError, ValueError) as err:
        logger.warning("could not read the production alias: %s", err)
    details = {"outcome": outcome, "lock_released": released, "error": err_name, "cause": cause,
               "production_version": production["version"] if production else None,
               "trigger": state.get("trigger")}
    if not err_name and state.get("rollback"):
        rb = state["rollback"]
        err_name = "SmokeTestFailed"
        cause = f"post-promotion smoke test failed; rolled back {rb.get('from_version')} -> {rb.get('version')}"
        details.update(error=err_name, cause=cause)
    summary = f"{outcome}" + (f": {err_name}: {cause}" if err_name else "")
    ctx.audit.record(AuditAction.EXECUTION_FINISHED, summary, execution_arn=execution_arn, details=details)
    return {"outcome": outcome, "error": err_name or ("SelfHealingFailed" if outcome == "failed" else None),
            "cause": cause or ("see the execution history" if outcome == "failed" else None),
            "lock_released": released}
