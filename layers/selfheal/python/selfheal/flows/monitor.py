"""The drift trigger: every upload to ``incoming/`` is checked, and may start a retraining.

Decision order: a repeated delivery of an object version already checked → skipped
(``selfheal.idempotency``); unreadable → quarantine (no training); drift (Evidently) or a worse
production RMSE on a labelled batch → retrain, unless the lock is held or the cooldown is active, in
which case the batch is deferred to the next retraining. Every decision is audited with its reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction
from selfheal.clock import as_utc
from selfheal.context import Context
from selfheal.contracts import BatchRef, ExecutionInput, Trigger
from selfheal.drift import detect_drift, report_key
from selfheal.exceptions import (
    CooldownActiveError,
    DataQualityError,
    DuplicateDeliveryError,
    LockHeldError,
    ModelLoadError,
    ModelNotFoundError,
    SelfHealError,
)
from selfheal.flows.keys import REFERENCE_KEY, execution_arn_for
from selfheal.flows.quarantine import quarantine_batch
from selfheal.idempotency import DeliveryLedger, ObjectVersion
from selfheal.inference import OnnxModel
from selfheal.metrics import regression_metrics
from selfheal.monitoring import degradation_check
from selfheal.pending import PendingBatches
from selfheal.quality import fix_batch, parse_csv
from selfheal.storage import exists, read_bytes, read_frame, write_json
from selfheal.telemetry import HealingAction

logger = logging.getLogger(__name__)

# How long a lock holder may take between taking the lock and starting its execution.
START_GRACE_SECONDS = 120.0


def check_delivery(ctx: Context, obj: ObjectVersion, *, owner: str, lease_seconds: float) -> dict[str, Any]:
    """Check one delivered upload unless this object version was checked (or is being checked) already.

    ``owner`` is the invocation's request id and ``lease_seconds`` its remaining time: the claim
    rules in ``selfheal.idempotency`` make sure the retry of a failed delivery is checked, never
    skipped. A skipped duplicate is audited with the reason and returns decision ``"duplicate"``.
    """
    if obj.version is None:
        logger.warning("%s: the event has no versionId, sequencer or eTag; checked without duplicate detection",
                       obj.uri)
        return check_upload(ctx, bucket=obj.bucket, key=obj.key)
    ledger = DeliveryLedger(ctx.dynamodb, ctx.settings.state_table, clock=ctx.clock)
    try:
        ledger.claim(obj, owner=owner, lease_seconds=lease_seconds)
    except DuplicateDeliveryError as err:
        logger.info("%s", err)
        ctx.audit.record(AuditAction.DUPLICATE_DELIVERY, str(err), details=err.details)
        return {"decision": "duplicate", "key": obj.key, "reason": err.reason, "message": str(err)}
    try:
        result = check_upload(ctx, bucket=obj.bucket, key=obj.key)
    except BaseException:  # re-raised: also SystemExit, when the runtime shuts down mid-check
        # Lambda retries the failed event; the retry must find the version unclaimed. (A delivery
        # killed before it gets here is covered by the owner and lease rules.)
        ledger.release(obj, owner=owner)
        raise
    ledger.complete(obj, owner=owner, decision=result["decision"])
    return result


def check_upload(ctx: Context, *, bucket: str, key: str) -> dict[str, Any]:
    s = ctx.settings
    schema = ctx.schema
    try:
        raw = read_bytes(ctx.s3, bucket, key, max_bytes=s.max_upload_bytes)
        frame = parse_csv(raw, schema, max_bytes=s.max_upload_bytes, require_target=False)
        labelled = schema.target.name in frame.columns
        fixed = fix_batch(frame, schema, iqr_factor=s.iqr_factor, max_bad_row_fraction=s.max_bad_row_fraction,
                          require_target=labelled).frame
    except DataQualityError as err:
        record = quarantine_batch(ctx, bucket, key, err)
        return {"decision": "quarantined", "key": key, "reason": record["reason"], "message": record["message"]}
    if not exists(ctx.s3, s.data_bucket, REFERENCE_KEY):
        ctx.audit.record(AuditAction.BATCH_DEFERRED, "no reference data yet (bootstrap has not run)",
                         details={"key": key})
        PendingBatches(ctx.dynamodb, s.state_table).add(bucket, key, "no_reference")
        return {"decision": "deferred", "key": key, "reason": "no_reference"}

    reference = read_frame(ctx.s3, s.data_bucket, REFERENCE_KEY)
    drift = detect_drift(reference, fixed, columns=schema.feature_names, schema=schema,
                         threshold_share=s.drift_share_threshold)
    ctx.telemetry.drift_check(share=drift.drifted_share, drifted=drift.dataset_drift)
    now = ctx.clock()
    rkey = report_key(now)
    ctx.s3.put_object(Bucket=s.data_bucket, Key=rkey, Body=drift.html.encode(), ContentType="text/html")
    summary = {**drift.summary(), "batch_key": key, "report_key": rkey, "at": now.isoformat()}
    write_json(ctx.s3, s.data_bucket, rkey.removesuffix(".html") + ".json", summary)
    drift_text = (f"{len(drift.drifted_columns)}/{len(drift.column_scores)} columns drifted "
                  f"(share {drift.drifted_share:.2f}, threshold {s.drift_share_threshold:.2f})")
    drift_item = ctx.audit.record(AuditAction.DRIFT_DETECTED if drift.dataset_drift else AuditAction.NO_DRIFT,
                                  drift_text, details={"key": key, "report_key": rkey,
                                                       "drifted_share": drift.drifted_share,
                                                       "drifted_columns": drift.drifted_columns,
                                                       "scores": {c: v["score"] for c, v in drift.column_scores.items()}})
    if drift.dataset_drift:
        ctx.alerter.send(AlertKind.DRIFT_DETECTED, f"drift in {key}", reason=drift_text,
                         details={"key": key, "report_key": rkey, "drifted_columns": drift.drifted_columns},
                         about=drift_item)

    degradation = _degradation(ctx, fixed) if labelled else None
    if degradation and degradation["degraded"]:
        item = ctx.audit.record(AuditAction.DEGRADATION_DETECTED, degradation["reason"],
                                details={"key": key, **degradation})
        ctx.alerter.send(AlertKind.DEGRADATION, f"production {degradation['version']} degraded on {key}",
                         reason=degradation["reason"], versions={"production": degradation["version"]},
                         details={"key": key, "ratio": degradation["ratio"], "batch_rmse": degradation["batch_rmse"],
                                  "promoted_rmse": degradation["promoted_rmse"]}, about=item)
    trigger = (Trigger.DRIFT if drift.dataset_drift
               else Trigger.DEGRADATION if degradation and degradation["degraded"] else None)
    result: dict[str, Any] = {"key": key, "drift": {k: v for k, v in summary.items() if k != "column_scores"},
                              "degradation": degradation}
    if trigger is None:
        return {**result, "decision": "no_action"}
    if not labelled:
        ctx.audit.record(AuditAction.BATCH_DEFERRED, f"{trigger} found but the batch has no target to train on",
                         details={"key": key})
        return {**result, "decision": "unlabelled"}
    return {**result, **start_retraining(ctx, bucket=bucket, key=key, trigger=trigger)}


def _degradation(ctx: Context, batch: Any) -> dict[str, Any] | None:
    production = ctx.registry.production()
    if production is None:
        return None
    version = production["version"]
    schema = ctx.schemas.of_version(version)
    try:
        model = OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), schema)
        promoted_rmse = float(ctx.registry.get_version(version)["metrics"]["rmse"])
    except (ModelLoadError, ModelNotFoundError) as err:
        logger.warning("production model %s unavailable for the degradation check: %s", version, err)
        return {"degraded": False, "reason": f"production model unavailable: {err}", "version": version}
    preds = model.predict_columns({c: batch[c].to_numpy() for c in schema.feature_names})
    batch_rmse = regression_metrics(batch[schema.target.name].to_numpy(), preds)["rmse"]
    res = degradation_check(batch_rmse, promoted_rmse, max_ratio=ctx.settings.degradation_ratio)
    return {"degraded": res.degraded, "ratio": res.ratio, "reason": res.reason, "version": version,
            "batch_rmse": batch_rmse, "promoted_rmse": promoted_rmse}


def _reclaim_stale_lock(ctx: Context, err: LockHeldError) -> bool:
    """Release a lock whose holder execution has ended without releasing it (killed, or its cloud
    restarted); a running holder keeps it. Returns whether the lock was released."""
    holder = (err.details or {}).get("holder") or {}
    owner = holder.get("owner")
    if not owner:
        return False
    # The holder recorded the execution it starts; a holder that did not (a lock taken by hand) is
    # looked up under its own name, the name every starter here gives its execution.
    execution_arn = holder.get("execution_arn")
    if not execution_arn:
        try:
            execution_arn = execution_arn_for(ctx.settings.state_machine_arn or "", owner)
        except ValueError:
            return False
    try:
        status = ctx.stepfunctions.describe_execution(executionArn=execution_arn)["status"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            logger.warning("cannot check the lock holder %s: %s", execution_arn, exc)
            return False
        # The holder takes the lock before it starts its execution: a missing execution is only
        # stale once the holder has had ample time to start it (it died in between).
        acquired = holder.get("acquired_at")
        age = (as_utc(ctx.clock()) - datetime.fromisoformat(acquired)).total_seconds() if acquired else 0.0
        if age < START_GRACE_SECONDS:
            return False
        status = "NEVER_STARTED"
    if status == "RUNNING" or not ctx.lock.release(owner):
        return False
    ctx.audit.record(AuditAction.LOCK_RECLAIMED,
                     f"the retraining lock was held by {owner}, which is {status} and never released it",
                     execution_arn=execution_arn, details={"holder": owner, "status": status})
    return True


# What refused a retraining -> the healing action counted and the audit action recorded for it.
_DEFERRALS = {
    "lock": (HealingAction.DEFERRED_LOCK, AuditAction.RETRAIN_SKIPPED_LOCK),
    "cooldown": (HealingAction.DEFERRED_COOLDOWN, AuditAction.RETRAIN_SKIPPED_COOLDOWN),
}


def _defer(ctx: Context, pending: PendingBatches, reason: str, err: SelfHealError, message: str, *,
           bucket: str, key: str, details: dict[str, Any], already_pending: bool) -> dict[str, Any]:
    """A refused retraining: the batch is left pending, counted and audited; once only, so a batch
    the drain retries (``already_pending``) just waits."""
    if already_pending:
        logger.info("pending batches wait: %s", err)
        return {"decision": "waiting", "reason": reason}
    pending.add(bucket, key, reason)
    healing, audited = _DEFERRALS[reason]
    ctx.telemetry.healing_action(healing)
    ctx.audit.record(audited, message, details=details)
    return {"decision": "deferred", "reason": reason}


def start_retraining(ctx: Context, *, bucket: str, key: str, trigger: str,
                     already_pending: bool = False) -> dict[str, Any]:
    """Take the lock, claim the cooldown, start the state machine; or defer the batch, audited.

    ``already_pending``: the batch was deferred before (the drain retries it); a refusal then
    leaves it pending without a second audit item.
    """
    s = ctx.settings
    pending = PendingBatches(ctx.dynamodb, s.state_table)
    now = ctx.clock()
    name = f"{trigger}-{now.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    # The lock's owner is the execution's name; the execution input names it, and Finish releases it.
    arn = execution_arn_for(s.state_machine_arn or "", name)
    try:
        try:
            ctx.lock.acquire(name, s.lock_lease_seconds, execution_arn=arn)
        except LockHeldError as err:
            if not _reclaim_stale_lock(ctx, err):
                raise
            ctx.lock.acquire(name, s.lock_lease_seconds, execution_arn=arn)
    except LockHeldError as err:
        return _defer(ctx, pending, "lock", err, f"another retraining is running: {err}", bucket=bucket,
                      key=key, details={"key": key, "trigger": trigger}, already_pending=already_pending)
    try:
        ctx.cooldown.claim(s.cooldown_hours, reason=trigger)
    except CooldownActiveError as err:
        ctx.lock.release(name)
        return _defer(ctx, pending, "cooldown", err, f"cooldown: {err}", bucket=bucket, key=key,
                      details={"key": key, "trigger": trigger, **err.details}, already_pending=already_pending)
    batches: list[BatchRef] = [{"bucket": bucket, "key": key}]
    batches += [{"bucket": p["bucket"], "key": p["key"]} for p in pending.list() if p["key"] != key]
    execution = ExecutionInput(trigger=trigger, batches=batches, include_reference=True, lock_owner=name)
    try:
        arn = ctx.stepfunctions.start_execution(stateMachineArn=s.state_machine_arn, name=name,
                                                input=json.dumps(execution.to_dict()))["executionArn"]
    except Exception:
        ctx.lock.release(name)  # never leave the lock behind a start that did not happen
        raise
    ctx.telemetry.healing_action(HealingAction.RETRAIN)
    ctx.audit.record(AuditAction.RETRAIN_STARTED, f"{trigger}: retraining on {len(batches)} batch(es)",
                     execution_arn=arn, details={"batches": batches, "trigger": trigger})
    return {"decision": "retrain_started", "execution_arn": arn, "batches": batches}


def drain_pending(ctx: Context) -> dict[str, Any]:
    """Scheduled: batches deferred by the lock or the cooldown start a retraining once both allow,
    so a deferred batch is never left behind when no further upload arrives."""
    waiting = PendingBatches(ctx.dynamodb, ctx.settings.state_table).list()
    if not waiting:
        return {"decision": "nothing_pending"}
    first = waiting[0]
    result = start_retraining(ctx, bucket=first["bucket"], key=first["key"], trigger=Trigger.DEFERRED,
                              already_pending=True)
    return {**result, "pending": len(waiting)}
