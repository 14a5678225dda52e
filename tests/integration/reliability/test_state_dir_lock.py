"""Two clouds, one data directory: the second refuses, and nothing the first acknowledged is lost.

The reproduction from the field: `make up` is running, a second `make up` on other ports (as the
port-in-use message advised) opened the same `.localcloud/data`, compacted the journal under the
first cloud and overwrote its endpoints.json; after a restart an acknowledged object was gone.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from infra.localcloud.cli import free_port
from tests.integration.conftest import FIXTURE_APP, ROOT, start_cloud, stop_cloud

pytestmark = pytest.mark.integration


def test_a_second_cloud_on_the_same_state_dir_refuses_and_loses_nothing(tmp_path):
    first = start_cloud(tmp_path, FIXTURE_APP, stack_name="lock")
    try:
        s3 = first.client("s3")
        bucket = first.output("BucketName")
        s3.put_object(Bucket=bucket, Key="before.csv", Body=b"acknowledged before\n")
        journal = first.state_dir / "data" / "journal.jsonl"
        inode = journal.stat().st_ino
        endpoints = (first.state_dir / "endpoints.json").read_text()

        second = subprocess.run(
            [sys.executable, "-m", "infra.localcloud.cli", "up", "--template", str(FIXTURE_APP),
             "--port", str(free_port()), "--api-port", str(free_port()), "--state-dir", str(first.state_dir),
             "--stack-name", "lock"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        message = second.stderr.strip().splitlines()[-1]
        assert f"pid {first.proc.pid}" in message
        assert f"port {first.endpoint_url.rsplit(':', 1)[1]}" in message
        assert "STATE=" in message
        assert "Traceback" not in second.stderr

        # The refused cloud touched nothing: same journal file, same endpoints.json, first cloud serving.
        assert journal.stat().st_ino == inode
        assert (first.state_dir / "endpoints.json").read_text() == endpoints
        s3.put_object(Bucket=bucket, Key="after.csv", Body=b"acknowledged after the refusal\n")
    finally:
        stop_cloud(first)
    assert json.loads(endpoints)["pid"] == first.proc.pid

    again = start_cloud(tmp_path, FIXTURE_APP, stack_name="lock")
    try:
        s3 = again.client("s3")
        for key in ("before.csv", "after.csv"):
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().startswith(b"acknowledged")
    finally:
        stop_cloud(again)
