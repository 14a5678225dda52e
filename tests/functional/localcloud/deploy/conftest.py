"""A moto server on a free port, and the deploy_app fixture deployed into it once per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from infra.localcloud.deploy import StackResult, deploy

from .support import FIXTURE_APP, Cloud


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    # One server per module: moto's backends are process-global, and other functional tests
    # reset them when they start their own in-process mocks.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Cloud(f"http://{host}:{port}")
    finally:
        server.stop()


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    """A private copy of deploy_app that a test may edit; returns its template path."""
    target = tmp_path / "deploy_app"
    shutil.copytree(FIXTURE_APP, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "template.yaml"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("localcloud-state")


@pytest.fixture(scope="module")
def stack(cloud: Cloud, state_dir: Path) -> StackResult:
    """deploy_app deployed as stack `fixture` with default parameters."""
    return deploy(
        FIXTURE_APP / "template.yaml",
        endpoint_url=cloud.endpoint_url,
        stack_name="fixture",
        state_dir=state_dir,
    )
