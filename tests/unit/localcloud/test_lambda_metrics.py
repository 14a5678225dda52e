"""AWS/Lambda metrics per invocation: which dimension sets, which values, and the runtime's hook."""

from __future__ import annotations

from pathlib import Path

from infra.localcloud.lambdametrics import Invocation, LambdaMetrics, datapoints, dimension_sets
from infra.localcloud.runtime.spec import FunctionSpec
from infra.localcloud.runtime.worker import InvokeResult

FN = "arn:aws:lambda:us-east-1:123456789012:function:predict"
SPEC = FunctionSpec(name="predict", arn=f"{FN}:7", handler="app.handler", runtime="python3.11", timeout=3,
                    memory_mb=128, environment={}, code_dir=Path("."), version="7")


def test_dimension_sets_follow_how_the_function_was_invoked():
    name = (("FunctionName", "predict"),)
    assert dimension_sets(Invocation("predict", FN, "$LATEST", 0)) == [name]
    assert dimension_sets(Invocation("predict", f"{FN}:$LATEST", "$LATEST", 0)) == [name]
    assert dimension_sets(Invocation("predict", f"{FN}:7", "7", 0)) == [name, (*name, ("Resource", "predict:7"))]
    live = (*name, ("Resource", "predict:live"))
    assert dimension_sets(Invocation("predict", f"{FN}:live", "7", 0)) == [name, live, (*live, ("ExecutedVersion", "7"))]


def test_an_invocation_counts_invocations_errors_and_duration():
    points = datapoints(Invocation("predict", FN, "$LATEST", 1_000, duration_ms=12.5, error=True))
    assert {(p.name, p.unit, p.values) for p in points} == {
        ("Invocations", "Count", (1.0,)), ("Errors", "Count", (1.0,)), ("Duration", "Milliseconds", (12.5,))}
    assert all(p.namespace == "AWS/Lambda" and p.timestamp_ms == 1_000 and p.storage_resolution == 1 for p in points)
    ok = datapoints(Invocation("predict", FN, "$LATEST", 1_000, duration_ms=3))
    assert [p.values for p in ok if p.name == "Errors"] == [(0.0,)]  # AWS reports 0 errors, not nothing


def test_a_throttle_is_a_throttle_and_no_invocation():
    points = datapoints(Invocation("predict", f"{FN}:live", "7", 1_000, throttled=True))
    assert {p.name for p in points} == {"Throttles"} and len(points) == 3


def test_the_runtime_observer_stores_the_datapoints():
    stored = []

    class Store:
        def put(self, points):
            stored.extend(points)

    metrics = LambdaMetrics(Store(), clock=lambda: 1_767_268_800.25)
    result = InvokeResult(request_id="r", payload=b'{"errorType": "ValueError"}', function_error="Unhandled",
                          logs="", duration_ms=40.0, init_ms=None, worker_pid=1, max_memory_mb=60)
    metrics(SPEC, f"{FN}:live", result)
    errors = [p for p in stored if p.name == "Errors"]
    assert [dict(p.dimensions).get("Resource") for p in errors] == [None, "predict:live", "predict:live"]
    assert all(p.values == (1.0,) and p.timestamp_ms == 1_767_268_800_250 for p in errors)
    metrics(SPEC, f"{FN}:live", None)
    assert [p.name for p in stored[-3:]] == ["Throttles"] * 3
