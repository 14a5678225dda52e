"""The pure-Python runtime client (the fallback where awslambdaric does not build), forced on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from infra.localcloud.runtime.pool import LambdaRuntime, RuntimeConfig
from infra.localcloud.runtime.spec import FunctionSpec
from infra.localcloud.runtime.worker import WorkerSettings

pytestmark = pytest.mark.integration
APP = Path(__file__).resolve().parents[2] / "fixtures" / "app"


@pytest.fixture
def runtime():
    lines: list[str] = []
    rt = LambdaRuntime(RuntimeConfig(WorkerSettings(endpoint_url="http://127.0.0.1:9", use_awslambdaric=False)),
                       lambda spec, stream, line: lines.append(line))
    rt.lines = lines  # type: ignore[attr-defined]
    yield rt
    rt.shutdown()


def _spec(tmp_path: Path, handler: str, **kw) -> FunctionSpec:
    code = tmp_path / "code"
    if not code.exists():
        shutil.copytree(APP / "src", code)
    defaults = dict(name="fallback-fn", arn="arn:aws:lambda:us-east-1:123456789012:function:fallback-fn",
                    handler=handler, runtime="python3.11", timeout=5.0, memory_mb=256, environment={"GREETING": "hi"},
                    code_dir=code, layer_dirs=(APP / "layer",), fingerprint=handler)
    defaults.update(kw)
    return FunctionSpec(**defaults)


def test_fallback_client_serves_cold_then_warm_with_a_real_context(runtime, tmp_path):
    spec = _spec(tmp_path, "app.info")
    first = runtime.invoke(spec, b'{"a": 1}')
    second = runtime.invoke(spec, b'{"a": 2}')
    b1, b2 = json.loads(first.payload), json.loads(second.payload)
    assert first.init_ms is not None and second.init_ms is None
    assert b1["pid"] == b2["pid"]
    assert b2["function_name"] == "fallback-fn" and b2["request_id"] == second.request_id
    assert 0 < b2["remaining_ms"] <= 5000
    assert b2["layer"] == 42 and b2["env"]["GREETING"] == "hi"
    assert any("info called with" in line and second.request_id in line for line in runtime.lines)


def test_fallback_client_reports_errors_in_aws_shape(runtime, tmp_path):
    spec = _spec(tmp_path, "app.square")
    res = runtime.invoke(spec, b'{"n": 3, "fail_odd": true}')
    body = json.loads(res.payload)
    assert res.function_error == "Unhandled"
    assert body["errorType"] == "OddNumberError" and body["errorMessage"] == "3 is odd"


def test_fallback_client_import_error_is_an_init_error(runtime, tmp_path):
    spec = _spec(tmp_path, "missing_module.handler")
    res = runtime.invoke(spec, b"{}")
    body = json.loads(res.payload)
    assert res.function_error == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"


def test_idle_environments_are_reclaimed_and_the_next_invoke_is_cold(runtime, tmp_path):
    spec = _spec(tmp_path, "app.info")
    first = runtime.invoke(spec, b"{}")
    pool = runtime.pools()[spec.arn]
    assert pool.reap_idle(3600) == 0  # recently used: kept warm
    assert pool.reap_idle(0) == 1
    again = runtime.invoke(spec, b"{}")
    assert again.init_ms is not None and json.loads(again.payload)["pid"] != json.loads(first.payload)["pid"]


def test_an_injected_crash_kills_even_a_handler_faster_than_the_timer(runtime, tmp_path):
    from infra.localcloud.faults import FaultInjector

    faults = FaultInjector()
    runtime.config.faults = faults
    spec = _spec(tmp_path, "app.square")
    runtime.invoke(spec, b'{"n": 2}')  # warm: the next handler answers in well under a millisecond
    faults.add({"function": spec.name, "fault": "crash", "after_ms": 5000, "count": 1})
    res = runtime.invoke(spec, b'{"n": 2}')
    assert res.function_error == "Unhandled"
    assert json.loads(res.payload)["errorType"] == "Runtime.ExitError"
    assert json.loads(runtime.invoke(spec, b'{"n": 3}').payload) == {"n": 3, "square": 9}
