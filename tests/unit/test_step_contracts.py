"""The state machine and the step contracts (selfheal.contracts) agree.

Every Task state invokes its function the same way (the function ARN, an event built by Parameters);
the event each state builds parses as that function's request class; every JSONPath the ASL reads
from a step's result names a field of that step's result type; and the execution input carries the
lock owner that the Finish states release.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from selfheal import contracts as c
from selfheal.exceptions import StepInputError

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "state_machines" / "self_healing.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]
TASKS = {name: s for name, s in STATES.items() if s["Type"] == "Task"}

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:SelfHealing:drift-20261203T120000-abcd1234"

# What each Task state's function parses its event with.
PARSERS = {
    "FixData": c.FixRequest.from_event,
    "Quarantine": c.QuarantineRequest.from_event,
    "Train": c.TrainRequest.from_event,
    "Validate": c.ValidateRequest.from_event,
    "RecordRejection": c.RejectRequest.from_event,
    "Promote": c.PromoteRequest.from_event,
    "SmokeTest": c.recover_event,
    "Rollback": c.RollbackRequest.from_event,
    "Finish": c.FinishRequest.from_event,
    "ReleaseAfterFailure": c.FinishRequest.from_event,
}
# The type of what each ResultPath receives.
RESULTS = {
    "$.fix": c.FixResult, "$.quarantine": c.QuarantineResult, "$.train": c.TrainResult,
    "$.validation": c.ValidateResult, "$.rejection": c.RejectResult, "$.promotion": c.PromoteResult,
    "$.smoke": c.HealthResult, "$.rollback": c.RollbackResult, "$.finish": c.FinishResult,
}


def resolve(path: str, state: dict[str, Any]) -> Any:
    """The JSONPath subset the ASL uses: ``$``, ``$.a.b`` and the context object's ``$$.Execution.Id``."""
    if path == "$$.Execution.Id":
        return EXECUTION_ARN
    assert path.startswith("$"), path
    value: Any = state
    for part in [p for p in path[1:].split(".") if p]:
        assert isinstance(value, dict) and part in value, f"{path}: no {part!r} in the state"
        value = value[part]
    return value


