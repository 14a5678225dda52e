"""Audit trail: one DynamoDB item per self-healing decision, with its reason and execution ARN.

Item layout in the state table (key schema ``pk`` S / ``sk`` S is a contract with template.yaml)::

    pk = "AUDIT"                                   one partition: decisions are rare (a few per
                                                   batch), and one partition lets a Query return
                                                   them in time order without a scan
    sk = "2024-05-01T12:00:00.123456Z#<12 hex>"    fixed-width UTC time, then a random suffix so two
                                                   decisions in the same microsecond never collide
    action, reason, timestamp, execution_arn?, details?

``details`` is any JSON-like dict. DynamoDB has no float type, so floats are stored as ``Decimal``
(via their shortest ``repr``, which round-trips exactly) and come back as ``float``; NaN and
infinities, which DynamoDB numbers cannot hold, are stored as the strings ``"NaN"``/``"Infinity"``.
"""

from __future__ import annotations

import builtins
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypedDict, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from selfheal.clock import Clock, isoformat, utc_now

DynamoDBClient = Any  # botocore builds client classes at runtime; we type the boundary by usage.

AUDIT_PARTITION = "AUDIT"


class AuditAction(StrEnum):
    """Every decision the pipeline can record; the console filters on these values."""

    FIXED = "fixed"  # a batch was repaired and written to curated/
    QUARANTINED = "quarantined"  # a batch could not be fixed and went to quarantine/
    DRIFT_DETECTED = "drift_detected"  # Evidently found dataset drift in an incoming batch
    NO_DRIFT = "no_drift"  # a batch was checked and did not drift
    DEGRADATION_DETECTED = "degradation_detected"  # production RMSE on a labelled batch got worse
    RETRAIN_STARTED = "retrain_started"  # the self-healing state machine was started
    RETRAIN_SKIPPED_COOLDOWN = "retrain_skipped_cooldown"  # a retrain ran less than the cooldown ago
    RETRAIN_SKIPPED_LOCK = "retrain_skipped_lock"  # another retraining holds the lock
    LOCK_RECLAIMED = "lock_reclaimed"  # the lock's holder execution had ended without releasing it
    DUPLICATE_DELIVERY = "duplicate_delivery"  # a repeated S3 event for an object version already checked
    BATCH_DEFERRED = "batch_deferred"  # a batch was kept for later (over the batch limits)
    TRAINED = "trained"  # a new version was written to the registry
    VALIDATED = "validated"  # a challenger passed the validation gate
    REJECTED = "rejected"  # a challenger failed the gate; the champion stays
    PROMOTED = "promoted"  # the production alias moved to a new version
    ROLLED_BACK = "rolled_back"  # the production alias moved back to the last known good version
    REFERENCE_RESTORED = "reference_restored"  # a rollback put back the drift reference of the version rolled back to
    RECOVERED = "recovered"  # a failing health check passed again after recovery
    RECOVERY_FAILED = "recovery_failed"  # recovery gave up; needs a human
    HEALTH_OK = "health_ok"  # a scheduled or post-promotion health check passed
    HEALTH_FAILED = "health_failed"  # a health check failed (recovery follows)
    RECYCLED = "recycled"  # the predict function's workers were recycled (configuration update)
    EXECUTION_FINISHED = "execution_finished"  # a self-healing execution ended (outcome in details)
    EXECUTION_FAILED = "execution_failed"  # Step Functions reported an execution FAILED, TIMED_OUT or ABORTED
    ALERT_SENT = "alert_sent"  # an alert was published to the alert topic (selfheal.alerts)
    MONITOR_RUN = "monitor_run"  # a scheduled or on-demand look at live traffic (selfheal.flows.live)


class AuditItem(TypedDict, total=False):
    """One decision as returned to callers (floats restored, no DynamoDB types)."""

    pk: str
    sk: str
    action: str
    reason: str
    timestamp: str
    execution_arn: str
    details: dict[str, Any]


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def to_dynamo(value: Any) -> Any:
    """Make a JSON-like value storable by DynamoDB: floats to Decimal, tuples/sets to lists."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | Decimal):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        # float() first: numpy's float64 subclasses float but its repr is "np.float64(...)".
        return Decimal(repr(float(value)))
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    if isinstance(value, set | frozenset):
        return [to_dynamo(v) for v in sorted(value, key=str)]
    if isinstance(value, datetime):
        return isoformat(value)
    # numpy scalars (np.float64 from metric code) expose .item().
    item = getattr(value, "item", None)
    if callable(item):
        return to_dynamo(item())
    raise TypeError(f"{type(value).__name__} cannot be stored in an audit item")


def from_dynamo(value: Any) -> Any:
    """Inverse of ``to_dynamo``: Decimal back to int (no fractional part written) or float."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


