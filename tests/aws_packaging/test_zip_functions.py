"""The zip functions `sam build` made import with nothing but their build output on the path.

A bare Python 3.11 (`-I -S`: no site-packages at all) gets the function folder and its layer's
python/ folder, as Lambda's /var/task and /opt/python. PredictFunction then serves a prediction
from a model trained and exported here, so Lambda's onnxruntime loads what Train exports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.aws.functions import FunctionPackage, function_packages

from .conftest import ROOT
from .support import Stack, moto_stack, publish_production_model

_INVOKE = """
import json, sys, types
sys.path[:0] = json.loads(sys.argv[1])
import app
event = json.load(sys.stdin)
context = types.SimpleNamespace(function_name="fn", function_version="$LATEST", memory_limit_in_mb=512,
                                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
                                aws_request_id="req-1", get_remaining_time_in_millis=lambda: 300000)
result = app.handler(event, context) if event else None
sys.stdout.write("\\n" + json.dumps({"result": result}) + "\\n")
"""
ZIP_FUNCTIONS = [p for p in function_packages(ROOT / "template.yaml") if p.package_type == "Zip"]


@pytest.fixture(scope="module")
def stack(build_dir: Path) -> Iterator[Stack]:
    with moto_stack() as stack:
        yield stack


def _invoke(package: FunctionPackage, build_dir: Path, stack: Stack, event: object) -> object:
    paths = [str(build_dir / package.logical_id), *(str(build_dir / layer / "python") for layer in package.layers)]
    process = subprocess.run(
        [sys._base_executable, "-I", "-S", "-c", _INVOKE, json.dumps(paths)],  # type: ignore[attr-defined]
        input=json.dumps(event), capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", **stack.environment()}, cwd=build_dir / package.logical_id,
    )
    assert process.returncode == 0, process.stderr[-4000:]
    return json.loads(process.stdout.strip().splitlines()[-1])["result"]


@pytest.mark.parametrize("package", ZIP_FUNCTIONS, ids=lambda p: p.logical_id)
def test_zip_function_cold_starts_from_its_build_output_alone(
    package: FunctionPackage, build_dir: Path, stack: Stack
) -> None:
    assert _invoke(package, build_dir, stack, None) is None


def test_predict_zip_serves_a_model_exported_by_this_environment(build_dir: Path, stack: Stack) -> None:
    version = publish_production_model(stack)
    (predict,) = [p for p in ZIP_FUNCTIONS if p.logical_id == "PredictFunction"]
    event = json.loads((ROOT / "events" / "http_api_predict.json").read_text())

    response = _invoke(predict, build_dir, stack, event)

    assert isinstance(response, dict) and response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["model_version"] == version and 0 < body["prediction"] < 10