def build(parameters: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return {k.removesuffix(".$"): resolve(v, state) if k.endswith(".$") else v for k, v in parameters.items()}


def sample_state() -> dict[str, Any]:
    """A state as it is after SmokeTest, built from the contracts' own types."""
    name = EXECUTION_ARN.rsplit(":", 1)[-1]
    execution = c.ExecutionInput(trigger=c.Trigger.DRIFT, batches=[{"bucket": "data", "key": "incoming/a.csv"}],
                                 include_reference=True, lock_owner=name).to_dict()
    fix: c.FixResult = {"training_key": "curated/x/training.csv", "schema_key": "curated/x/schema.json", "rows": 10,
                        "batches": [], "quarantined": [],
                        "fingerprint": "f00d"}
    train: c.TrainResult = {"version": "v0002", "metrics": {"rmse": 0.5}, "parity": 1e-6,
                            "holdout_key": "holdouts/m/v0002.csv", "parent_version": "v0001"}
    validation: c.ValidateResult = {"passed": True, "version": "v0002", "metrics": {}, "checks": [], "reasons": [],
                                    "champion": {}}
    smoke: c.HealthResult = {"healthy": False, "reason": "predict answered 500", "failure": "bad_status",
                             "alias_version": "v0002", "served_version": None, "prediction": None, "latency_ms": 3.0}
    error = {"Error": "DataQualityError", "Cause": json.dumps({"errorMessage": "no usable batch"})}
    return {**execution, "fix": fix, "train": train, "validation": validation, "smoke": smoke, "error": error,
            "rollback": {"version": "v0001", "from_version": "v0002", "reference": {}}}


def test_every_task_state_invokes_its_function_directly_and_no_handler_unwraps_a_payload():
    assert set(TASKS) == set(PARSERS), "a Task state without a contract here"
    for name, state in TASKS.items():
        assert re.fullmatch(r"\$\{\w+FunctionArn\}", state["Resource"]), f"{name}: {state['Resource']}"
        assert "ResultSelector" not in state and "Payload" not in json.dumps(state), name
    for app in (ROOT / "functions").glob("*/app.py"):
        text = app.read_text()
        assert '"Payload"' not in text and 'get("input"' not in text, f"{app} unwraps its event"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_the_event_each_state_builds_parses_as_its_functions_request(name):
    event = build(TASKS[name]["Parameters"], sample_state())
    request = PARSERS[name](event)
    assert getattr(request, "execution_arn", EXECUTION_ARN) == EXECUTION_ARN


def test_the_actions_named_in_the_asl_are_the_functions_actions():
    actions = {n: s["Parameters"].get("action") for n, s in TASKS.items() if "action" in s["Parameters"]}
    assert {a for n, a in actions.items() if n in ("FixData", "Quarantine")} == set(c.FixAction)
    assert {a for n, a in actions.items() if n not in ("FixData", "Quarantine")} == set(c.PromoteAction)
    assert TASKS["SmokeTest"]["Parameters"]["mode"] == c.RecoverMode.SMOKE_TEST


def test_every_path_read_from_a_step_result_is_a_field_of_that_steps_result_type():
    text = json.dumps(ASL)
    reads = set(re.findall(r'"(\$\.(?:fix|quarantine|train|validation|rejection|promotion|smoke|rollback|finish)'
                           r'\.\w+)"', text))
    assert reads, "the ASL reads no step result?"
    for path in sorted(reads):
        prefix, field = path.rsplit(".", 1)
        assert field in get_type_hints(RESULTS[prefix]), f"{path}: {RESULTS[prefix].__name__} has no {field!r}"
    result_paths = {s.get("ResultPath") for s in TASKS.values()} - {"$.error", None}
    assert result_paths <= set(RESULTS), result_paths - set(RESULTS)


def test_finish_releases_the_lock_the_execution_input_names():
    for name in ("Finish", "ReleaseAfterFailure"):
        request = c.FinishRequest.from_event(build(TASKS[name]["Parameters"], sample_state()))
        assert request.lock_owner == EXECUTION_ARN.rsplit(":", 1)[-1]
        assert request.outcome == (c.Outcome.SUCCEEDED if name == "Finish" else c.Outcome.FAILED)
        assert request.error == c.StepError("DataQualityError", json.dumps({"errorMessage": "no usable batch"}))
    # The bootstrap holds no lock, and releases none.
    bootstrap = c.ExecutionInput(trigger=c.Trigger.BOOTSTRAP, batches=[]).to_dict()
    assert c.FinishRequest.from_event({"outcome": "succeeded", "state": bootstrap}).lock_owner is None


@pytest.mark.parametrize(("parse", "event", "names"), [
    (c.TrainRequest.from_event, {"execution_arn": EXECUTION_ARN}, "missing field 'training_key'"),
    (c.ValidateRequest.from_event, {"version": 2, "holdout_key": "h"}, "field 'version' must be str, got int"),
    (c.ExecutionInput.from_event, {"batches": [{"bucket": "b"}]}, "batches[0] must be an object"),
    (c.ExecutionInput.from_event, {"include_reference": "yes"}, "field 'include_reference' must be bool"),
    (c.ExecutionInput.from_event, [], "must be a JSON object"),
    (c.QuarantineRequest.from_event, {"state": {"batches": []}}, "missing field 'error'"),
    (c.FinishRequest.from_event, {"outcome": "maybe"}, "outcome must be one of"),
    (c.recover_event, {"mode": "verify"}, "unknown mode 'verify'"),
    (c.recover_event, {"mode": "smoke_test"}, "missing field 'expected_version'"),
    (c.MonitorEvent.from_event, {"mode": "hourly"}, "unknown mode 'hourly'"),
    (c.PromoteRequest.from_event, {"version": True}, "field 'version' must be str, got bool"),
])
def test_a_malformed_event_is_refused_naming_the_field(parse, event, names):
    with pytest.raises(StepInputError) as err:
        parse(event)
    assert names in str(err.value)


def test_the_schedules_send_the_declared_event_types():
    template = (ROOT / "template.yaml").read_text()
    inputs = re.findall(r"Input: '(\{.*\})'", template)
    assert sorted(json.loads(i)["mode"] for i in inputs) == ["drain", "scheduled", "scheduled"]
    assert c.DrainEvent.matches({"mode": "drain"})
    assert isinstance(c.recover_event({"mode": "scheduled"}), c.HealthCheckEvent)
    assert c.MonitorEvent.from_event({"mode": "scheduled"}).mode is c.MonitorMode.SCHEDULED


@pytest.mark.parametrize(("file", "parse"), [
    ("fix_data.json", c.FixRequest.from_event), ("train.json", c.TrainRequest.from_event),
    ("promote_rollback.json", c.RollbackRequest.from_event), ("recover_scheduled.json", c.recover_event),
])
def test_the_committed_sample_events_follow_the_contracts(file, parse):
    parse(json.loads((ROOT / "events" / file).read_text()))
