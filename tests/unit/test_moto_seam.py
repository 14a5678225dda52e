"""The seam the local cloud patches in moto (infra/localcloud/motoseam/). If a moto upgrade moves it, this fails loudly.

Every patch and private read in motoseam/ names the test here that guards it; the last tests check
that those names exist and that nothing outside motoseam/ imports moto. The behaviour tests run
moto in-process (mock_aws), without a network.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.localcloud import motoseam

ROOT = Path(__file__).resolve().parents[2]
SEAM = ROOT / "infra" / "localcloud" / "motoseam"
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/seam"
PASS_THEN_FAIL = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"},
                                             "B": {"Type": "Fail", "Error": "E", "Cause": "c"}}}


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def interpreter(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process with its Step Functions interpreter on, as the local cloud configures it."""
    from moto.core.models import default_user_config

    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": True})
    with mock_aws():
        yield boto3.client("stepfunctions")


class Recorder:
    """A capture that keeps its records in memory (persistence/capture.py's Capture writes a journal)."""

    def __init__(self) -> None:
        self.suspended = False
        self.records: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}

    def note(self, build: Callable[[], dict[str, Any] | None]) -> None:
        record = build()
        if record is not None:
            self.records.append(record)

    def put_blob(self, data: bytes) -> str:
        name = f"blob-{len(self.blobs)}"
        self.blobs[name] = data
        return name

    def kinds(self) -> list[str]:
        return [str(r["k"]) for r in self.records]


@pytest.fixture
def write_hooks(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], None]:
    """Installs the persistence write hooks for one test; moto's methods are restored afterwards."""
    from infra.localcloud.motoseam import state

    for owner, name in state.HOOKED:
        monkeypatch.setattr(owner, name, getattr(owner, name))
    # Hooks an earlier test installed (a Persistence in the same process) stay as they are: installing
    # again only points them at this test's recorder. Wrapping them twice would journal every write twice.
    monkeypatch.setattr(state, "_installed", state._installed)
    monkeypatch.setattr(state, "_sources", state._Sources(active=state._none_active, event_offset=state._no_offset))

    def install(recorder: Any) -> None:
        state.install_write_hooks(lambda: recorder, lambda arn: 0)

    return install


def _wait_for_end(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.time() + 10
    while time.time() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"{execution_arn} still running after 10 s")


def _state_machine(sfn: Any, definition: dict[str, Any]) -> str:
    return str(sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"])


# ---- the version ---------------------------------------------------------------------------------
def test_moto_is_the_pinned_version():
    assert version("moto") == motoseam.PINNED_VERSION, "re-verify infra/localcloud/motoseam/ against the new moto"


# ---- the server ----------------------------------------------------------------------------------
def test_moto_serves_its_apis_as_one_wsgi_app(aws_env):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.test import Client

    from infra.localcloud.motoseam import server

    assert issubclass(server.RequestHandler, WSGIRequestHandler) and server.RequestHandler is MotoRequestHandler
    assert "make_environ" in vars(MotoRequestHandler)  # what the keep-alive handler inherits
    assert list(inspect.signature(WSGIRequestHandler.run_wsgi).parameters) == ["self"]  # what it overrides
    app = motoseam.wsgi_app()
    assert isinstance(app, DomainDispatcherApplication)
    with mock_aws():
        answer = Client(app).post("/", headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                                                "Content-Type": "application/x-amz-json-1.0",
                                                "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/sqs/aws4_request"},
                                  data="{}")
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_moto_api_config_switches_on_state_machine_execution(monkeypatch: pytest.MonkeyPatch):
    from moto.core.models import default_user_config
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.responses import get_backend
    from werkzeug.test import Client

    monkeypatch.setitem(default_user_config, "stepfunctions", {})
    assert get_backend(ACCOUNT, REGION) is stepfunctions_backends[ACCOUNT][REGION]
    # What motoseam.enable_state_machine_execution posts, through the app the local cloud serves.
    answer = Client(motoseam.wsgi_app()).post("/moto-api/config",
                                              json={"stepfunctions": {"execute_state_machine": True}})
    assert answer.status_code == 201
    assert get_backend(ACCOUNT, REGION) is stepfunctions_parser_backends[ACCOUNT][REGION]
    assert '"execute_state_machine": True' in inspect.getsource(motoseam.enable_state_machine_execution)


