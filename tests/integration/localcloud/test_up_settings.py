"""`make up` settings: a bad REFERENCE or parameter fails before anything starts; PARAMS are remembered."""

from __future__ import annotations

import os
import subprocess

import pytest

from infra.localcloud.cli import free_port
from tests.integration.conftest import FIXTURE_APP, ROOT, start_cloud, stop_cloud

pytestmark = pytest.mark.integration


def _make_up(tmp_path, *variables: str) -> subprocess.CompletedProcess[str]:
    state = tmp_path / "state"
    return subprocess.run(["make", "-s", "--no-print-directory", "up", f"STATE={state}", f"PORT={free_port()}",
                           f"API_PORT={free_port()}", *variables], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "LOCALCLOUD_ENDPOINTS"})


@pytest.mark.parametrize("reference,problem", [
    ("/nonexistent/houses.csv", "no such file: /nonexistent/houses.csv"),
    ("layers", "layers is a directory"),
])
def test_a_missing_reference_fails_before_anything_starts(tmp_path, reference, problem):
    done = _make_up(tmp_path, f"REFERENCE={reference}")
    assert done.returncode != 0
    assert problem in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "state").exists()  # no cloud started, nothing written


@pytest.mark.parametrize("override,problem", [
    ("MinR2=1.5", "parameter MinR2 must be <= 1"),
    ("CooldownHours=-1", "parameter CooldownHours must be >= 0"),
    ("RecoverSchedule=every-5-minutes", "parameter RecoverSchedule must match pattern"),
])
def test_a_parameter_out_of_range_fails_before_anything_starts(tmp_path, override, problem):
    done = _make_up(tmp_path, f"PARAMS={override}")
    assert done.returncode != 0
    assert problem in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "endpoints.json").exists()


def _parameters(cloud) -> dict[str, str]:
    return cloud.info["stack"]["parameters"]


def test_parameter_overrides_are_remembered_until_overridden_or_reset(tmp_path):
    first = start_cloud(tmp_path, FIXTURE_APP, extra=["--parameter-overrides", "UploadDelay=3"])
    stop_cloud(first)
    assert _parameters(first)["UploadDelay"] == "3"

    plain = start_cloud(tmp_path, FIXTURE_APP, extra=["--fresh"])  # --fresh empties the data, not the settings
    try:
        assert _parameters(plain)["UploadDelay"] == "3"
        assert "UploadDelay=3 (remembered from an earlier make up)" in plain.terminal()
    finally:
        stop_cloud(plain)

    changed = start_cloud(tmp_path, FIXTURE_APP, extra=["--parameter-overrides", "UploadDelay=1"])
    try:
        assert _parameters(changed)["UploadDelay"] == "1"
        assert "UploadDelay=1 (PARAMS)" in changed.terminal()
    finally:
        stop_cloud(changed)

    reset = start_cloud(tmp_path, FIXTURE_APP, extra=["--reset-parameters"])
    try:
        assert _parameters(reset)["UploadDelay"] == "0"
    finally:
        stop_cloud(reset)
