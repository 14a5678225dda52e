"""FixData: read raw batches, fix what can be fixed, quarantine the rest, assemble the training set."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pandas as pd

from selfheal import lineage
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.contracts import BatchRef, FixedBatch, FixResult, QuarantineResult, StepError
from selfheal.exceptions import DataQualityError
from selfheal.flows.keys import REFERENCE_KEY, curated_key, schema_key_for, training_key
from selfheal.flows.quarantine import quarantine_batch
from selfheal.pending import PendingBatches
from selfheal.quality import describe_report, fix_batch, parse_csv
from selfheal.storage import exists, read_bytes, read_frame, write_frame, write_json
from selfheal.telemetry import HealingAction

logger = logging.getLogger(__name__)


def fix_batches(ctx: Context, batches: list[BatchRef], *, include_reference: bool,
                execution_arn: str | None, schema_key: str | None = None) -> FixResult:
    """Fix every batch into ``curated/``; raise ``DataQualityError`` when nothing usable remains.

    The schema is the file at ``schema_key`` (a bootstrap on new data) or production's; it is stored
    next to the training set, and Train trains with it (``selfheal.lineage``)."""
    s = ctx.settings
    schema = (lineage.parse_uploaded(read_bytes(ctx.s3, s.data_bucket, schema_key, max_bytes=1024 * 1024),
                                     key=schema_key) if schema_key else ctx.schema)
    fixed: list[pd.DataFrame] = []
    summaries: list[FixedBatch] = []
    quarantined: list[dict[str, Any]] = []
    for ref in batches:
        try:
            raw = read_bytes(ctx.s3, ref["bucket"], ref["key"], max_bytes=s.max_upload_bytes)
            frame = parse_csv(raw, schema, max_bytes=s.max_upload_bytes, require_target=True)
            result = fix_batch(frame, schema, iqr_factor=s.iqr_factor, max_bad_row_fraction=s.max_bad_row_fraction,
                               require_target=True)
        except DataQualityError as err:
            logger.warning("batch s3://%s/%s cannot be fixed: %s (%s)", ref["bucket"], ref["key"], err, err.reason)
            quarantined.append(quarantine_batch(ctx, ref["bucket"], ref["key"], err, execution_arn=execution_arn))
            continue
        out_key = curated_key(execution_arn, ref["key"])
        report = result.report.to_dict()
        write_frame(ctx.s3, s.data_bucket, out_key, result.frame)
        write_json(ctx.s3, s.data_bucket, out_key + ".report.json", {"source": ref, **report})
        ctx.telemetry.healing_action(HealingAction.FIX)
        ctx.audit.record(AuditAction.FIXED, describe_report(report), execution_arn=execution_arn,
                         details={"key": ref["key"], "curated_key": out_key, "report": report})
        fixed.append(result.frame)
        summaries.append({"key": ref["key"], "curated_key": out_key, "rows_in": report["rows_in"],
                          "rows_out": report["rows_out"]})
    PendingBatches(ctx.dynamodb, s.state_table).remove([b["key"] for b in batches])
    if not fixed:
        reasons = sorted({q["reason"] for q in quarantined})
        raise DataQualityError(f"no usable batch: {', '.join(reasons) or 'no batches given'}",
                               reason=reasons[0] if len(reasons) == 1 else "no_usable_batch",
                               details={"quarantined": [q["quarantined"] for q in quarantined]})
    frames = list(fixed)
    if include_reference and exists(ctx.s3, s.data_bucket, REFERENCE_KEY):
        frames.insert(0, read_frame(ctx.s3, s.data_bucket, REFERENCE_KEY)[schema.all_columns])
    training = pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
    key = training_key(execution_arn)
    write_frame(ctx.s3, s.data_bucket, key, training)
    used_schema = schema_key_for(execution_arn)
    write_json(ctx.s3, s.data_bucket, used_schema, lineage.manifest_entry(schema))
    fingerprint = hashlib.sha256(pd.util.hash_pandas_object(training, index=False).values.tobytes()).hexdigest()[:16]
    return {"training_key": key, "schema_key": used_schema, "rows": int(len(training)), "batches": summaries,
            "quarantined": [q["quarantined"] for q in quarantined], "fingerprint": fingerprint}


def quarantine_after_failure(ctx: Context, batches: list[BatchRef], error: StepError, *,
                             execution_arn: str | None) -> QuarantineResult:
    """The state machine's Quarantine state: make sure every batch of a failed FixData is set aside."""
    cause = error.cause or "{}"
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause  # a Cause that is plain text, not a Lambda error payload
    record = {"reason": error.error, "message": message, "details": {}}
    out = [quarantine_batch(ctx, b["bucket"], b["key"], record, execution_arn=execution_arn)["quarantined"]
           for b in batches]
    return {"quarantined": out}