# ---- Lambda --------------------------------------------------------------------------------------
def test_lambda_invoke_entry_points_exist_with_the_expected_signatures():
    from moto.awslambda.models import LambdaFunction

    assert _parameters(LambdaFunction.invoke) == ["self", "body", "request_headers", "response_headers"]
    assert "event" in inspect.signature(LambdaFunction._invoke_lambda).parameters
    # Every moto path that runs code ends in invoke: the Invoke API's backend method calls it.
    from moto.awslambda.models import LambdaBackend

    assert "fn.invoke(body, headers, response_headers)" in inspect.getsource(LambdaBackend.invoke)


def test_s3_and_events_notification_hooks_exist():
    import moto.events.notifications as ev
    import moto.s3.notifications as s3n

    assert _parameters(s3n._invoke_awslambda) == ["account_id", "event_body", "fn_arn", "region_name"]
    assert _parameters(ev._invoke_lambda) == ["account_id", "fn_arn", "event"]
    # S3 calls the hook from inside PutObject; the bridge must replace exactly this name.
    assert "_invoke_awslambda(" in inspect.getsource(s3n.send_event)
    assert "_invoke_lambda(" in inspect.getsource(ev._send_safe_notification)


def test_json_rest_errors_render_their_code_and_description():
    # moto answers an HTTPException raised by a handler with its `code` and `description`.
    from moto.core.responses import BaseResponse

    from infra.localcloud.motoseam.lambda_ import LambdaApiError
    from infra.localcloud.runtime.errors import LambdaServiceError

    class TooMany(LambdaServiceError):
        error_type = "TooManyRequestsException"
        status = 429

    err = LambdaApiError(TooMany("slow down"))
    assert err.code == 429
    assert json.loads(err.description) == {"__type": "TooManyRequestsException", "message": "slow down"}
    assert err.get_body() == err.description
    source = inspect.getsource(BaseResponse.call_action)
    assert 'response_headers["status"] = http_error.code' in source and "http_error.description" in source


def test_lambda_function_model_has_what_the_bridge_reads(aws_env):
    from moto.awslambda.utils import get_backend

    with mock_aws():
        lam = boto3.client("lambda")
        boto3.client("iam").create_role(RoleName="seam", AssumeRolePolicyDocument="{}")
        layer = lam.publish_layer_version(LayerName="lib", Content={"ZipFile": _zip("python/lib.py", "X = 1")})
        lam.create_function(FunctionName="f", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": _zip("app.py", "def handler(e, c):\n    return e\n")}, Timeout=7,
                            MemorySize=256, Environment={"Variables": {"A": "1"}}, Layers=[layer["LayerVersionArn"]],
                            DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"})
        lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=3)
        lam.put_function_event_invoke_config(FunctionName="f", MaximumRetryAttempts=1, MaximumEventAgeInSeconds=60)
        backend = get_backend(ACCOUNT, REGION)
        fn = backend.get_function("f")
        assert (fn.function_name, fn.function_arn, fn.region) == ("f", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
                                                                    REGION)
        assert (fn.handler, fn.run_time, fn.timeout, fn.memory_size) == ("app.handler", "python3.11", 7, 256)
        assert (fn.environment_vars, fn.reserved_concurrency, str(fn.version)) == ({"A": "1"}, 3, "$LATEST")
        assert fn.code_bytes.startswith(b"PK") and fn.code_sha_256
        assert [entry["Arn"] for entry in fn.layers] == [layer["LayerVersionArn"]]
        assert [c.config for c in fn.event_invoke_config] == [
            {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}]
        # moto 5.2.5 drops a function's DeadLetterConfig, so the bridge's fallback to it finds none.
        # When this fails, moto keeps it: check that MotoLambdaBridge.policy_for reads it correctly.
        assert not hasattr(fn, "dead_letter_config")
        version_of_layer = backend.layers_versions_by_arn(layer["LayerVersionArn"])
        assert version_of_layer is not None and version_of_layer.name == "lib"
        assert version_of_layer.code_bytes.startswith(b"PK")


