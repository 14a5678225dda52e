"""Step Functions: execution names, definite JSONPaths, and execution status-change events.

(Executions across restarts, and RedriveExecution, are persistence's: see state.py.)
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.ext import parse as parse_json_path
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from ..messaging.eventbus import ExecutionSnapshot
from .patching import is_patched, replace

_FIX = "_localcloud_sfn_fix"
_HOOK = "_localcloud_hook"

OnExecution = Callable[[ExecutionSnapshot], None]


# ---- fixes -----------------------------------------------------------------------------------------
def install_execution_names() -> None:
    """StartExecution without a name names the execution with a UUID.

    AWS: "If you don't provide a name for the execution, Step Functions automatically generates a
    universally unique identifier (UUID)"; moto's interpreter backend uses the literal "None".
    Guarded by tests/unit/test_moto_seam.py::test_step_functions_parser_backend_start_execution_signature.
    """
    original = StepFunctionsParserBackend.start_execution
    if is_patched(original, _FIX):
        return

    @functools.wraps(original)
    def start_execution(self: Any, state_machine_arn: str, name: str | None = None, execution_input: Any = None,
                        trace_header: Any = None) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    replace(StepFunctionsParserBackend, "start_execution", start_execution, mark=_FIX)


# A JSONPath is "indefinite" (always yields a list on AWS) when it has a wildcard, slice, filter,
# union or deep scan; any other path yields the single value it names.
_INDEFINITE = re.compile(r"\[\s*(\*|-?\d*\s*:|\?|'[^']*'\s*,|\d+\s*,)|\.\.|\.\*")
_moto_extract_json = json_path.extract_json
# The interpreter modules that import extract_json by name (each holds its own reference).
MODULES_USING_EXTRACT_JSON = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.eval.states",
)


def extract_json(path: str, data: Any) -> Any:
    """A JSONPath's value in `data`, as AWS's interpreter reads it.

    AWS: "$.squares[0].square" is a definite path and yields 16. moto 5.2.5 yields [16] for any path
    through an array index (its fix for getmoto/moto#7825), which silently breaks Choice rules.
    Guarded by tests/unit/test_moto_seam.py::test_step_functions_interpreter_reads_json_paths_through_extract_json.
    """
    if _INDEFINITE.search(path):
        return _moto_extract_json(path, data)
    matches = parse_json_path(path).find(data)
    if not matches:
        return _moto_extract_json(path, data)  # raises moto's NoSuchJsonPathError, as before
    return matches[0].value


def install_json_paths() -> None:
    """The interpreter reads definite JSONPaths as single values (see `extract_json`).

    Replaces ``json_path.extract_json`` and each interpreter module's own reference to it. Guarded by
    tests/unit/test_moto_seam.py::test_step_functions_interpreter_reads_json_paths_through_extract_json.
    """
    replace(json_path, "extract_json", extract_json, mark=_FIX)
    for name in MODULES_USING_EXTRACT_JSON:
        module = importlib.import_module(name)
        if getattr(module, "extract_json", None) is _moto_extract_json:
            replace(module, "extract_json", extract_json, mark=_FIX)


# ---- execution status-change events ----------------------------------------------------------------
class _Sink:
    """Where the status-change hooks report: the running cloud's event emitter (set by every install)."""

    on_execution: OnExecution | None = None


_sink = _Sink()


def _millis(moment: Any) -> int | None:
    if not isinstance(moment, datetime):
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def snapshot(execution: Any) -> ExecutionSnapshot:
    """An execution's status-change view (the parser's Execution, or the redriven subclass).

    Reads moto's Execution fields. Guarded by
    tests/unit/test_moto_seam.py::test_every_execution_ending_passes_through_terminated.
    """
    status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
    return ExecutionSnapshot(
        execution_arn=execution.execution_arn, state_machine_arn=execution.state_machine_arn, name=execution.name,
        status=status, start_ms=_millis(execution.start_date), stop_ms=_millis(execution.stop_date),
        input=_text(execution.execution_input), output=_text(execution.output) if status == "SUCCEEDED" else None,
        error=execution.error, cause=execution.cause, redrive_count=int(getattr(execution, "redrive_count", 0)))


def _standard(execution: Any) -> bool:
    # AWS emits execution status changes for Standard workflows only, not Express ones.
    return "EXPRESS" not in str(getattr(execution, "sm_type", "STANDARD"))


def _install_status_events() -> None:
    original_start = Execution.start
    original_terminated = BaseExecutionWorkerCommunication.terminated

    @functools.wraps(original_start)
    def start(self: Execution) -> None:
        # Reported before the run starts: a short run could otherwise end before it is reported started.
        if self.exec_worker is None and _standard(self) and _sink.on_execution is not None:
            _sink.on_execution(snapshot(self))
        original_start(self)

    @functools.wraps(original_terminated)
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original_terminated(self)
        if _standard(self.execution) and _sink.on_execution is not None:
            _sink.on_execution(snapshot(self.execution))

    replace(Execution, "start", start, mark=_HOOK)
    replace(BaseExecutionWorkerCommunication, "terminated", terminated, mark=_HOOK)


def install_status_events(on_execution: OnExecution) -> None:
    """Report the start and the end of every Standard execution to `on_execution`.

    AWS emits "Step Functions Execution Status Change" events; moto emits none. Every ending passes
    through ``BaseExecutionWorkerCommunication.terminated``, every start through ``Execution.start``.
    Guarded by tests/unit/test_moto_seam.py::test_every_execution_ending_passes_through_terminated.
    """
    _sink.on_execution = on_execution
    if not is_patched(BaseExecutionWorkerCommunication.terminated, _HOOK):
        _install_status_events()


#: The moto attributes `install_status_events` replaces (a test that installs it restores them).
HOOKED: tuple[tuple[type, str], ...] = ((Execution, "start"), (BaseExecutionWorkerCommunication, "terminated"))
