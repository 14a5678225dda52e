"""Packaging checks that need `sam build` output or fresh virtual environments (make package-check).

`make test` skips them with the reason; `.ci/run` sets PACKAGING_CHECKS=1, so there a missing build
is a failure, not a skip.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
FRESH_DIR = ROOT / ".aws-sam" / "fresh"


def required() -> bool:
    return os.environ.get("PACKAGING_CHECKS") == "1"


@pytest.fixture(scope="session")
def build_dir() -> Path:
    if not (BUILD_DIR / "template.yaml").is_file():
        if required():
            pytest.fail(f"no sam build output in {BUILD_DIR}: run make sam-build")
        pytest.skip("no sam build output (.aws-sam/build): run make package-check")
    return BUILD_DIR


@pytest.fixture(scope="session")
def fresh_dir() -> Path:
    if not required():
        pytest.skip("fresh-environment checks install full requirement sets: run make package-check")
    return FRESH_DIR