def test_lambda_get_function_takes_a_qualifier_and_raises_unknown(aws_env):
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.utils import get_backend

    assert _parameters(LambdaBackend.get_function) == ["self", "function_name_or_arn", "qualifier"]
    assert _parameters(get_backend) == ["account_id", "region"]
    with mock_aws():
        lam = boto3.client("lambda")
        boto3.client("iam").create_role(RoleName="seam", AssumeRolePolicyDocument="{}")
        lam.create_function(FunctionName="f", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": _zip("app.py", "")}, Publish=True)
        lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
        backend = get_backend(ACCOUNT, REGION)
        assert str(backend.get_function("f", "live").version) == "1"  # an alias resolves to its version
        with pytest.raises(UnknownFunctionException):
            backend.get_function("missing", None)


# ---- S3 ------------------------------------------------------------------------------------------
def test_s3_notifications_build_records_in_get_s3_event():
    import moto.s3.notifications as s3n
    from moto.s3.models import FakeKey

    # If a moto upgrade moves this, our completed records silently stop reaching the functions.
    assert _parameters(s3n._get_s3_event) == ["event_name", "bucket", "key", "notification_id"]
    assert "_get_s3_event(" in inspect.getsource(s3n.send_event)
    assert isinstance(inspect.getattr_static(FakeKey, "version_id"), property)


def test_s3_backend_methods_that_create_keys_take_the_key_argument():
    # motoseam/s3.py refuses keys over 1,024 bytes (KeyTooLongError) by wrapping these methods.
    from moto.s3.models import S3Backend

    from infra.localcloud.motoseam.s3 import KEY_WRITES, KeyTooLongError

    for name, argument in KEY_WRITES.items():
        assert argument in inspect.signature(getattr(S3Backend, name)).parameters, name
    err = KeyTooLongError()
    assert (err.code, err.message) == ("KeyTooLongError", "Your key is too long")


def test_s3_keys_keep_what_the_journal_records(aws_env):
    # The journal records FakeKey's private _version_id and _etag; restoring writes _version_id back.
    from moto.s3.models import FakeKey, S3Backend, s3_backends

    assert all(f"self.{name} =" in inspect.getsource(FakeKey.__init__) for name in ("_version_id", "_etag"))
    assert _parameters(S3Backend._set_delete_marker) == ["self", "bucket_name", "key_name"]
    assert _parameters(FakeKey.set_metadata) == ["self", "metadata", "replace"]
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="seam-bucket")
        s3.put_bucket_versioning(Bucket="seam-bucket", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="seam-bucket", Key="k", Body=b"v1", Metadata={"m": "1"})
        key = s3_backends[ACCOUNT]["aws"].buckets["seam-bucket"].keys["k"]
        key._version_id = "restored-version"
        assert s3.head_object(Bucket="seam-bucket", Key="k")["VersionId"] == "restored-version"
        assert key.etag == f'"{key._etag}"'
        assert (key.bucket_name, key.name, key.value, key.metadata["x-amz-meta-m"]) == ("seam-bucket", "k", b"v1", "1")
        assert {"storage_class", "checksum_algorithm", "checksum_value", "checksum_type",
                "last_modified"} <= set(dir(key))


# ---- Step Functions ------------------------------------------------------------------------------
def test_step_functions_calls_lambda_through_the_invoke_api():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    src = inspect.getsource(lambda_eval_utils)
    assert "lambda_client.invoke(" in src
    from moto.stepfunctions.parser.asl.utils import boto_client

    # motoseam.use_port sets the port the interpreter's Lambda client calls.
    assert "moto_server_port()" in inspect.getsource(boto_client)
    from moto import settings

    assert '"MOTO_PORT"' in inspect.getsource(settings.moto_server_port)


def test_step_functions_parser_backend_start_execution_signature(interpreter, monkeypatch):
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    moto_start = inspect.unwrap(StepFunctionsParserBackend.start_execution)  # without any patch of ours
    assert _parameters(moto_start) == ["self", "state_machine_arn", "name", "execution_input", "trace_header"]
    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", moto_start)
    machine = _state_machine(interpreter, PASS_THEN_FAIL)
    unnamed = interpreter.start_execution(stateMachineArn=machine)["executionArn"]
    _wait_for_end(interpreter, unnamed)
    assert unnamed.endswith(":None"), "moto now names executions itself: the fix may be unnecessary"

    from infra.localcloud.motoseam import stepfunctions

    stepfunctions.install_execution_names()
    named = interpreter.start_execution(stateMachineArn=machine)["executionArn"]
    _wait_for_end(interpreter, named)
    assert re.fullmatch(r"[0-9a-f-]{36}", named.rsplit(":", 1)[1])


