"""The one place the local cloud touches moto: every import of moto and every patch of it is here.

Outside this package (and the tests), no module imports ``moto`` or reads a private attribute of
its backends; the rest of the cloud calls the functions below. One module per AWS service or concern:

- ``lambda_``        the Lambda bridge: every moto path that runs function code ends in the local runtime
- ``s3``             S3 event records as AWS writes them; keys over 1,024 bytes refused
- ``sns``            SNS fan-out handed to the cloud's delivery (messaging/sns.py)
- ``events``         EventBridge rule targets handed to the cloud's router (messaging/eventbus.py)
- ``stepfunctions``  execution names, definite JSONPaths, execution status-change events
- ``cloudwatch``     ListMetrics, alarm states, the metric store (EMF, AWS/Lambda) and source (alarms)
- ``logs``           log groups for the retention sweeper, and the log sink's writes
- ``state``          persistence: the writes capture journals, the loads restore makes, restored
                     and redriven executions
- ``server``         the WSGI app serving moto's APIs and the request handler it expects
- ``patching``       how a patch is installed once and marked

Each patch and each private read says what AWS does that moto does not, and names the test in
tests/unit/test_moto_seam.py that fails when a moto upgrade breaks its assumption; that file also
fails when a module outside this package imports moto.

Importing this package does not import moto: moto reads some settings from the environment when it
is imported, and the cloud sets them first (`use_port`). Each function imports its module when it
is called. The exception is ``server``, which apiserver.py imports for a base class.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..alarms import MetricSource
    from ..emf import MetricStore
    from ..messaging.eventbus import ExecutionSnapshot
    from ..messaging.sns import Notification, Subscriber
    from ..persistence.journal import Journal
    from ..persistence.restore import ExecutionState, State
    from ..runtime.pool import LambdaRuntime
    from ..runtime.spec import CodeStore
    from .lambda_ import MotoLambdaBridge

#: The moto release every patch here was checked against (tests/unit/test_moto_seam.py pins it).
PINNED_VERSION = "5.2.5"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ExecutionNotFound(Exception):
    """No execution has this ARN (moto's ExecutionDoesNotExist)."""


class StateMachineNotFound(Exception):
    """No state machine has this ARN (moto's StateMachineDoesNotExist)."""


@dataclass(frozen=True)
class ExecutionHistory:
    """What a redrive needs of an execution: its status, its history events, how often it was redriven."""

    status: str
    events: list[dict[str, Any]]
    redrive_count: int


class Recorder(Protocol):
    """What the persistence write hooks report to (persistence/capture.py's Capture)."""

    suspended: bool  # while the restore replays the journal into the backends: nothing is recorded

    def note(self, build: Callable[[], dict[str, Any] | None]) -> None:
        """Journal the record `build()` returns (at the request's commit, or at once outside one)."""

    def put_blob(self, data: bytes) -> str:
        """Store an object's content beside the journal; returns the name a record refers to it by."""


# ---- the server ------------------------------------------------------------------------------------
def use_port(port: int) -> None:
    """Tell moto the port it is served on, before moto is imported.

    moto's Step Functions interpreter calls Lambda at localhost:$MOTO_PORT (default 5000).
    Guarded by tests/unit/test_moto_seam.py::test_step_functions_calls_lambda_through_the_invoke_api.
    """
    os.environ["MOTO_PORT"] = str(port)


def wsgi_app() -> WsgiApp:
    """Every AWS API moto implements, as one WSGI application (see server.py)."""
    from . import server

    return server.wsgi_app()


def enable_state_machine_execution(endpoint_url: str) -> None:
    """Make moto run state machines (its ASL interpreter) instead of only recording executions.

    Guarded by tests/unit/test_moto_seam.py::test_moto_api_config_switches_on_state_machine_execution.
    """
    import requests

    r = requests.post(f"{endpoint_url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}},
                      timeout=10)
    r.raise_for_status()


# ---- fixes and hooks -------------------------------------------------------------------------------
def install_fixes() -> None:
    """Where moto differs from AWS in ways users hit: S3 key length, ListMetrics, execution names, JSONPath."""
    from . import cloudwatch, s3, stepfunctions

    s3.install_key_limit()
    cloudwatch.install_list_metrics()
    stepfunctions.install_execution_names()
    stepfunctions.install_json_paths()


def install_hooks(*, deliver: Callable[[Notification, Subscriber], None], route: Callable[..., list[Any]],
                  on_execution: Callable[[ExecutionSnapshot], None]) -> None:
    """Route moto's SNS fan-out, rule targets and execution lifecycle to these parts of the cloud,
    and give alarms AWS's initial states. Installed once; a later call changes where they go."""
    from . import cloudwatch, events, sns, stepfunctions

    sns.install(deliver)
    events.install(route)
    stepfunctions.install_status_events(on_execution)
    cloudwatch.install_alarm_states()


def hooked_attributes() -> tuple[tuple[type, str], ...]:
    """Every moto attribute `install_hooks` replaces (a test that installs the hooks restores these)."""
    from . import cloudwatch, events, sns, stepfunctions

    return sns.HOOKED + events.HOOKED + stepfunctions.HOOKED + cloudwatch.HOOKED


# ---- Lambda ----------------------------------------------------------------------------------------
def lambda_bridge(runtime: LambdaRuntime, code_store: CodeStore, *, account_id: str, region: str
                  ) -> MotoLambdaBridge:
    """The bridge from moto's Lambda functions to the local runtime (see lambda_.py); `install()` it."""
    from .lambda_ import MotoLambdaBridge

    return MotoLambdaBridge(runtime, code_store, account_id=account_id, region=region)


# ---- CloudWatch and CloudWatch Logs ----------------------------------------------------------------
def metric_store(account_id: str, region: str) -> MetricStore:
    """Where EMF and AWS/Lambda datapoints go: moto's CloudWatch, aggregated per period."""
    from .cloudwatch import MotoMetricStore

    return MotoMetricStore(account_id, region)


def metric_source(account_id: str, region: str) -> MetricSource:
    """Where alarms read datapoints: moto's CloudWatch, matched on the exact dimension set."""
    from .cloudwatch import MotoMetricSource

    return MotoMetricSource(account_id, region)


def log_groups(account_id: str, region: str) -> list[Any]:
    """moto's log groups (``retention_in_days``, ``streams``), for logretention.RetentionSweeper."""
    from . import logs

    return logs.log_groups(account_id, region)


def write_log_events(account_id: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """Append (timestamp ms, message) events to a log stream, creating the group and stream if needed."""
    from . import logs

    logs.write_events(account_id, region, group, stream, events)


# ---- persistence -----------------------------------------------------------------------------------
def install_write_hooks(active: Callable[[], Recorder | None], event_offset: Callable[[str], int]) -> None:
    """Report every write to S3, DynamoDB, CloudWatch Logs and Step Functions to `active()` (see state.py)."""
    from . import state

    state.install_write_hooks(active, event_offset)


def load_s3(state: State, journal: Journal, account_id: str) -> None:
    """Put the restored buckets and object versions into moto's S3."""
    from . import state as seam_state

    seam_state.load_s3(state, journal, account_id)


def load_dynamodb(state: State, account_id: str) -> None:
    """Put the restored tables and items into moto's DynamoDB."""
    from . import state as seam_state

    seam_state.load_dynamodb(state, account_id)


def load_logs(state: State, account_id: str) -> None:
    """Put the restored log groups, retention policies and events into moto's CloudWatch Logs."""
    from . import state as seam_state

    seam_state.load_logs(state, account_id)


def attach_restored_execution(execution: ExecutionState, account_id: str, region: str) -> bool:
    """Add a finished execution from before the restart to its state machine; False if already there.

    Raises StateMachineNotFound when its state machine is no longer deployed.
    """
    from . import state

    return state.attach_restored_execution(execution, account_id, region)


def execution_history(account_id: str, region: str, execution_arn: str) -> ExecutionHistory:
    """An execution's status, history and redrive count; raises ExecutionNotFound for an unknown ARN."""
    from . import state

    return state.execution_history(account_id, region, execution_arn)


def start_redriven_run(account_id: str, region: str, execution_arn: str, *, start_at: str, state_input: Any,
                       previous_events: list[dict[str, Any]], redrive_count: int,
                       before_start: Callable[[], None]) -> None:
    """Run an execution again under its ARN from state `start_at` (AWS's RedriveExecution; see state.py)."""
    from . import state

    state.start_redriven_run(account_id, region, execution_arn, start_at=start_at, state_input=state_input,
                             previous_events=previous_events, redrive_count=redrive_count,
                             before_start=before_start)
