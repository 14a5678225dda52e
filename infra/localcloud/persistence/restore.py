"""Folds the journal into the state it describes, loads that state into moto, and compacts.

The fold keeps, per S3 key, every version and delete marker in order; per DynamoDB table, the last
image of each item; per log group, its retention policy and per stream its events (`expire_logs`
then drops those past the retention, before the compaction); per execution, its description and
history. An execution that has no end record was running when the cloud died: it is loaded as
FAILED with the cause "local cloud restarted" (and its history gets the matching ExecutionFailed
event), and it can be redriven.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import motoseam
from ..logretention import unexpired
from .journal import Journal, RecordKind

LOG = logging.getLogger("localcloud.persistence")

RESTART_ERROR = "LocalCloud.Restarted"
RESTART_CAUSE = "local cloud restarted"


@dataclass
class Bucket:
    region: str
    versioning: str | None = None
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class Table:
    region: str
    description: dict[str, Any]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class ExecutionState:
    arn: str
    start: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    end: dict[str, Any] | None = None
    redrives: int = 0


@dataclass
class State:
    buckets: dict[str, Bucket] = field(default_factory=dict)
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    logs: dict[tuple[str, str], dict[str, list[list[Any]]]] = field(default_factory=dict)
    retention: dict[tuple[str, str], int] = field(default_factory=dict)  # log group -> RetentionInDays
    executions: dict[str, ExecutionState] = field(default_factory=dict)
    records: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "buckets": len(self.buckets),
            "object_versions": sum(len(v) for b in self.buckets.values() for v in b.keys.values()),
            "tables": len(self.tables),
            "items": sum(len(t.items) for t in self.tables.values()),
            "log_events": sum(len(e) for g in self.logs.values() for e in g.values()),
            "executions": len(self.executions),
        }


def _item_key(table: Table, item: dict[str, Any]) -> str:
    names = [k["AttributeName"] for k in table.description.get("KeySchema", [])]
    return json.dumps([item.get(n) for n in names], sort_keys=True)


def fold(journal: Journal) -> State:
    state = State()
    for r in journal.records():
        state.records += 1
        kind = r["k"]
        try:
            _apply_record(state, kind, r)
        except (KeyError, TypeError, ValueError) as exc:
            LOG.warning("journal record %s skipped: %s", kind, exc)
    return state


def _apply_record(state: State, kind: str, r: dict[str, Any]) -> None:
    apply = _APPLY.get(kind)
    if apply is None:
        raise ValueError(f"unknown record kind {kind!r}")
    apply(state, r)


# ---- one function per record kind ----------------------------------------------------------------
def _s3_bucket(state: State, r: dict[str, Any]) -> None:
    state.buckets.setdefault(r["bucket"], Bucket(region=r["region"]))


def _s3_versioning(state: State, r: dict[str, Any]) -> None:
    state.buckets[r["bucket"]].versioning = r["status"]


def _s3_bucket_deleted(state: State, r: dict[str, Any]) -> None:
    state.buckets.pop(r["bucket"], None)


def _s3_put(state: State, r: dict[str, Any]) -> None:
    bucket = state.buckets[r["bucket"]]
    versions = bucket.keys.setdefault(r["key"], [])
    # Outside versioning a key has one "null" version, which a put replaces (as on S3).
    if bucket.versioning != "Enabled" and r.get("version") in (None, "null"):
        versions[:] = [v for v in versions if v.get("version") not in (None, "null")]
    versions.append(r)


def _s3_marker(state: State, r: dict[str, Any]) -> None:
    state.buckets[r["bucket"]].keys.setdefault(r["key"], []).append(r)


def _s3_delete(state: State, r: dict[str, Any]) -> None:
    bucket = state.buckets[r["bucket"]]
    if r.get("version") is None:
        bucket.keys.pop(r["key"], None)
        return
    remaining = [v for v in bucket.keys.get(r["key"], []) if v.get("version") != r["version"]]
    if remaining:
        bucket.keys[r["key"]] = remaining
    else:
        bucket.keys.pop(r["key"], None)


def _ddb_table(state: State, r: dict[str, Any]) -> None:
    state.tables[(r["region"], r["table"])] = Table(region=r["region"], description=r["description"])


def _ddb_table_deleted(state: State, r: dict[str, Any]) -> None:
    state.tables.pop((r["region"], r["table"]), None)


def _ddb_put(state: State, r: dict[str, Any]) -> None:
    table = state.tables[(r["region"], r["table"])]
    table.items[_item_key(table, r["item"])] = r["item"]


def _ddb_delete(state: State, r: dict[str, Any]) -> None:
    table = state.tables[(r["region"], r["table"])]
    table.items.pop(_item_key(table, r["key"]), None)


def _logs_group(state: State, r: dict[str, Any]) -> None:
    """A group's creation or a change of its retention policy."""
    group = (r["region"], r["group"])
    state.logs.setdefault(group, {})
    # "retention" is the group's policy from here on (None: none); older group records lack it.
    if r.get("retention"):
        state.retention[group] = int(r["retention"])
    elif "retention" in r:
        state.retention.pop(group, None)


def _logs_events(state: State, r: dict[str, Any]) -> None:
    streams = state.logs.setdefault((r["region"], r["group"]), {})
    streams.setdefault(r["stream"], []).extend(r["events"])


def _execution(state: State, r: dict[str, Any]) -> ExecutionState:
    return state.executions.setdefault(r["arn"], ExecutionState(arn=r["arn"]))