def test_step_functions_interpreter_reads_json_paths_through_extract_json():
    from moto.stepfunctions.parser.asl.utils import json_path

    from infra.localcloud.motoseam import stepfunctions
    from infra.localcloud.motoseam.stepfunctions import MODULES_USING_EXTRACT_JSON

    assert _parameters(stepfunctions._moto_extract_json) == ["path", "data"]
    squares = {"squares": [{"square": 16}]}
    assert stepfunctions._moto_extract_json("$.squares[0].square", squares) == [16], "moto fixed it: drop the fix?"
    assert stepfunctions.extract_json("$.squares[0].square", squares) == 16
    assert stepfunctions.extract_json("$.squares[*].square", squares) == [16]
    assert json_path.extract_json in (stepfunctions._moto_extract_json, stepfunctions.extract_json)
    # Every interpreter module that imports extract_json by name is listed (each needs its reference replaced).
    package = Path(importlib.import_module("moto.stepfunctions.parser").__file__ or "").parent
    importing = set()
    for path in package.rglob("*.py"):
        if "extract_json" not in (text := path.read_text()):
            continue
        if any(isinstance(node, ast.ImportFrom) and (node.module or "").endswith("json_path")
               and any(alias.name == "extract_json" for alias in node.names) for node in ast.walk(ast.parse(text))):
            relative = path.relative_to(package.parent.parent.parent).with_suffix("")
            importing.add(".".join(relative.parts))
    assert importing == set(MODULES_USING_EXTRACT_JSON)


def test_every_execution_ending_passes_through_terminated():
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert _parameters(BaseExecutionWorkerCommunication.terminated) == ["self"]
    assert "self._execution_communication.terminated()" in inspect.getsource(ExecutionWorker._execution_logic)
    assert _parameters(Execution.start) == ["self"]
    source = inspect.getsource(Execution.__init__)
    assert all(f"self.{name} =" in source for name in (
        "execution_arn", "state_machine_arn", "execution_input", "exec_status", "stop_date", "output", "error",
        "cause", "exec_worker", "start_date", "sm_type"))


def test_state_machines_keep_their_executions_in_a_list(interpreter):
    # Restored executions are appended to their state machine's list and read back through the API.
    from moto.stepfunctions.models import StepFunctionBackend

    from infra.localcloud.persistence.restore import ExecutionState

    assert "self._get_state_machine_for_execution(execution_arn)" in inspect.getsource(
        StepFunctionBackend.describe_execution)
    machine = _state_machine(interpreter, PASS_THEN_FAIL)
    arn = machine.replace(":stateMachine:", ":execution:") + ":before-restart"
    started = {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2026-01-01T00:00:00+00:00"}
    restored = ExecutionState(
        arn=arn, start={"name": "before-restart", "state_machine": machine, "input": '{"a": 1}',
                        "start": "2026-01-01T00:00:00+00:00"},
        events=[started], end={"status": "SUCCEEDED", "stop": "2026-01-01T00:00:01+00:00", "output": '{"b": 2}',
                               "error": None, "cause": None}, redrives=0)

    assert motoseam.attach_restored_execution(restored, ACCOUNT, REGION) is True
    assert motoseam.attach_restored_execution(restored, ACCOUNT, REGION) is False  # already attached
    described = interpreter.describe_execution(executionArn=arn)
    assert (described["status"], described["input"], described["output"]) == ("SUCCEEDED", '{"a": 1}', '{"b": 2}')
    assert [e["executionArn"] for e in interpreter.list_executions(stateMachineArn=machine)["executions"]] == [arn]
    assert [e["type"] for e in interpreter.get_execution_history(executionArn=arn)["events"]] == ["ExecutionStarted"]
    history = motoseam.execution_history(ACCOUNT, REGION, arn)
    assert (history.status, history.redrive_count, len(history.events)) == ("SUCCEEDED", 0, 1)
    with pytest.raises(motoseam.ExecutionNotFound):
        motoseam.execution_history(ACCOUNT, REGION, arn + "-unknown")
    gone = ExecutionState(arn=arn.replace(":m:", ":gone:"), start={**restored.start, "state_machine": machine + "x"},
                          end=restored.end)
    with pytest.raises(motoseam.StateMachineNotFound):
        motoseam.attach_restored_execution(gone, ACCOUNT, REGION)


def test_a_redriven_run_is_a_parser_execution_of_a_copied_state_machine(interpreter):
    from moto.stepfunctions.models import StateMachine, StateMachineInstance, StepFunctionBackend
    from moto.stepfunctions.parser.backend.execution import Execution

    from infra.localcloud.persistence import executions

    assert _parameters(Execution.__init__) == [
        "self", "name", "sm_type", "role_arn", "exec_arn", "account_id", "region_name", "state_machine",
        "start_date", "cloud_watch_logging_session", "activity_store", "input_data", "trace_header"]
    assert _parameters(StepFunctionBackend._get_state_machine_for_execution) == ["self", "execution_arn"]
    # The run's state machine is a deep copy of the deployed one, sharing its backend, with its own StartAt.
    assert all(f"self.{name}" in inspect.getsource(StateMachineInstance.__init__)
               for name in ("definition", "roleArn", "sm_type", "executions"))
    assert "self.backend = backend" in inspect.getsource(StateMachine.__init__)

    machine = _state_machine(interpreter, PASS_THEN_FAIL)
    arn = interpreter.start_execution(stateMachineArn=machine, name="run", input='{"x": 1}')["executionArn"]
    assert _wait_for_end(interpreter, arn)["status"] == "FAILED"
    executions.redrive(ACCOUNT, REGION, arn)  # restarts at the Fail state, which fails again
    described = _wait_for_end(interpreter, arn)
    assert (described["status"], described["input"]) == ("FAILED", '{"x": 1}')
    events = interpreter.get_execution_history(executionArn=arn)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "FailStateEntered", "ExecutionFailed", "ExecutionRedriven",
                                           "FailStateEntered", "ExecutionFailed"]
    assert [e["id"] for e in events] == list(range(1, 9))
    assert [e["previousEventId"] for e in events[5:]] == [5, 6, 7]
    assert [e["executionArn"] for e in interpreter.list_executions(stateMachineArn=machine)["executions"]] == [arn]


