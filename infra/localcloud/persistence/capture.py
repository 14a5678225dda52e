"""Turns writes inside moto's backends into journal records, before the API acknowledges them.

Hooks wrap the backend methods every write path goes through (S3 ``put_object`` also serves
CopyObject and CompleteMultipartUpload; DynamoDB ``Table.put_item`` also serves UpdateItem,
BatchWriteItem and transactions). Inside an HTTP request the hooks only note what changed; the API
server calls `commit()` once moto has built the response and before sending it, so the record
holds the object's final state (metadata and content type are set after ``put_object``). Writes
made outside a request (the log sink, the Step Functions interpreter) are recorded at once.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .journal import Journal, RecordKind

LOG = logging.getLogger("localcloud.persistence")

_active: Capture | None = None
_installed = False
_local = threading.local()


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else (str(moment) if moment else None)


class Capture:
    """Writes records for the changes the hooks report; one per cloud process."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.suspended = False  # while the restore replays the journal into the backends

    # ---- request scope -------------------------------------------------------------------------
    def begin(self) -> None:
        _local.pending = []

    def commit(self) -> None:
        pending: list[Callable[[], dict[str, Any] | None]] = getattr(_local, "pending", None) or []
        _local.pending = None
        for build in pending:
            self._write(build)

    def note(self, build: Callable[[], dict[str, Any] | None]) -> None:
        if self.suspended:
            return
        pending = getattr(_local, "pending", None)
        if pending is None:
            self._write(build)
        else:
            pending.append(build)

    def _write(self, build: Callable[[], dict[str, Any] | None]) -> None:
        record = build()
        if record is not None:
            self.journal.append(record)

    # ---- record builders -----------------------------------------------------------------------
    def s3_object(self, key: Any) -> dict[str, Any]:
        return {
            "k": RecordKind.S3_PUT, "bucket": key.bucket_name, "key": key.name, "version": key._version_id,
            "modified": _iso(key.last_modified), "blob": self.journal.put_blob(key.value),
            "etag": key._etag, "metadata": dict(key.metadata), "storage": key.storage_class,
            "checksum": [key.checksum_algorithm, key.checksum_value, key.checksum_type],
        }


def activate(capture: Capture | None) -> None:
    """Make `capture` receive the hooks' notes (None: record nothing). Installs the hooks once."""
    global _active
    _install()
    _active = capture


def active() -> Capture | None:
    return _active


def _after(cls: Any, name: str, on_result: Callable[[Capture, Any, Any, dict[str, Any]], None]) -> None:
    """Wrap `cls.name`; after it returns, `on_result(capture, self, result, arguments by name)`."""
    original = getattr(cls, name)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        capture = _active
        if capture is not None and not capture.suspended:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            on_result(capture, self, result, bound.arguments)
        return result

    setattr(cls, name, wrapper)


def _install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _install_s3()
    _install_dynamodb()
    _install_logs()
    _install_stepfunctions()


# ---- S3 ------------------------------------------------------------------------------------------
def _install_s3() -> None:
    from moto.s3.models import S3Backend

    def created(c: Capture, backend: Any, bucket: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_BUCKET, "bucket": a["bucket_name"], "region": a["region_name"]})

    def versioning(c: Capture, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_VERSIONING, "bucket": a["bucket_name"], "status": a["status"]})

    def bucket_deleted(c: Capture, backend: Any, result: Any, a: dict[str, Any]) -> None:
        if result is not None:
            c.note(lambda: {"k": RecordKind.S3_BUCKET_DELETED, "bucket": a["bucket_name"]})

    def put(c: Capture, backend: Any, key: Any, a: dict[str, Any]) -> None:
        c.note(lambda: c.s3_object(key))

    def marker(c: Capture, backend: Any, m: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_MARKER, "bucket": a["bucket_name"], "key": a["key_name"],
                        "version": m._version_id, "modified": _iso(m.last_modified)})

    _after(S3Backend, "create_bucket", created)
    _after(S3Backend, "put_bucket_versioning", versioning)
    _after(S3Backend, "delete_bucket", bucket_deleted)
    _after(S3Backend, "put_object", put)
    _after(S3Backend, "_set_delete_marker", marker)

    original_delete = S3Backend.delete_object

    @functools.wraps(original_delete)
    def delete_object(self: Any, bucket_name: str, key_name: str, version_id: str | None = None,
                      bypass: bool = False) -> Any:
        versioned = self.get_bucket(bucket_name).is_versioned
        ok, meta = original_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        capture = _active
        # A versioned delete without a version id adds a marker (recorded by its own hook).
        if ok and capture is not None and not capture.suspended and (not versioned or version_id is not None):
            capture.note(lambda: {"k": RecordKind.S3_DELETE, "bucket": bucket_name, "key": key_name,
                                  "version": version_id if versioned else None})
        return ok, meta

    setattr(S3Backend, "delete_object", delete_object)  # noqa: B010 - a monkeypatch, typed as such