def _sfn_start(state: State, r: dict[str, Any]) -> None:
    execution = _execution(state, r)
    execution.start = execution.start or r


def _sfn_event(state: State, r: dict[str, Any]) -> None:
    _execution(state, r).events.append(r["event"])


def _sfn_end(state: State, r: dict[str, Any]) -> None:
    _execution(state, r).end = r


def _sfn_redrive(state: State, r: dict[str, Any]) -> None:
    execution = _execution(state, r)
    execution.end = None
    execution.redrives = r["count"]
    execution.events.append(r["event"])


def _sfn_redrives(state: State, r: dict[str, Any]) -> None:
    _execution(state, r).redrives = r["count"]


_APPLY: dict[str, Callable[[State, dict[str, Any]], None]] = {
    RecordKind.S3_BUCKET: _s3_bucket,
    RecordKind.S3_VERSIONING: _s3_versioning,
    RecordKind.S3_BUCKET_DELETED: _s3_bucket_deleted,
    RecordKind.S3_PUT: _s3_put,
    RecordKind.S3_MARKER: _s3_marker,
    RecordKind.S3_DELETE: _s3_delete,
    RecordKind.DDB_TABLE: _ddb_table,
    RecordKind.DDB_TABLE_DELETED: _ddb_table_deleted,
    RecordKind.DDB_PUT: _ddb_put,
    RecordKind.DDB_DELETE: _ddb_delete,
    RecordKind.LOGS_GROUP: _logs_group,
    RecordKind.LOGS_RETENTION: _logs_group,
    RecordKind.LOGS_EVENTS: _logs_events,
    RecordKind.SFN_START: _sfn_start,
    RecordKind.SFN_EVENT: _sfn_event,
    RecordKind.SFN_END: _sfn_end,
    RecordKind.SFN_REDRIVE: _sfn_redrive,
    RecordKind.SFN_REDRIVES: _sfn_redrives,
}


def compacted(state: State) -> list[dict[str, Any]]:
    """The shortest journal that folds back into `state`."""
    out: list[dict[str, Any]] = []
    for name, bucket in state.buckets.items():
        out.append({"k": RecordKind.S3_BUCKET, "bucket": name, "region": bucket.region})
        if bucket.versioning:
            out.append({"k": RecordKind.S3_VERSIONING, "bucket": name, "status": bucket.versioning})
        for versions in bucket.keys.values():
            out.extend(versions)
    for (region, name), table in state.tables.items():
        out.append({"k": RecordKind.DDB_TABLE, "region": region, "table": name, "description": table.description})
        out.extend({"k": RecordKind.DDB_PUT, "region": region, "table": name, "item": item} for item in table.items.values())
    for (region, group), streams in state.logs.items():
        out.append({"k": RecordKind.LOGS_GROUP, "region": region, "group": group,
                    "retention": state.retention.get((region, group))})
        out.extend({"k": RecordKind.LOGS_EVENTS, "region": region, "group": group, "stream": s, "events": e}
                   for s, e in streams.items())
    for execution in state.executions.values():
        if execution.start is None:
            continue
        out.append(execution.start)
        out.extend({"k": RecordKind.SFN_EVENT, "arn": execution.arn, "event": e} for e in execution.events)
        if execution.redrives:
            out.append({"k": RecordKind.SFN_REDRIVES, "arn": execution.arn, "count": execution.redrives})
        if execution.end is not None:
            out.append(execution.end)
    return out


def mark_interrupted(state: State, now: datetime | None = None) -> list[str]:
    """Executions without an end record were cut off by the crash: they fail (in `state`; the
    compacted journal written next records it)."""
    moment = (now or datetime.now(UTC)).isoformat()
    failed = []
    for execution in state.executions.values():
        if execution.start is None or execution.end is not None:
            continue
        last_id = max((int(e.get("id", 0)) for e in execution.events), default=0)
        event = {"id": last_id + 1, "previousEventId": last_id, "type": "ExecutionFailed", "timestamp": moment,
                 "executionFailedEventDetails": {"error": RESTART_ERROR, "cause": RESTART_CAUSE}}
        end = {"k": RecordKind.SFN_END, "arn": execution.arn, "status": "FAILED", "stop": moment,
               "error": RESTART_ERROR, "cause": RESTART_CAUSE, "output": None}
        execution.events.append(event)
        execution.end = end
        failed.append(execution.arn)
        LOG.warning("execution %s was running when the local cloud stopped: marked FAILED (%s)",
                    execution.arn, RESTART_CAUSE)
    return failed


def expire_logs(state: State, now_ms: int) -> int:
    """Drop the log events past their group's retention (in `state`; the compaction then drops them
    from the journal). Returns how many were dropped; streams stay, even empty, as on AWS."""
    dropped = 0
    for group, days in state.retention.items():
        for stream, events in state.logs.get(group, {}).items():
            kept = unexpired(events, days, now_ms)
            dropped += len(events) - len(kept)
            state.logs[group][stream] = kept
    return dropped


# ---- loading into moto ---------------------------------------------------------------------------
def load_data(state: State, journal: Journal, account_id: str) -> None:
    """S3, DynamoDB and CloudWatch Logs; run before the template is redeployed on top."""
    motoseam.load_s3(state, journal, account_id)
    motoseam.load_dynamodb(state, account_id)
    motoseam.load_logs(state, account_id)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