def test_step_functions_history_is_published_through_the_event_manager(interpreter, write_hooks):
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    assert _parameters(ExecutionWorker._get_evaluation_environment) == ["self"]
    assert "self._evaluation_details.execution_details.arn" in inspect.getsource(
        ExecutionWorker._get_evaluation_environment)
    assert "self._history_event_list.append(" in inspect.getsource(EventManager._publish_history_event)
    assert "self._publish_history_event(" in inspect.getsource(EventManager.add_event)

    recorder = Recorder()
    write_hooks(recorder)
    machine = _state_machine(interpreter, PASS_THEN_FAIL)
    arn = interpreter.start_execution(stateMachineArn=machine, name="run", input='{"x": 1}')["executionArn"]
    _wait_for_end(interpreter, arn)
    deadline = time.time() + 5
    while "sfn.end" not in recorder.kinds() and time.time() < deadline:
        time.sleep(0.02)
    # The interpreter's thread may journal the first events before StartExecution returns: no order between kinds.
    [start] = [r for r in recorder.records if r["k"] == "sfn.start"]
    events = [r["event"] for r in recorder.records if r["k"] == "sfn.event" and r["arn"] == arn]
    [end] = [r for r in recorder.records if r["k"] == "sfn.end"]
    assert (start["arn"], start["name"], start["input"]) == (arn, "run", '{"x": 1}')
    history = interpreter.get_execution_history(executionArn=arn)["events"]
    assert [(e["id"], e["type"]) for e in events] == [(e["id"], e["type"]) for e in history]
    assert (end["arn"], end["status"], end["error"], end["cause"]) == (arn, "FAILED", "E", "c")


