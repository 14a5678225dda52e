"""Setting aside what cannot be fixed: the raw object is copied, never moved or modified."""

from __future__ import annotations

from typing import Any

from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.exceptions import SelfHealError
from selfheal.flows.keys import quarantine_key
from selfheal.storage import exists, write_json
from selfheal.telemetry import HealingAction


def quarantine_batch(ctx: Context, bucket: str, key: str, error: SelfHealError | dict[str, Any], *,
                     execution_arn: str | None = None) -> dict[str, Any]:
    """Copy ``s3://bucket/key`` to ``quarantine/`` with a machine-readable ``.reason.json`` next to it."""
    reason = error.to_dict() if isinstance(error, SelfHealError) else dict(error)
    target = quarantine_key(key)
    if not exists(ctx.s3, ctx.settings.data_bucket, target):
        ctx.s3.copy_object(Bucket=ctx.settings.data_bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
    record = {
        "source": f"s3://{bucket}/{key}",
        "quarantined": f"s3://{ctx.settings.data_bucket}/{target}",
        "reason": reason.get("reason", "unknown"),
        "message": reason.get("message", ""),
        "details": reason.get("details", {}),
        "execution_arn": execution_arn,
        "at": ctx.clock().isoformat(),
    }
    write_json(ctx.s3, ctx.settings.data_bucket, target + ".reason.json", record)
    ctx.telemetry.healing_action(HealingAction.QUARANTINE)
    item = ctx.audit.record(AuditAction.QUARANTINED, f"{record['reason']}: {record['message']}",
                            execution_arn=execution_arn, details={"key": key, "quarantine_key": target,
                                                                 "details": record["details"]})
    ctx.alerter.send(AlertKind.QUARANTINE, f"batch {key} quarantined ({record['reason']})", reason=record["message"],
                     details={"key": key, "quarantine_key": target, "reason": record["reason"]},
                     execution_arn=execution_arn, about=item)
    return record
