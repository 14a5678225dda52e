"""Persistence's view of moto's backends: the writes capture journals, and the loads restore makes.

moto keeps everything in memory and has no journal. The write hooks wrap the backend methods every
write path goes through (S3 ``put_object`` also serves CopyObject and CompleteMultipartUpload;
DynamoDB ``Table.put_item`` also serves UpdateItem, BatchWriteItem and transactions) and hand the
capture (persistence/capture.py) a builder for the journal record, which it runs when the request
commits: the record then holds the object's final state (metadata and content type are set after
``put_object``). The loaders put a folded journal back into the backends at start-up, and restored
Step Functions executions join their state machines again; a redriven run is a moto execution whose
history continues the old one.

Every wrapped method and every private attribute read here is guarded by a test in
tests/unit/test_moto_seam.py (named in each docstring).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.logs.models import LogsBackend, logs_backends
from moto.s3.models import S3Backend, s3_backends
from moto.stepfunctions.exceptions import ExecutionDoesNotExist, StateMachineDoesNotExist
from moto.stepfunctions.parser.api import ExecutionStatus
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends

from ..persistence.journal import CorruptBlobError, Journal, RecordKind
from ..persistence.restore import ExecutionState, State, parse_time
from . import ExecutionHistory, ExecutionNotFound, Recorder, StateMachineNotFound
from .patching import replace, wrap_after

LOG = logging.getLogger("localcloud.persistence")

_MARK = "_localcloud_capture"


def _none_active() -> Recorder | None:
    return None


def _no_offset(execution_arn: str) -> int:
    return 0


@dataclass
class _Sources:
    """What the hooks ask, set by every `install_write_hooks`."""

    active: Callable[[], Recorder | None]
    event_offset: Callable[[str], int]


_sources = _Sources(active=_none_active, event_offset=_no_offset)
_installed = False
_install_lock = threading.Lock()


def _recording() -> Recorder | None:
    """The capture to report to, or None when nothing is recorded (none active, or suspended)."""
    recorder = _sources.active()
    return recorder if recorder is not None and not recorder.suspended else None


def _after(cls: type, name: str, on_result: Callable[[Recorder, Any, Any, dict[str, Any]], None]) -> None:
    wrap_after(cls, name, on_result, mark=_MARK, context=_recording)


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if isinstance(moment, datetime) else (str(moment) if moment else None)


def install_write_hooks(active: Callable[[], Recorder | None], event_offset: Callable[[str], int]) -> None:
    """Report every write to S3, DynamoDB, CloudWatch Logs and Step Functions to `active()`.

    `event_offset(arn)`: how many history events a redriven execution had before this run (its new
    events are numbered after them). The hooks are installed once; later calls change the sources.
    """
    global _installed
    _sources.active, _sources.event_offset = active, event_offset
    with _install_lock:
        if _installed:
            return
        _installed = True
        _install_s3()
        _install_dynamodb()
        _install_logs()
        _install_stepfunctions()


# ---- S3 ------------------------------------------------------------------------------------------
def s3_object_record(recorder: Recorder, key: Any) -> dict[str, Any]:
    """The journal record of one object version (moto's FakeKey), its content stored as a blob.

    Reads FakeKey's private ``_version_id`` and ``_etag`` (the public properties format them).
    Guarded by tests/unit/test_moto_seam.py::test_s3_keys_keep_what_the_journal_records.
    """
    return {
        "k": RecordKind.S3_PUT, "bucket": key.bucket_name, "key": key.name, "version": key._version_id,
        "modified": _iso(key.last_modified), "blob": recorder.put_blob(key.value),
        "etag": key._etag, "metadata": dict(key.metadata), "storage": key.storage_class,
        "checksum": [key.checksum_algorithm, key.checksum_value, key.checksum_type],
    }


def _install_s3() -> None:
    """S3Backend's bucket and object writes (AWS keeps them; moto forgets them when it stops). Guarded by
    tests/unit/test_moto_seam.py::test_persistence_write_hooks_wrap_methods_with_these_arguments and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal."""

    def created(c: Recorder, backend: Any, bucket: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_BUCKET, "bucket": a["bucket_name"], "region": a["region_name"]})

    def versioning(c: Recorder, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_VERSIONING, "bucket": a["bucket_name"], "status": a["status"]})

    def bucket_deleted(c: Recorder, backend: Any, result: Any, a: dict[str, Any]) -> None:
        if result is not None:
            c.note(lambda: {"k": RecordKind.S3_BUCKET_DELETED, "bucket": a["bucket_name"]})

    def put(c: Recorder, backend: Any, key: Any, a: dict[str, Any]) -> None:
        c.note(lambda: s3_object_record(c, key))

    def marker(c: Recorder, backend: Any, m: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.S3_MARKER, "bucket": a["bucket_name"], "key": a["key_name"],
                        "version": m._version_id, "modified": _iso(m.last_modified)})

    _after(S3Backend, "create_bucket", created)
    _after(S3Backend, "put_bucket_versioning", versioning)
    _after(S3Backend, "delete_bucket", bucket_deleted)
    _after(S3Backend, "put_object", put)
    _after(S3Backend, "_set_delete_marker", marker)  # private: every delete that adds a marker ends here

    original_delete = S3Backend.delete_object

    @functools.wraps(original_delete)
    def delete_object(self: Any, bucket_name: str, key_name: str, version_id: str | None = None,
                      bypass: bool = False) -> Any:
        versioned = self.get_bucket(bucket_name).is_versioned
        ok, meta = original_delete(self, bucket_name, key_name, version_id=version_id, bypass=bypass)
        recorder = _recording()
        # A versioned delete without a version id adds a marker (recorded by its own hook).
        if ok and recorder is not None and (not versioned or version_id is not None):
            recorder.note(lambda: {"k": RecordKind.S3_DELETE, "bucket": bucket_name, "key": key_name,
                                   "version": version_id if versioned else None})
        return ok, meta

    replace(S3Backend, "delete_object", delete_object, mark=_MARK)


# ---- DynamoDB ------------------------------------------------------------------------------------
def _install_dynamodb() -> None:
    """DynamoDBBackend's table writes and Table's item writes (AWS keeps them; moto forgets them). Guarded by
    tests/unit/test_moto_seam.py::test_persistence_write_hooks_wrap_methods_with_these_arguments and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal."""

    def table_created(c: Recorder, backend: Any, table: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_TABLE, "region": table.region_name, "table": table.name,
                        "description": table.describe(base_key="TableDescription")["TableDescription"]})

    def table_deleted(c: Recorder, backend: Any, table: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_TABLE_DELETED, "region": backend.region_name, "table": table.name})

    def item_put(c: Recorder, table: Any, item: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.DDB_PUT, "region": table.region_name, "table": table.name,
                        "item": item.to_json()["Attributes"]})

    def item_deleted(c: Recorder, table: Any, item: Any, a: dict[str, Any]) -> None:
        if item is None:
            return
        key = {table.hash_key_attr: a["hash_key"].to_json()}
        if table.range_key_attr is not None and a["range_key"] is not None:
            key[table.range_key_attr] = a["range_key"].to_json()
        c.note(lambda: {"k": RecordKind.DDB_DELETE, "region": table.region_name, "table": table.name, "key": key})

    def item_updated(c: Recorder, backend: Any, item: Any, a: dict[str, Any]) -> None:
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
    """LogsBackend's group, retention and event writes (AWS keeps them; moto forgets them). Guarded by
    tests/unit/test_moto_seam.py::test_persistence_write_hooks_wrap_methods_with_these_arguments and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal."""

    def group(c: Recorder, backend: Any, created: Any, a: dict[str, Any]) -> None:
        # A new group has no retention policy unless it was created with one (moto's CloudFormation).
        c.note(lambda: {"k": RecordKind.LOGS_GROUP, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": created.retention_in_days})

    def retention(c: Recorder, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.LOGS_RETENTION, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": a["retention_in_days"]})

    def retention_deleted(c: Recorder, backend: Any, _: Any, a: dict[str, Any]) -> None:
        c.note(lambda: {"k": RecordKind.LOGS_RETENTION, "region": backend.region_name, "group": a["log_group_name"],
                        "retention": None})  # the group's events never expire again

    def events(c: Recorder, backend: Any, _: Any, a: dict[str, Any]) -> None:
        batch = [[e["timestamp"], e["message"]] for e in a["log_events"]]
        c.note(lambda: {"k": RecordKind.LOGS_EVENTS, "region": backend.region_name, "group": a["log_group_name"],
                        "stream": a["log_stream_name"], "events": batch})

    _after(LogsBackend, "create_log_group", group)
    _after(LogsBackend, "put_retention_policy", retention)
    _after(LogsBackend, "delete_retention_policy", retention_deleted)
    _after(LogsBackend, "put_log_events", events)


# ---- Step Functions executions -------------------------------------------------------------------
def _install_stepfunctions() -> None:
    """Execution starts, history events and ends.

    The history is journaled as the interpreter publishes it: ``ExecutionWorker`` builds each run's
    ``EventManager`` in the private ``_get_evaluation_environment``, which learns here which execution
    it writes for (from the private ``_evaluation_details``); ``EventManager._publish_history_event``
    (private) appends each event to the private ``_history_event_list``. Guarded by
    tests/unit/test_moto_seam.py::test_step_functions_history_is_published_through_the_event_manager.
    """

    def started(c: Recorder, backend: Any, execution: Any, a: dict[str, Any]) -> None:
        c.note(lambda: execution_start_record(execution))

    _after(StepFunctionsParserBackend, "start_execution", started)

    original_env = ExecutionWorker._get_evaluation_environment

    @functools.wraps(original_env)
    def environment(self: Any) -> Any:
        env = original_env(self)
        # The event manager learns which execution it writes for, so its events can be journaled;
        # a redriven run's events are numbered after the history it continues.
        arn = self._evaluation_details.execution_details.arn
        setattr(env.event_manager, "_lc_execution_arn", arn)  # noqa: B010 - moto's class has no such field
        setattr(env.event_manager, "_lc_event_offset", max(_sources.event_offset(arn) - 1, 0))  # noqa: B010
        return env

    replace(ExecutionWorker, "_get_evaluation_environment", environment, mark=_MARK)

    original_publish = EventManager._publish_history_event

    @functools.wraps(original_publish)
    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        original_publish(self, *args, **kwargs)
        arn = getattr(self, "_lc_execution_arn", None)
        recorder = _recording()
        if arn is not None and recorder is not None:
            event = dict(self._history_event_list[-1])
            offset = getattr(self, "_lc_event_offset", 0)
            if offset:
                if event.get("type") == "ExecutionStarted":
                    return  # a redriven run continues its history with ExecutionRedriven instead
                event = shift_event(event, offset)
            recorder.note(lambda: {"k": RecordKind.SFN_EVENT, "arn": arn, "event": event})

    replace(EventManager, "_publish_history_event", publish, mark=_MARK)

    def ended(c: Recorder, comm: Any, _: Any, a: dict[str, Any]) -> None:
        execution = comm.execution
        c.note(lambda: execution_end_record(execution))

    _after(BaseExecutionWorkerCommunication, "terminated", ended)


#: The moto attributes `install_write_hooks` replaces (a test that installs the hooks restores these,
#: and resets ``_installed``).
HOOKED: tuple[tuple[type, str], ...] = (
    (S3Backend, "create_bucket"), (S3Backend, "put_bucket_versioning"), (S3Backend, "delete_bucket"),
    (S3Backend, "put_object"), (S3Backend, "_set_delete_marker"), (S3Backend, "delete_object"),
    (DynamoDBBackend, "update_item"), (DynamoDBBackend, "create_table"), (DynamoDBBackend, "delete_table"),
    (Table, "put_item"), (Table, "delete_item"),
    (LogsBackend, "create_log_group"), (LogsBackend, "put_retention_policy"),
    (LogsBackend, "delete_retention_policy"), (LogsBackend, "put_log_events"),
    (StepFunctionsParserBackend, "start_execution"), (ExecutionWorker, "_get_evaluation_environment"),
    (EventManager, "_publish_history_event"), (BaseExecutionWorkerCommunication, "terminated"),
)


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
    return json.dumps(value, separators=(",", ":"), default=str)


# ---- loading a folded journal into the backends --------------------------------------------------
def load_s3(state: State, journal: Journal, account_id: str) -> None:
    """Buckets, versioning, object versions and delete markers, with their ids and dates.

    moto gives a new version its own id and date; the restored ones keep the journal's, written
    into FakeKey's private ``_version_id``. Guarded by
    tests/unit/test_moto_seam.py::test_s3_keys_keep_what_the_journal_records and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal.
    """
    backend = s3_backends[account_id]["aws"]
    for name, bucket in state.buckets.items():
        if name not in backend.buckets:
            backend.create_bucket(name, bucket.region)
        if bucket.versioning:
            backend.put_bucket_versioning(name, bucket.versioning)
        for key_name, versions in bucket.keys.items():
            for v in versions:
                if v["k"] == RecordKind.S3_MARKER:
                    if key_name in backend.buckets[name].keys:
                        marker = backend._set_delete_marker(name, key_name)
                        marker._version_id = v["version"]
                        marker.last_modified = parse_time(v.get("modified")) or marker.last_modified
                    continue
                try:
                    body = journal.read_blob(v["blob"])
                except (OSError, CorruptBlobError) as exc:
                    LOG.error("s3://%s/%s version %s not restored: %s", name, key_name, v.get("version"), exc)
                    continue
                key = backend.put_object(name, key_name, body, storage=v.get("storage"), etag=v.get("etag"),
                                         disable_notification=True)
                key._version_id = v.get("version")
                key.last_modified = parse_time(v.get("modified")) or key.last_modified
                key.set_metadata(dict(v.get("metadata") or {}), replace=True)
                algorithm, value, kind = (v.get("checksum") or [None, None, None])[:3]
                key.checksum_algorithm, key.checksum_value, key.checksum_type = algorithm, value, kind


def load_dynamodb(state: State, account_id: str) -> None:
    """Tables (from their descriptions) and their items. Guarded by
    tests/unit/test_moto_seam.py::test_persistence_loaders_call_backends_with_these_arguments and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal."""
    for (region, name), table in state.tables.items():
        backend = dynamodb_backends[account_id][region]
        d = table.description
        if name not in backend.tables:
            backend.create_table(
                name, schema=d["KeySchema"], throughput=d.get("ProvisionedThroughput"),
                attr=d["AttributeDefinitions"], global_indexes=d.get("GlobalSecondaryIndexes"),
                indexes=d.get("LocalSecondaryIndexes"), streams=d.get("StreamSpecification"),
                billing_mode=(d.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
                sse_specification=None, tags=[], deletion_protection_enabled=d.get("DeletionProtectionEnabled"),
                warm_throughput=None)
        target = backend.tables[name]
        for item in table.items.values():
            target.put_item(item)


def load_logs(state: State, account_id: str) -> None:
    """Log groups, their retention policies, streams and events. Guarded by
    tests/unit/test_moto_seam.py::test_persistence_loaders_call_backends_with_these_arguments and
    tests/unit/test_moto_seam.py::test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal."""
    for (region, group), streams in state.logs.items():
        backend = logs_backends[account_id][region]
        if group not in backend.groups:
            backend.create_log_group(group, {})
        if (region, group) in state.retention:
            # moto annotates the days as str, but its API handler passes the request's JSON number on.
            backend.put_retention_policy(group, cast(str, state.retention[(region, group)]))
        for stream, events in streams.items():
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            if events:
                backend.groups[group].streams[stream].put_log_events(
                    [{"timestamp": ts, "message": msg} for ts, msg in events])


# ---- executions across restarts -----------------------------------------------------------------
class RestoredExecution:
    """An execution from before the restart: described, listed and read like a live one.

    A read-only stand-in with the attributes moto's responses read from its Execution (describe,
    list, history). Guarded by
    tests/unit/test_moto_seam.py::test_state_machines_keep_their_executions_in_a_list.
    """

    def __init__(self, state: ExecutionState, state_machine: Any) -> None:
        assert state.start is not None and state.end is not None
        self.execution_arn = self.exec_arn = state.arn
        self.name = state.start["name"]
        self.state_machine = state_machine
        self.state_machine_arn = state.start["state_machine"]
        self.execution_input = state.start["input"]
        self.input_data = json.loads(self.execution_input or "{}")
        self.start_date = parse_time(state.start["start"])
        self.stop_date = parse_time(state.end.get("stop"))
        self.exec_status = ExecutionStatus(state.end["status"])
        self.error = state.end.get("error")
        self.cause = state.end.get("cause")
        self.output = state.end.get("output")
        self.output_details = {"included": True}
        self.exec_worker = None
        self.redrive_count = state.redrives
        self.events = state.events

    @property
    def status(self) -> str:
        return str(self.exec_status.value)

    def to_history_output(self) -> dict[str, Any]:
        return {"events": copy.deepcopy(self.events)}

    def stop(self, stop_date: datetime, error: str | None, cause: str | None) -> None:
        """Stopping a finished execution changes nothing (AWS answers without error too)."""


def attach_restored_execution(execution: ExecutionState, account_id: str, region: str) -> bool:
    """Add a finished execution to its (redeployed) state machine's list; False if already there.

    Raises StateMachineNotFound when the state machine is no longer deployed. Guarded by
    tests/unit/test_moto_seam.py::test_state_machines_keep_their_executions_in_a_list.
    """
    assert execution.start is not None
    backend = stepfunctions_parser_backends[account_id][region]
    try:
        machine = backend.describe_state_machine(execution.start["state_machine"])
    except StateMachineDoesNotExist as exc:
        raise StateMachineNotFound(execution.start["state_machine"]) from exc
    if any(e.execution_arn == execution.arn for e in machine.executions):
        return False
    machine.executions.append(cast(Any, RestoredExecution(execution, machine)))
    return True


class RedrivenExecution(Execution):
    """A redriven run: its history continues the history of the runs before it."""

    def __init__(self, *, previous: list[dict[str, Any]], redrive_count: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.previous_events = previous
        self.redrive_count = redrive_count

    def to_history_output(self) -> Any:
        offset = len(self.previous_events) and int(self.previous_events[-1]["id"])
        new_events = list(super().to_history_output().get("events") or [])
        shifted = [shift_event(dict(e), offset - 1) for e in new_events if e.get("type") != "ExecutionStarted"]
        return {"events": copy.deepcopy(self.previous_events) + shifted}


def execution_history(account_id: str, region: str, execution_arn: str) -> ExecutionHistory:
    """An execution's status, history events and redrive count (live or restored).

    Raises ExecutionNotFound for an unknown ARN. Guarded by
    tests/unit/test_moto_seam.py::test_state_machines_keep_their_executions_in_a_list.
    """
    backend = stepfunctions_parser_backends[account_id][region]
    try:
        # Typed as moto's classic Execution; here a parser Execution or a RestoredExecution.
        old: Any = backend.describe_execution(execution_arn)
    except ExecutionDoesNotExist as exc:
        raise ExecutionNotFound(f"Execution Does Not Exist: '{execution_arn}'") from exc
    events = list(old.to_history_output().get("events") or [])
    return ExecutionHistory(status=str(old.status), events=events,
                            redrive_count=int(getattr(old, "redrive_count", 0)))


def start_redriven_run(account_id: str, region: str, execution_arn: str, *, start_at: str, state_input: Any,
                       previous_events: list[dict[str, Any]], redrive_count: int,
                       before_start: Callable[[], None]) -> None:
    """Run the execution again under its ARN, from state `start_at` with `state_input`.

    AWS's RedriveExecution, which moto lacks. The run is a moto execution of a copy of the state
    machine whose ``StartAt`` is `start_at`; it replaces the old execution in the machine's list, its
    history continues `previous_events`, and DescribeExecution keeps the original input.
    `before_start()` runs once the run is built, before it replaces the old one and starts. Finds the
    state machine with the backend's private ``_get_state_machine_for_execution``. Guarded by
    tests/unit/test_moto_seam.py::test_a_redriven_run_is_a_parser_execution_of_a_copied_state_machine.
    """
    backend = stepfunctions_parser_backends[account_id][region]
    try:
        old = backend.describe_execution(execution_arn)
        machine = backend._get_state_machine_for_execution(execution_arn)
    except ExecutionDoesNotExist as exc:
        raise ExecutionNotFound(f"Execution Does Not Exist: '{execution_arn}'") from exc
    definition = json.loads(machine.definition)
    definition["StartAt"] = start_at
    clone = copy.deepcopy(machine, {id(machine.executions): [], id(machine.backend): machine.backend})
    clone.definition = json.dumps(definition)

    new = RedrivenExecution(
        previous=previous_events, redrive_count=redrive_count,
        name=old.name, sm_type=clone.sm_type, role_arn=clone.roleArn, exec_arn=execution_arn,
        account_id=account_id, region_name=region, state_machine=clone, start_date=old.start_date,
        cloud_watch_logging_session=None, input_data=json.dumps(state_input), activity_store={})
    new.execution_input = old.execution_input  # DescribeExecution keeps the original input
    new.state_machine_arn = machine.arn
    before_start()
    # moto types the list with its classic Execution; the parser's executions live there too.
    replaced: list[Any] = [new if e.execution_arn == execution_arn else e for e in machine.executions]
    machine.executions[:] = replaced
    new.start()