# ---- persistence: S3, DynamoDB, CloudWatch Logs -------------------------------------------------
def test_persistence_write_hooks_wrap_methods_with_these_arguments():
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.logs.models import LogsBackend
    from moto.s3.models import S3Backend

    expected = {
        (S3Backend, "create_bucket"): ["bucket_name", "region_name"],
        (S3Backend, "put_bucket_versioning"): ["bucket_name", "status"],
        (S3Backend, "delete_bucket"): ["bucket_name"],
        (S3Backend, "put_object"): ["bucket_name", "key_name"],
        (S3Backend, "_set_delete_marker"): ["bucket_name", "key_name"],
        (DynamoDBBackend, "update_item"): ["table_name"],
        (DynamoDBBackend, "create_table"): ["name"],
        (DynamoDBBackend, "delete_table"): ["name"],
        (Table, "put_item"): ["item_attrs"],
        (Table, "delete_item"): ["hash_key", "range_key"],
        (LogsBackend, "create_log_group"): ["log_group_name"],
        (LogsBackend, "put_retention_policy"): ["log_group_name", "retention_in_days"],
        (LogsBackend, "delete_retention_policy"): ["log_group_name"],
        (LogsBackend, "put_log_events"): ["log_group_name", "log_stream_name", "log_events"],
    }
    for (owner, name), arguments in expected.items():
        parameters = _parameters(getattr(owner, name))
        assert all(a in parameters for a in arguments), f"{owner.__name__}.{name}{parameters}"
    # delete_object is replaced whole: same parameters, same (deleted, metadata) answer.
    from moto.s3.models import FakeBucket

    assert _parameters(S3Backend.delete_object) == ["self", "bucket_name", "key_name", "version_id", "bypass"]
    assert "tuple[bool" in str(inspect.signature(S3Backend.delete_object).return_annotation)
    assert isinstance(inspect.getattr_static(FakeBucket, "is_versioned"), property)


def test_persistence_loaders_call_backends_with_these_arguments():
    from moto.dynamodb.models import DynamoDBBackend
    from moto.logs.models import LogsBackend, LogStream
    from moto.s3.models import S3Backend

    assert {"storage", "etag", "disable_notification"} <= set(_parameters(S3Backend.put_object))
    assert _parameters(DynamoDBBackend.create_table) == [
        "self", "name", "schema", "throughput", "attr", "global_indexes", "indexes", "streams", "billing_mode",
        "sse_specification", "tags", "deletion_protection_enabled", "warm_throughput"]
    assert _parameters(LogsBackend.create_log_group)[:3] == ["self", "log_group_name", "tags"]
    assert _parameters(LogsBackend.create_log_stream) == ["self", "log_group_name", "log_stream_name"]
    assert _parameters(LogStream.put_log_events) == ["self", "log_events"]