def _restore_non_finite(details: Any) -> Any:
    if isinstance(details, str) and details in _NON_FINITE:
        return _NON_FINITE[details]
    if isinstance(details, dict):
        return {k: _restore_non_finite(v) for k, v in details.items()}
    if isinstance(details, list):
        return [_restore_non_finite(v) for v in details]
    return details


class AuditTrail:
    """Append-only log of decisions in the state table.

    ``dynamodb_client`` is a boto3 DynamoDB client; ``clock`` an aware-UTC clock.
    """

    def __init__(
        self,
        dynamodb_client: DynamoDBClient,
        table_name: str,
        *,
        clock: Clock = utc_now,
        partition: str = AUDIT_PARTITION,
        suffix: Callable[[], str] = lambda: uuid.uuid4().hex[:12],
    ) -> None:
        self._ddb = dynamodb_client
        self._table = table_name
        self._clock = clock
        self._partition = partition
        self._suffix = suffix
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def record(
        self,
        action: AuditAction | str,
        reason: str,
        *,
        execution_arn: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditItem:
        """Write one decision and return it as stored (with ``pk``/``sk``).

        ``action`` must be an ``AuditAction`` value; an unknown one raises ``ValueError`` so a typo
        cannot create an action the console never shows.
        """
        action = AuditAction(action)
        timestamp = isoformat(self._clock())
        item: AuditItem = {
            "pk": self._partition,
            "sk": f"{timestamp}#{self._suffix()}",
            "action": action.value,
            "reason": reason,
            "timestamp": timestamp,
        }
        if execution_arn is not None:
            item["execution_arn"] = execution_arn
        if details:
            item["details"] = to_dynamo(dict(details))
        wire = {k: self._serializer.serialize(v) for k, v in item.items()}
        # The condition makes a (vanishingly unlikely) sort-key collision an error, not a silent
        # overwrite of an earlier decision.
        self._ddb.put_item(TableName=self._table, Item=wire, ConditionExpression="attribute_not_exists(sk)")
        return self._to_item(wire)

    def list(
        self, action: AuditAction | str | None = None, limit: int = 100, newest_first: bool = True
    ) -> builtins.list[AuditItem]:
        """Up to ``limit`` decisions in time order, optionally only those of one ``action``."""
        if limit < 1:
            return []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": self._partition}},
            "ScanIndexForward": not newest_first,
        }
        if action is not None:
            query["FilterExpression"] = "#action = :action"
            query["ExpressionAttributeNames"] = {"#action": "action"}
            query["ExpressionAttributeValues"][":action"] = {"S": AuditAction(action).value}
        else:
            # Without a filter every item read is returned, so DynamoDB's Limit is exact. With a
            # filter, Limit caps items *read before* filtering, so we page instead.
            query["Limit"] = limit
        items: builtins.list[AuditItem] = []
        paginator = self._ddb.get_paginator("query")
        for page in paginator.paginate(**query):
            for raw in page.get("Items", []):
                items.append(self._to_item(raw))
                if len(items) >= limit:
                    return items
        return items

    def _to_item(self, wire: Mapping[str, Any]) -> AuditItem:
        plain = {k: from_dynamo(self._deserializer.deserialize(v)) for k, v in wire.items()}
        if "details" in plain:
            plain["details"] = _restore_non_finite(plain["details"])
        return cast(AuditItem, plain)


def batch_keys(item: Mapping[str, Any]) -> list[str]:
    """The S3 keys of the batches an audit item concerns (``details.key`` or ``details.batches``)."""
    details = item.get("details") or {}
    if not isinstance(details, Mapping):
        return []
    keys = [details["key"]] if isinstance(details.get("key"), str) else []
    for batch in details.get("batches") or []:
        if isinstance(batch, Mapping) and isinstance(batch.get("key"), str) and batch["key"] not in keys:
            keys.append(batch["key"])
    return keys
