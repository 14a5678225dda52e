"""Retraining lock (a lease) and retraining cooldown, as conditional writes in the state table.

Both rely on one DynamoDB guarantee: a ``PutItem``/``DeleteItem`` with a ``ConditionExpression``
evaluates the condition and writes atomically for that item, so of two concurrent callers at
most one sees its condition hold. No read-then-write happens in Python.

Items (key schema ``pk`` S / ``sk`` S, shared with the audit trail)::

    pk = "LOCK#<name>",     sk = "LOCK"      owner, acquired_at, expires_at, expires_at_epoch,
                                             execution_arn (the execution the owner starts, if any)
    pk = "COOLDOWN#<name>", sk = "COOLDOWN"  started_at, started_at_epoch, reason, execution_arn

Epoch seconds are stored as numbers because conditions compare them; the ISO strings are for
people reading the table.

Suggested order for a caller starting a retrain: acquire the lock, then claim the cooldown,
and release the lock if the claim fails, so a refused start never burns the cooldown window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypedDict

from botocore.exceptions import ClientError

from selfheal.clock import Clock, as_utc, isoformat, utc_now
from selfheal.exceptions import CooldownActiveError, LockHeldError

DynamoDBClient = Any  # botocore builds client classes at runtime; we type the boundary by usage.

_CONDITION_FAILED = "ConditionalCheckFailedException"


class LeaseInfo(TypedDict):
    """Who holds a lock and until when."""

    name: str
    owner: str
    acquired_at: str
    expires_at: str
    expires_at_epoch: float
    execution_arn: str | None


class CooldownRecord(TypedDict):
    """The last drift- or degradation-triggered retraining start."""

    name: str
    started_at: str
    started_at_epoch: float
    reason: str
    execution_arn: str | None


def _epoch(moment: datetime) -> Decimal:
    # Decimal via str: DynamoDB numbers reject floats, and microsecond precision is plenty.
    return Decimal(str(round(as_utc(moment).timestamp(), 6)))


def _old_item(exc: ClientError) -> dict[str, Any] | None:
    """The item that made a condition fail (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    item = exc.response.get("Item")
    return item if isinstance(item, dict) and item else None


def _lease(item: dict[str, Any]) -> LeaseInfo:
    return {
        "name": item["pk"]["S"].split("#", 1)[1],
        "owner": item["owner"]["S"],
        "acquired_at": item["acquired_at"]["S"],
        "expires_at": item["expires_at"]["S"],
        "expires_at_epoch": float(item["expires_at_epoch"]["N"]),
        "execution_arn": item.get("execution_arn", {}).get("S"),
    }


def _cooldown(item: dict[str, Any]) -> CooldownRecord:
    arn = item.get("execution_arn", {}).get("S")
    return {
        "name": item["pk"]["S"].split("#", 1)[1],
        "started_at": item["started_at"]["S"],
        "started_at_epoch": float(item["started_at_epoch"]["N"]),
        "reason": item.get("reason", {}).get("S", ""),
        "execution_arn": arn,
    }


class _StateItem:
    """One named item of the state table, keyed ``pk = "<KIND>#<name>", sk = "<KIND>"``."""

    _kind: ClassVar[str]

    def __init__(
        self,
        dynamodb_client: DynamoDBClient,
        table_name: str,
        *,
        clock: Clock = utc_now,
        name: str = "retraining",
    ) -> None:
        self._ddb = dynamodb_client
        self._table = table_name
        self._clock = clock
        self._name = name
        self._key = {"pk": {"S": f"{self._kind}#{name}"}, "sk": {"S": self._kind}}

    def _item(self) -> dict[str, Any] | None:
        return self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")


class RetrainingLock(_StateItem):
    """A lease: one owner at a time, taken over automatically once it expires.

    The lease (rather than a plain lock) matters because the holder is a Lambda or a state machine
    execution that can die without releasing; the expiry bounds how long a crash blocks retraining.
    """

    _kind = "LOCK"

    def acquire(self, owner: str, lease_seconds: float, *, execution_arn: str | None = None) -> LeaseInfo:
        """Take the lock for ``lease_seconds`` if it is free, expired, or already ours (renewal).

        ``execution_arn``: the execution the owner is about to start under this lock, recorded so
        that a later caller can tell whether the holder is still running (a stale-lock check).

        Raises ``LockHeldError`` naming the holder and its expiry otherwise.
        """
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be > 0")
        if not owner:
            raise ValueError("owner must be a non-empty string")
        now = as_utc(self._clock())
        expires = now + timedelta(seconds=lease_seconds)
        item = {
            **self._key,
            "owner": {"S": owner},
            "acquired_at": {"S": isoformat(now)},
            "expires_at": {"S": isoformat(expires)},
            "expires_at_epoch": {"N": str(_epoch(expires))},
        }
        if execution_arn:
            item["execution_arn"] = {"S": execution_arn}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR expires_at_epoch <= :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(_epoch(now))}, ":owner": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            old = _old_item(exc)
            holder = _lease(old) if old is not None else self.holder()
            who = f"{holder['owner']} until {holder['expires_at']}" if holder else "another owner"
            raise LockHeldError(
                f"retraining lock {self._name!r} is held by {who}",
                details={"lock": self._name, "holder": dict(holder) if holder else None},
            ) from exc
        return _lease(item)

    def release(self, owner: str) -> bool:
        """Release the lock if ``owner`` holds it; ``False`` (and no change) if someone else does."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=self._key,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            return False
        return True

    def holder(self) -> LeaseInfo | None:
        """The current, unexpired lease, or ``None`` if the lock is free."""
        item = self._item()
        if not item:
            return None
        lease = _lease(item)
        if lease["expires_at_epoch"] <= float(_epoch(self._clock())):
            return None
        return lease


class Cooldown(_StateItem):
    """At most one drift/degradation-triggered retraining start per window.

    Claiming is explicit: only a caller that starts a retrain *because of* drift or degradation
    claims; the bootstrap training never does, so it cannot delay the first self-healing run.
    """

    _kind = "COOLDOWN"

    def claim(self, hours: float, *, reason: str = "", execution_arn: str | None = None) -> CooldownRecord:
        """Record a retraining start now, if the last one is at least ``hours`` old.

        Raises ``CooldownActiveError`` with ``details["remaining_seconds"]`` otherwise.
        """
        if hours < 0:
            raise ValueError("hours must be >= 0")
        now = as_utc(self._clock())
        window = timedelta(hours=hours)
        item: dict[str, Any] = {
            **self._key,
            "started_at": {"S": isoformat(now)},
            "started_at_epoch": {"N": str(_epoch(now))},
            "reason": {"S": reason},
        }
        if execution_arn is not None:
            item["execution_arn"] = {"S": execution_arn}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR started_at_epoch <= :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": str(_epoch(now - window))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            old = _old_item(exc)
            last = _cooldown(old) if old is not None else self._read()
            last_epoch = last["started_at_epoch"] if last else float(_epoch(now))
            remaining = max(0.0, last_epoch + window.total_seconds() - float(_epoch(now)))
            raise CooldownActiveError(
                f"retraining {self._name!r} started at {last['started_at'] if last else '?'}; "
                f"cooldown of {hours:g} h has {remaining:.0f} s left",
                details={
                    "cooldown": self._name,
                    "cooldown_hours": hours,
                    "remaining_seconds": remaining,
                    "last_started": last["started_at"] if last else None,
                },
            ) from exc
        return _cooldown(item)

    def last_started(self) -> datetime | None:
        """When the last claimed retraining started, or ``None`` if none was ever claimed."""
        last = self._read()
        return datetime.fromisoformat(last["started_at"]) if last else None

    def remaining_seconds(self, hours: float) -> float:
        """Seconds until ``claim(hours)`` could succeed (0 when it could now); a read, not a claim."""
        last = self._read()
        if last is None:
            return 0.0
        end = last["started_at_epoch"] + timedelta(hours=hours).total_seconds()
        return max(0.0, end - float(_epoch(self._clock())))

    def _read(self) -> CooldownRecord | None:
        item = self._item()
        return _cooldown(item) if item else None
