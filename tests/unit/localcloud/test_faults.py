"""Fault rules: validation with errors naming the field, matching, counts."""

from __future__ import annotations

import pytest

from infra.localcloud.faults import FaultInjector, FaultSpecError


@pytest.mark.parametrize("body,field", [
    ({"fault": "error"}, "function"),
    ({"function": "F", "fault": "explode"}, "fault"),
    ({"function": "F", "fault": "error", "count": 0}, "count"),
    ({"function": "F", "fault": "error", "probability": 2}, "probability"),
    ({"function": "F", "fault": "delay"}, "delay_ms"),
    ({"function": "F", "fault": "crash_after_call"}, "path_contains"),
    ({"function": "F", "fault": "error", "colour": "red"}, "colour"),
    ([], "object"),
])
def test_bad_rules_are_refused_naming_the_problem(body, field):
    with pytest.raises(FaultSpecError, match=field):
        FaultInjector().add(body)


def test_rules_match_names_and_logical_ids_and_run_out():
    faults = FaultInjector()
    faults.add({"function": "TrainFunction", "fault": "error", "count": 2})
    assert faults.for_invocation("selfheal-PromoteFunction-ABC") is None
    assert faults.for_invocation("selfheal-TrainFunction-ABC") is not None
    assert faults.for_invocation("selfheal-TrainFunction-ABC") is not None
    assert faults.for_invocation("selfheal-TrainFunction-ABC") is None
    assert faults.rules()[0]["fired"] == 2


def test_crash_after_call_matches_method_and_path():
    faults = FaultInjector()
    faults.add({"function": "Promote", "fault": "crash_after_call", "method": "PUT", "path_contains": "production.json"})
    def names() -> list[str]:
        return ["s-Train-1", "s-Promote-2"]

    assert faults.after_call(names, "GET", "/b/models/aliases/production.json") == []
    assert faults.after_call(names, "PUT", "/b/models/v0001/model.onnx") == []
    fired = faults.after_call(names, "PUT", "/b/models/aliases/production.json")
    assert [name for name, _ in fired] == ["s-Promote-2"]
    assert faults.clear() == 1 and faults.rules() == []
