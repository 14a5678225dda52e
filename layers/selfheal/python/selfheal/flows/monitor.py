"""The drift trigger: every upload to ``incoming/`` is checked, and may start a retraining.

Decision order: unreadable → quarantine (no training); drift (Evidently) or a worse production RMSE
on a labelled batch → retrain, unless the lock is held or the cooldown is active, in which case the
batch is deferred to the next retraining. Every decision is audited with its reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.drift import detect_drift, report_key
from selfheal.exceptions import (
    CooldownActiveError,
    DataQualityError,
    LockHeldError,
    ModelLoadError,
    ModelNotFoundError,
)
from selfheal.flows.keys import REFERENCE_KEY
from selfheal.flows.quarantine import quarantine_batch
from selfheal.inference import OnnxModel
from selfheal.metrics import regression_metrics
from selfheal.monitoring import degradation_check
from selfheal.pending import PendingBatches
from selfheal.quality import fix_batch, parse_csv
from selfheal.storage import exists, read_bytes, read_frame, write_json

logger = logging.getLogger(__name__)


def check_upload(ctx: Context, *, bucket: str, key: str) -> dict[str, Any]:
    s = ctx.settings
    schema = s.schema
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
    drift = detect_drift(reference, fixed, columns=schema.feature_names, threshold_share=s.drift_share_threshold)
    now = ctx.clock()
    rkey = report_key(now)
    ctx.s3.put_object(Bucket=s.data_bucket, Key=rkey, Body=drift.html.encode(), ContentType="text/html")
    summary = {**drift.summary(), "batch_key": key, "report_key": rkey, "at": now.isoformat()}
    write_json(ctx.s3, s.data_bucket, rkey.removesuffix(".html") + ".json", summary)
    drift_text = (f"{len(drift.drifted_columns)}/{len(drift.column_scores)} columns drifted "
                  f"(share {drift.drifted_share:.2f}, threshold {s.drift_share_threshold:.2f})")
    ctx.audit.record(AuditAction.DRIFT_DETECTED if drift.dataset_drift else AuditAction.NO_DRIFT, drift_text,
                     details={"key": key, "report_key": rkey, "drifted_share": drift.drifted_share,
                              "drifted_columns": drift.drifted_columns,
                              "scores": {c: v["score"] for c, v in drift.column_scores.items()}})

    degradation = _degradation(ctx, fixed) if labelled else None
    if degradation and degradation["degraded"]:
        ctx.audit.record(AuditAction.DEGRADATION_DETECTED, degradation["reason"], details={"key": key, **degradation})
    trigger = "drift" if drift.dataset_drift else ("degradation" if degradation and degradation["degraded"] else None)
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
    schema = ctx.settings.schema
    version = production["version"]
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


def start_retraining(ctx: Context, *, bucket: str, key: str, trigger: str) -> dict[str, Any]:
    """Take the lock, claim the cooldown, start the state machine; or defer the batch, audited."""
    s = ctx.settings
    pending = PendingBatches(ctx.dynamodb, s.state_table)
    now = ctx.clock()
    name = f"{trigger}-{now.strftime('%Y%m%dT%H%M%S')}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    try:
        ctx.lock.acquire(name, s.lock_lease_seconds)
    except LockHeldError as err:
        pending.add(bucket, key, "lock")
        ctx.audit.record(AuditAction.RETRAIN_SKIPPED_LOCK, f"another retraining is running: {err}",
                         details={"key": key, "trigger": trigger})
        return {"decision": "deferred", "reason": "lock"}
    try:
        ctx.cooldown.claim(s.cooldown_hours, reason=trigger)
    except CooldownActiveError as err:
        ctx.lock.release(name)
        pending.add(bucket, key, "cooldown")
        ctx.audit.record(AuditAction.RETRAIN_SKIPPED_COOLDOWN, f"cooldown: {err}",
                         details={"key": key, "trigger": trigger, **err.details})
        return {"decision": "deferred", "reason": "cooldown"}
    batches = [{"bucket": bucket, "key": key}]
    batches += [{"bucket": p["bucket"], "key": p["key"]} for p in pending.list() if p["key"] != key]
    payload = {"trigger": trigger, "batches": batches, "include_reference": True}
    try:
        arn = ctx.stepfunctions.start_execution(stateMachineArn=s.state_machine_arn, name=name,
                                                input=json.dumps(payload))["executionArn"]
    except Exception:
        ctx.lock.release(name)  # never leave the lock behind a start that did not happen
        raise
    ctx.audit.record(AuditAction.RETRAIN_STARTED, f"{trigger}: retraining on {len(batches)} batch(es)",
                     execution_arn=arn, details={"batches": batches, "trigger": trigger})
    return {"decision": "retrain_started", "execution_arn": arn, "batches": batches}
