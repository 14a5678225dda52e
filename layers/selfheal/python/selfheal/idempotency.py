"""One drift check per S3 object version, however many times S3 delivers its event.

S3 delivers event notifications at least once, and Lambda's asynchronous queue may hand the same
event to a function more than once, so a ``DriftFunction`` may see one upload twice. Checking it
twice writes two drift reports and audit trails, and may defer the batch a second time (it would
then be retrained twice). So each delivery first *claims* its object version in the state table
with a conditional ``PutItem``, and a second delivery whose claim fails is skipped, audited.

**Why a claim with a lease, not "mark as seen once the check completed".** Marking only at the end
would let two concurrent deliveries both check. Claiming at the start stops that, but a claim
must never stop the retry of a delivery that failed: Lambda retries a failed asynchronous event
(twice, after about 1 and 2 minutes) and that retry has to check the object. Three rules make sure
it does:

* a delivery that raises releases its claim before the error leaves the function
  (:meth:`DeliveryLedger.release`), so any later delivery of that version claims it afresh;
* a delivery that dies without releasing (killed at its timeout, out of memory, the runtime
  crashed) leaves a claim that its own retry takes over: Lambda's retries of an asynchronous event
  keep the request id, and the claim's ``owner`` is that request id;
* any other delivery can take over once the lease has ended. The lease is the claimant's
  remaining invocation time: past it, the claimant cannot still be running.

A delivery that finds the version *being checked* by another live invocation is skipped: if that
invocation fails, its own retry checks the object. One duplicate is checked twice: a copy from
Lambda's queue with the same request id arriving while the first copy still runs (it looks like a
retry). That is rare, and the cost is the duplicate work this module otherwise avoids.

Items (key schema ``pk`` S / ``sk`` S, shared with the audit trail)::

    pk = "DRIFT_SEEN", sk = "s3://<bucket>/<key>#<version>"
        state "checking" | "checked", owner (request id), bucket, key, version, version_source,
        started_at, lease_expires_epoch, checked_at?, decision?, purge_at_epoch

One partition (as ``AUDIT`` and ``PENDING``): uploads are a few per minute at most, far below a
partition's write limit, and a fixed partition key lets IAM scope the function to these items
(``dynamodb:LeadingKeys``). ``purge_at_epoch`` is the table's TTL attribute (template.yaml), set to
:data:`RETENTION` after the claim, so the partition does not grow forever. DynamoDB deletes expired
items lazily (within days); correctness never depends on it: an expired item that is still there
only means a very late duplicate is skipped too.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from botocore.exceptions import ClientError

from selfheal.clock import Clock, as_utc, isoformat, utc_now
from selfheal.exceptions import DuplicateDeliveryError

DynamoDBClient = Any  # botocore builds client classes at runtime; we type the boundary by usage.

SEEN_PARTITION = "DRIFT_SEEN"
# Longer than Lambda keeps an asynchronous event (6 hours at most, with its retries).
RETENTION = timedelta(days=7)
_MAX_SORT_KEY_BYTES = 1024  # DynamoDB's limit for a sort key value
_CONDITION_FAILED = "ConditionalCheckFailedException"


class ClaimState(StrEnum):
    CHECKING = "checking"  # a delivery is checking this version now (under a lease)
    CHECKED = "checked"  # the check completed; later deliveries are duplicates


@dataclass(frozen=True)
class ObjectVersion:
    """The object an S3 event record is about, and which version of it.

    ``version`` is the record's ``versionId`` (a versioned bucket, as the template's data bucket
    is); without one, its ``sequencer`` (unique per write of a key); without either, its ``eTag``
    (then an identical re-upload to the same key counts as the same object). ``None`` when the
    record carries none of them: such a delivery cannot be recognised again and is always checked.
    """

    bucket: str
    key: str
    version: str | None
    version_source: str | None  # "versionId", "sequencer" or "eTag"

    @classmethod
    def from_s3_record(cls, record: Mapping[str, Any] | S3EventRecord) -> ObjectVersion:
        """From one record of an S3 event notification (Powertools' data class or the raw dict)."""
        rec = record if isinstance(record, S3EventRecord) else S3EventRecord(dict(record))
        obj = rec.s3.get_object
        # S3 event keys are URL-encoded like a form value (spaces arrive as '+').
        key = unquote_plus(obj.key)
        for source, value in (("versionId", obj.version_id), ("sequencer", obj.get("sequencer")), ("eTag", obj.etag)):
            if value:
                return cls(rec.s3.bucket.name, key, str(value), source)
        return cls(rec.s3.bucket.name, key, None, None)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def describe(self) -> str:
        """``s3://bucket/key version v`` (or ``sequencer s``/``eTag e``), as audit reasons say it."""
        label = "version" if self.version_source == "versionId" else self.version_source or "version"
        return f"{self.uri} {label} {self.version}"


def _epoch(moment: datetime) -> Decimal:
    return Decimal(str(round(as_utc(moment).timestamp(), 6)))


def _sort_key(obj: ObjectVersion) -> str:
    readable = f"{obj.uri}#{obj.version}"
    if len(readable.encode()) <= _MAX_SORT_KEY_BYTES:
        return readable
    # S3 keys may be 1024 bytes on their own; the item keeps bucket, key and version as attributes.
    return "sha256:" + hashlib.sha256(readable.encode()).hexdigest()


class DeliveryLedger:
    """Claims, completions and releases of drift checks per object version (see the module doc)."""

    def __init__(self, dynamodb_client: DynamoDBClient, table_name: str, *, clock: Clock = utc_now,
                 retention: timedelta = RETENTION) -> None:
        self._ddb = dynamodb_client
        self._table = table_name
        self._clock = clock
        self._retention = retention

    def _key(self, obj: ObjectVersion) -> dict[str, Any]:
        if obj.version is None:
            raise ValueError(f"{obj.uri}: an event without versionId, sequencer or eTag cannot be claimed")
        return {"pk": {"S": SEEN_PARTITION}, "sk": {"S": _sort_key(obj)}}

    def _item(self, obj: ObjectVersion, state: ClaimState, owner: str, now: datetime,
              lease_end: datetime) -> dict[str, Any]:
        return {
            **self._key(obj),
            "state": {"S": state.value},
            "owner": {"S": owner},
            "bucket": {"S": obj.bucket},
            "key": {"S": obj.key},
            "version": {"S": str(obj.version)},
            "version_source": {"S": str(obj.version_source)},
            "lease_expires_epoch": {"N": str(_epoch(lease_end))},
            # TTL attributes are whole epoch seconds.
            "purge_at_epoch": {"N": str(math.ceil(as_utc(lease_end + self._retention).timestamp()))},
        }

    def claim(self, obj: ObjectVersion, *, owner: str, lease_seconds: float) -> None:
        """Claim ``obj`` for checking, for ``lease_seconds``, on behalf of request ``owner``.

        Succeeds when nobody claimed it, when ``owner`` holds the claim (Lambda's retry of the
        same event) or when the holder's lease has ended. Raises ``DuplicateDeliveryError``, with
        the reason in its message, when the version was checked or another delivery checks it now.
        """
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be > 0")
        if not owner:
            raise ValueError("owner must be a non-empty string")
        now = as_utc(self._clock())
        item = self._item(obj, ClaimState.CHECKING, owner, now, now + timedelta(seconds=lease_seconds))
        item["started_at"] = {"S": isoformat(now)}
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=("attribute_not_exists(pk) OR (#state = :checking AND "
                                     "(#owner = :owner OR lease_expires_epoch <= :now))"),
                ExpressionAttributeNames={"#state": "state", "#owner": "owner"},
                ExpressionAttributeValues={":checking": {"S": ClaimState.CHECKING.value}, ":owner": {"S": owner},
                                           ":now": {"N": str(_epoch(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            raise _duplicate(obj, exc.response.get("Item") or {}) from exc

    def complete(self, obj: ObjectVersion, *, owner: str, decision: str) -> None:
        """Record that the check of ``obj`` completed with ``decision``: later deliveries are duplicates.

        Unconditional: the check did complete, even if a lease ran out and another delivery took over.
        """
        now = as_utc(self._clock())
        item = self._item(obj, ClaimState.CHECKED, owner, now, now)
        item["checked_at"] = {"S": isoformat(now)}
        item["decision"] = {"S": decision}
        self._ddb.put_item(TableName=self._table, Item=item)

    def release(self, obj: ObjectVersion, *, owner: str) -> bool:
        """Drop ``owner``'s unfinished claim, so the retry of a failed check is not skipped.

        ``False`` (and no change) when the claim is no longer ``owner``'s or the check completed.
        """
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key=self._key(obj),
                ConditionExpression="#state = :checking AND #owner = :owner",
                ExpressionAttributeNames={"#state": "state", "#owner": "owner"},
                ExpressionAttributeValues={":checking": {"S": ClaimState.CHECKING.value}, ":owner": {"S": owner}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
                raise
            return False
        return True


def _duplicate(obj: ObjectVersion, old: Mapping[str, Any]) -> DuplicateDeliveryError:
    def text(name: str) -> str:
        return str(old.get(name, {}).get("S", "?"))

    state = text("state")
    if state == ClaimState.CHECKED:
        message = (f"duplicate delivery of {obj.describe()}: already checked at {text('checked_at')} "
                   f"(decision {text('decision')})")
    elif state == ClaimState.CHECKING:
        message = (f"duplicate delivery of {obj.describe()}: being checked since {text('started_at')} "
                   f"by request {text('owner')}")
    else:  # the store did not return the item that failed the condition
        message = f"duplicate delivery of {obj.describe()}: already claimed"
    details = {"bucket": obj.bucket, "key": obj.key, "version": obj.version, "version_source": obj.version_source,
               "state": state, "owner": text("owner"), "checked_at": old.get("checked_at", {}).get("S"),
               "decision": old.get("decision", {}).get("S")}
    return DuplicateDeliveryError(message, details=details)
