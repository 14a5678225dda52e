"""Promote, reject, roll back and finish: the only code that moves the production alias."""

from __future__ import annotations

import json
import logging
from typing import Any

from botocore.exceptions import ClientError

from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.contracts import (
    FinishRequest,
    FinishResult,
    Outcome,
    PromoteResult,
    RejectResult,
    RollbackResult,
)
from selfheal.exceptions import ModelLoadError, ModelNotFoundError
from selfheal.flows.reference import publish_reference, restore_reference
from selfheal.inference import OnnxModel
from selfheal.telemetry import HealingAction

logger = logging.getLogger(__name__)


def loads_ok(ctx: Context):
    """The registry's health predicate: the bytes load in onnxruntime with the schema's inputs."""

    def check(data: bytes) -> bool:
        try:
            OnnxModel.from_bytes(data, ctx.schema)
            return True
        except ModelLoadError:
            return False

    return check


def promote(ctx: Context, *, version: str, training_key: str | None, reason: str,
            execution_arn: str | None) -> PromoteResult:
    before = ctx.registry.production()
    alias = ctx.registry.promote(version, reason=reason, execution_arn=execution_arn)
    # The reference moves to the new training distribution (its newest rows), so the next drift
    # check compares against what production was trained on. A promotion without a training set
    # (by hand, from the console) restores the version's own reference when it has one.
    reference: dict[str, Any] | None
    if training_key:
        reference = publish_reference(ctx, version=version, training_key=training_key, execution_arn=execution_arn)
    else:
        reference = restore_reference(ctx, version=version, execution_arn=execution_arn)
    previous = before["version"] if before else None
    if previous == version and alias.get("execution_arn") == execution_arn:
        # A retry after the first attempt moved the alias and died before auditing it.
        previous = alias.get("previous_version")
    ctx.telemetry.healing_action(HealingAction.PROMOTE)
    ctx.audit.record(AuditAction.PROMOTED, f"{previous or 'none'} -> {version} ({reason})",
                     execution_arn=execution_arn, details={"version": version, "previous_version": previous,
                                                          "reference": reference})
    return {"version": alias["version"], "previous_version": previous}


def reject(ctx: Context, *, version: str, reasons: list[str], execution_arn: str | None) -> RejectResult:
    text = "; ".join(reasons) or "validation failed"
    ctx.registry.mark_status(version, "rejected", text, execution_arn=execution_arn)
    ctx.telemetry.healing_action(HealingAction.REJECT)
    production = ctx.registry.production()
    return {"version": version, "status": "rejected", "champion": production["version"] if production else None}


def rollback(ctx: Context, *, reason: str, execution_arn: str | None, from_version: str | None = None,
             to_version: str | None = None) -> RollbackResult:
    before = ctx.registry.production()
    bad = from_version or (before["version"] if before else None)
    alias = ctx.registry.rollback(reason=reason, execution_arn=execution_arn, to_version=to_version,
                                  is_healthy=loads_ok(ctx))
    good = alias["version"]
    if bad and bad != good:
        ctx.registry.mark_status(bad, "rolled_back", reason, execution_arn=execution_arn)
    ctx.telemetry.healing_action(HealingAction.ROLLBACK)
    item = ctx.audit.record(AuditAction.ROLLED_BACK, f"{bad} -> {good}: {reason}", execution_arn=execution_arn,
                            details={"from_version": bad, "version": good})
    ctx.alerter.send(AlertKind.ROLLBACK, f"production rolled back {bad or 'none'} -> {good}", reason=reason,
                     versions={"from": bad, "to": good}, execution_arn=execution_arn, about=item)
    return {"version": good, "from_version": bad, "reference": _restore_after_rollback(ctx, good, execution_arn)}


def _restore_after_rollback(ctx: Context, version: str, execution_arn: str | None) -> dict[str, Any]:
    """Drift is measured against the rolled-back-to version's reference again; audited either way.

    Serving is already healed when this runs, so a reference that cannot be restored is audited
    (``reference_restored`` with ``restored: false``) rather than failing the rollback.
    """
    try:
        reference = restore_reference(ctx, version=version, execution_arn=execution_arn)
    except ClientError as err:
        logger.error("reference of %s not restored: %s", version, err)
        reference, why = None, f"S3 error: {err}"
    else:
        why = "no reference or training set recorded for it"
    if reference is None:
        ctx.audit.record(AuditAction.REFERENCE_RESTORED, f"reference of {version} NOT restored: {why}",
                         execution_arn=execution_arn, details={"version": version, "restored": False})
        return {"version": version, "restored": False}
    rows = f" ({reference['rows']} rows)" if reference.get("rows") is not None else ""
    ctx.audit.record(AuditAction.REFERENCE_RESTORED, f"reference of {version} restored from {reference['reference_key']}{rows}",
                     execution_arn=execution_arn, details={**reference, "restored": True})
    return {**reference, "restored": True}


def finish(ctx: Context, request: FinishRequest) -> FinishResult:
    """Every path of the state machine ends here: release the execution's lock, audit the outcome.

    The lock released is the one the execution input names (``lock_owner``); an execution started
    without one (the bootstrap) holds none, and releases none.
    """
    execution_arn = request.execution_arn
    released = ctx.lock.release(request.lock_owner) if request.lock_owner else False
    err_name = request.error.error if request.error else None
    cause = request.error.cause if request.error else None
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
    outcome = request.outcome
    details = {"outcome": outcome.value, "lock_released": released, "lock_owner": request.lock_owner,
               "error": err_name, "cause": cause,
               "production_version": production["version"] if production else None, "trigger": request.trigger}
    if not err_name and request.rolled_back:
        rb = request.rolled_back
        err_name = "SmokeTestFailed"
        cause = f"post-promotion smoke test failed; rolled back {rb.get('from_version')} -> {rb.get('version')}"
        details.update(error=err_name, cause=cause)
    summary = outcome.value + (f": {err_name}: {cause}" if err_name else "")
    ctx.audit.record(AuditAction.EXECUTION_FINISHED, summary, execution_arn=execution_arn, details=details)
    failed = outcome is Outcome.FAILED
    return {"outcome": outcome.value, "error": err_name or ("SelfHealingFailed" if failed else None),
            "cause": cause or ("see the execution history" if failed else None), "lock_released": released}