def test_persistence_round_trips_s3_dynamodb_and_logs_through_the_journal(aws_env, write_hooks, tmp_path):
    from infra.localcloud.persistence.capture import Capture
    from infra.localcloud.persistence.journal import Journal
    from infra.localcloud.persistence.restore import fold

    journal = Journal(tmp_path)
    capture = Capture(journal)
    write_hooks(capture)

    class Scoped:
        """A client whose every call is one request, journaled once moto has answered (as apiserver.py does)."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Callable[..., Any]:
            def call(**kwargs: Any) -> Any:
                capture.begin()
                try:
                    return getattr(self._client, name)(**kwargs)
                finally:
                    capture.commit()
            return call

    with mock_aws():
        s3, ddb, logs = (Scoped(boto3.client(service)) for service in ("s3", "dynamodb", "logs"))
        s3.create_bucket(Bucket="seam-bucket")
        s3.put_bucket_versioning(Bucket="seam-bucket", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="seam-bucket", Key="k", Body=b"one", Metadata={"m": "1"})["VersionId"]
        second = s3.put_object(Bucket="seam-bucket", Key="k", Body=b"two")["VersionId"]
        s3.put_object(Bucket="seam-bucket", Key="gone", Body=b"x")
        s3.delete_object(Bucket="seam-bucket", Key="gone")  # a delete marker
        ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        ddb.update_item(TableName="t", Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :n",
                        ExpressionAttributeValues={":n": {"N": "2"}})
        ddb.put_item(TableName="t", Item={"pk": {"S": "b"}})
        ddb.delete_item(TableName="t", Key={"pk": {"S": "b"}})
        logs.create_log_group(logGroupName="g")
        logs.put_retention_policy(logGroupName="g", retentionInDays=7)
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": "hi"}])
    state = fold(journal)

    with mock_aws():
        motoseam.load_s3(state, journal, ACCOUNT)
        motoseam.load_dynamodb(state, ACCOUNT)
        motoseam.load_logs(state, ACCOUNT)
        s3, ddb, logs = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("logs")
        versions = s3.list_object_versions(Bucket="seam-bucket")
        assert {v["VersionId"] for v in versions["Versions"] if v["Key"] == "k"} == {first, second}
        assert s3.get_object(Bucket="seam-bucket", Key="k", VersionId=first)["Metadata"] == {"m": "1"}
        assert s3.get_object(Bucket="seam-bucket", Key="k")["Body"].read() == b"two"
        assert [m["Key"] for m in versions.get("DeleteMarkers", [])] == ["gone"]
        assert ddb.scan(TableName="t")["Items"] == [{"pk": {"S": "a"}, "n": {"N": "2"}}]
        assert logs.describe_log_groups(logGroupNamePrefix="g")["logGroups"][0]["retentionInDays"] == 7
        assert [e["message"] for e in logs.get_log_events(logGroupName="g", logStreamName="s")["events"]] == ["hi"]
    journal.close()


# ---- CloudWatch and CloudWatch Logs --------------------------------------------------------------
def test_cloudwatch_names_the_local_cloud_uses_exist():
    # motoseam/cloudwatch.py's MotoMetricStore appends aggregates to the backend's list and replaces the lister.
    from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum

    assert _parameters(MetricAggregatedDatum) == [
        "namespace", "name", "min_stat", "max_stat", "sample_count", "sum_stat", "dimensions", "timestamp", "unit"]
    assert "self.metric_data" in inspect.getsource(CloudWatchBackend.__init__)
    assert _parameters(CloudWatchBackend.get_filtered_metrics) == ["self", "metric_name", "namespace", "dimensions"]
    assert "self.get_filtered_metrics(" in inspect.getsource(CloudWatchBackend.list_metrics)


def test_cloudwatch_metric_data_the_alarms_read():
    from moto.cloudwatch.models import Alarm, CloudWatchBackend, MetricAggregatedDatum, MetricDatum

    # motoseam/cloudwatch.py: a new alarm starts in INSUFFICIENT_DATA and an update keeps the state (moto: OK, always).
    assert _parameters(CloudWatchBackend.put_metric_alarm)[:2] == ["self", "name"]
    assert "self.alarms[name] = alarm" in inspect.getsource(CloudWatchBackend.put_metric_alarm)
    assert all(f"self.{a}" in inspect.getsource(Alarm.__init__)
               for a in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history"))

    datum = MetricAggregatedDatum(namespace="n", name="m", min_stat=1, max_stat=2, sample_count=2, sum_stat=3,
                                  dimensions=[{"Name": "a", "Value": "b"}], timestamp=None, unit="Count")
    assert (datum.min, datum.max, datum.sample_count, datum.sum) == (1, 2, 2, 3)
    assert (datum.dimensions[0].name, datum.dimensions[0].value) == ("a", "b")
    assert "self.value = value" in inspect.getsource(MetricDatum.__init__)
    assert _parameters(CloudWatchBackend.get_all_metrics) == ["self"]


def test_cloudwatch_logs_names_the_retention_uses_exist():
    # persistence journals retention policies by these argument names (motoseam/state.py); logretention.py
    # deletes expired events through these attributes of moto's log groups and streams (motoseam.log_groups).
    from moto.logs.models import LogEvent, LogGroup, LogsBackend, LogStream

    assert _parameters(LogsBackend.put_retention_policy) == ["self", "log_group_name", "retention_in_days"]
    assert _parameters(LogsBackend.delete_retention_policy) == ["self", "log_group_name"]
    for cls, attributes in ((LogGroup, ("retention_in_days", "streams")), (LogStream, ("events", "stored_bytes")),
                            (LogEvent, ("timestamp", "message"))):
        source = inspect.getsource(cls.__init__)
        assert all(f"self.{name}" in source for name in attributes), cls.__name__


def test_cloudwatch_logs_backend_calls_the_log_sink_makes(aws_env):
    from moto.logs.exceptions import ResourceAlreadyExistsException
    from moto.logs.models import LogsBackend, logs_backends

    assert _parameters(LogsBackend.put_log_events) == ["self", "log_group_name", "log_stream_name", "log_events"]
    with mock_aws():
        now = int(time.time() * 1000)
        motoseam.write_log_events(ACCOUNT, REGION, "/aws/lambda/f", "s", [(now, "one")])
        motoseam.write_log_events(ACCOUNT, REGION, "/aws/lambda/f", "s", [(now + 1, "two")])
        events = boto3.client("logs").get_log_events(logGroupName="/aws/lambda/f", logStreamName="s",
                                                     startFromHead=True)["events"]
        assert [e["message"] for e in events] == ["one", "two"]
        with pytest.raises(ResourceAlreadyExistsException):  # the race write_log_events tolerates
            logs_backends[ACCOUNT][REGION].create_log_group("/aws/lambda/f", {})
        groups = motoseam.log_groups(ACCOUNT, REGION)
        assert [g.name for g in groups] == ["/aws/lambda/f"] and list(groups[0].streams) == ["s"]


# ---- SNS and EventBridge -------------------------------------------------------------------------
def test_sns_fans_out_through_subscription_publish():
    # motoseam/sns.py replaces Subscription.publish: moto's delivers synchronously inside Publish (SQS
    # in-process, a bare requests.post, Lambda through Docker); AWS delivers asynchronously.
    from moto.sns.models import Subscription, Topic

    assert _parameters(Subscription.publish) == [
        "self", "message", "message_id", "subject", "message_attributes", "group_id", "deduplication_id",
        "message_structure"]
    assert "subscription.publish(" in inspect.getsource(Topic.publish)
    assert "_parse_message_structure" in dir(Subscription)
    assert "self._filter_policy_matcher" in inspect.getsource(Subscription.__init__)


def test_eventbridge_rules_deliver_through_send_to_targets():
    from moto.events.models import EventPattern, EventsBackend, Rule

    assert _parameters(Rule.send_to_targets) == ["self", "original_event", "transform_input"]
    assert "rule.send_to_targets(event_msg)" in inspect.getsource(EventsBackend.put_events)
    assert hasattr(EventPattern, "dump") and "self.event_pattern = EventPattern.load(" in inspect.getsource(Rule.__init__)
    assert not hasattr(Rule, "__slots__")  # the hook copies a rule through its __dict__


# ---- the seam itself -----------------------------------------------------------------------------
def _guards_named_in_the_seam() -> set[str]:
    names = set()
    for path in SEAM.glob("*.py"):
        names |= set(re.findall(r"tests/unit/test_moto_seam\.py::(\w+)", path.read_text()))
    return names


def test_every_guard_the_seam_names_exists():
    named = _guards_named_in_the_seam()
    here = {name for name, value in globals().items() if name.startswith("test_") and callable(value)}
    assert named and named <= here, sorted(named - here)


def test_every_patch_in_the_seam_says_what_guards_it():
    # A function that patches moto (replace / wrap_after) names its guard, or is called by one that does.
    for path in SEAM.glob("*.py"):
        if path.name == "patching.py":
            continue
        text = path.read_text()
        tree = ast.parse(text)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        for function in functions:
            calls = {c.func.id for c in ast.walk(function) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
            if function.name == "_after" or not calls & {"replace", "_after", "wrap_after"}:
                continue
            callers = [f for f in functions if any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                                                   and c.func.id == function.name for c in ast.walk(f))]
            documented = [ast.get_source_segment(text, f) or "" for f in [function, *callers]]
            assert any("test_moto_seam.py::" in d for d in documented), f"{path.name}: {function.name}"


def _moto_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name == "moto" or a.name.startswith("moto.")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "moto" or node.module.startswith("moto."):
                found.append(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            target = node.args[0].value
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__") and isinstance(target, str) and \
                    (target == "moto" or target.startswith("moto.")):
                found.append(target)
    return found


def test_no_module_outside_the_seam_imports_moto():
    offenders = {}
    for top in ("infra", "layers", "scripts", "console", "functions"):
        for path in (ROOT / top).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if SEAM in path.parents or any(part.startswith(".") or part in ("node_modules", "__pycache__")
                                           for part in relative.parts):
                continue
            imports = _moto_imports(path)
            if imports:
                offenders[str(relative)] = imports
    assert offenders == {}, f"import moto only in infra/localcloud/motoseam/: {offenders}"


def test_the_check_sees_every_way_of_importing_moto(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import moto\nfrom moto.s3 import models\nimport importlib\n"
                      "def f():\n    from moto.core import exceptions\n    importlib.import_module('moto.sns')\n"
                      "import motorway\nfrom .moto import x\n")
    assert _moto_imports(sample) == ["moto", "moto.s3", "moto.core", "moto.sns"]


def test_importing_the_seam_or_the_cloud_does_not_import_moto():
    # moto reads settings from the environment when imported; the cloud sets them first (motoseam.use_port).
    code = ("import sys\nimport infra.localcloud.motoseam, infra.localcloud.server, infra.localcloud.cli\n"
            "import infra.localcloud.persistence, infra.localcloud.emf\n"
            "print(sorted(m for m in sys.modules if m == 'moto' or m.startswith('moto.')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PYTHONPATH": f"{ROOT}:{ROOT / 'layers/selfheal/python'}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