# ---- DynamoDB ------------------------------------------------------------------------------------
def _install_dynamodb() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    def table_created(c: Capture, backend: Any, table: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_TABLE, "region": table.region_name, "table": table.name,
                        "description": table.describe(base_key="TableDescription")["TableDescription"]})

    def table_deleted(c: Capture, backend: Any, table: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_TABLE_DELETED, "region": backend.region_name, "table": table.name})

    def item_put(c: Capture, table: Any, item: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_PUT, "region": table.region_name, "table": table.name,
                        "item": item.to_json()["Attributes"]})

    def item_deleted(c: Capture, table: Any, item: Any, a: dict[str, Any]) -> None:
        if item is None:
            return
        key = {table.hash_key_attr: a["hash_key"].to_json()}
        if table.range_key_attr is not None and a["range_key"] is not None:
            key[table.range_key_attr] = a["range_key"].to_json()
        c.note(lambda: {"k": RecordKind.DDB_DELETE, "region": table.region_name, "table": table.name, "key": key})

    def item_updated(c: Capture, backend: Any, item: Any, a: dict[str, Any]) -> None:
        # UpdateItem changes an existing item in place (no put_item), so its result is recorded here.
        table = backend.get_table(a["table_name"])
        c.note(lambda: {"k": RecordKind.DDB_PUT, "region": table.region_name, "table": table.name,
                        "item": item.to_json()["Attributes"]})

    _after(DynamoDBBackend, "update_item", item_updated)
    _after(DynamoDBBackend, "create_table", table_created)
    _after(DynamoDBBackend, "delete_table", table_deleted)
    _after(Table, "put_item", item_put)
    _after(Table, "delete_item", item_deleted)


# ---- CloudWatch Logs -----------------------------------------------------------------------------
def _install_logs() -> None:
    from moto.logs.models import LogsBackend

    def group(c: Capture, backend: Any, created: Any, a: dict[str, Any]) -> None:
        # A new group has no retention policy unless it was created with one (moto's CloudFormation).
        c.note(lambda: {"k": RecordKind.LOGS_GROUP, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": created.retention_in_days})

    def retention(c: Capture, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.LOGS_RETENTION, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": a["retention_in_days"]})

    def retention_deleted(c: Capture, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.LOGS_RETENTION, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": None})  # the group's events never expire again

    def events(c: Capture, backend: Any, _: Any, a: dict[str, Any]) -> None:
        batch = [[e["timestamp"], e["message"]] for e in a["log_events"]]
        c.note(lambda: {"k": RecordKind.LOGS_EVENTS, "region": backend.region_name, "group": a["log_group_name"],
                        "stream": a["log_stream_name"], "events": batch})

    _after(LogsBackend, "create_log_group", group)
    _after(LogsBackend, "put_retention_policy", retention)
    _after(LogsBackend, "delete_retention_policy", retention_deleted)
    _after(LogsBackend, "put_log_events", events)


# ---- Step Functions executions -------------------------------------------------------------------
def _install_stepfunctions() -> None:
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def started(c: Capture, backend: Any, execution: Any, a: dict[str, Any]) -> None:
        c.note(lambda: execution_start_record(execution))

    _after(StepFunctionsParserBackend, "start_execution", started)

    original_env = ExecutionWorker._get_evaluation_environment

    @functools.wraps(original_env)
    def environment(self: Any) -> Any:
        from .executions import offset_for

        env = original_env(self)
        # The event manager learns which execution it writes for, so its events can be journaled;
        # a redriven run's events are numbered after the history it continues.
        arn = self._evaluation_details.execution_details.arn
        setattr(env.event_manager, "_lc_execution_arn", arn)  # noqa: B010 - moto's class has no such field
        setattr(env.event_manager, "_lc_event_offset", max(offset_for(arn) - 1, 0))  # noqa: B010
        return env

    setattr(ExecutionWorker, "_get_evaluation_environment", environment)  # noqa: B010

    original_publish = EventManager._publish_history_event

    @functools.wraps(original_publish)
    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        original_publish(self, *args, **kwargs)
        arn = getattr(self, "_lc_execution_arn", None)
        capture = _active
        if arn is not None and capture is not None and not capture.suspended:
            event = dict(self._history_event_list[-1])
            offset = getattr(self, "_lc_event_offset", 0)
            if offset:
                if event.get("type") == "ExecutionStarted":
                    return  # a redriven run continues its history with ExecutionRedriven instead
                event = shift_event(event, offset)
            capture.note(lambda: {"k": RecordKind.SFN_EVENT, "arn": arn, "event": event})

    setattr(EventManager, "_publish_history_event", publish)  # noqa: B010

    def ended(c: Capture, comm: Any, _: Any, a: dict[str, Any]) -> None:
        execution = comm.execution
        c.note(lambda: execution_end_record(execution))

    _after(BaseExecutionWorkerCommunication, "terminated", ended)


def shift_event(event: dict[str, Any], offset: int) -> dict[str, Any]:
    """A redriven run's event, numbered after the events of the runs before it."""
    shifted = dict(event)
    shifted["id"] = int(event["id"]) + offset
    # Event 1 was the run's ExecutionStarted (dropped); AWS chains to the ExecutionRedriven event.
    shifted["previousEventId"] = max(int(event.get("previousEventId") or 0), 1) + offset
    return shifted


def execution_start_record(execution: Any) -> dict[str, Any]:
    return {"k": RecordKind.SFN_START, "arn": execution.execution_arn, "state_machine": execution.state_machine_arn,
            "name": execution.name, "input": execution.execution_input, "start": _iso(execution.start_date)}


def execution_end_record(execution: Any) -> dict[str, Any]:
    output = execution.output
    return {"k": RecordKind.SFN_END, "arn": execution.execution_arn, "status": execution.status,
            "stop": _iso(execution.stop_date), "error": execution.error, "cause": execution.cause,
            "output": output if output is None or isinstance(output, str) else _json(output)}


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), default=str)
