"""A log group's retention survives a restart, and the restart deletes the events past it.

The real persistence code in-process: the capture hooks journal what the CloudWatch Logs API
acknowledges, and a new moto (the restarted cloud) is restored from the same data directory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from infra.localcloud.persistence import Persistence

ACCOUNT, REGION = "123456789012", "us-east-1"
DAY_S = 86_400
KEPT_3_DAYS, NO_POLICY, POLICY_REMOVED = "/aws/lambda/kept-3-days", "/aws/lambda/no-policy", "/aws/lambda/removed"


@contextmanager
def _cloud(data: Path, clock: Callable[[], float] = time.time) -> Iterator[Any]:
    """One run of the cloud's persistence: a fresh moto, restored from `data`, journaling into it."""
    with mock_aws():
        persistence = Persistence(data, clock=clock)
        persistence.restore_data(ACCOUNT)
        try:
            yield boto3.client("logs", region_name=REGION)
        finally:
            persistence.close()


def _messages(logs: Any, group: str) -> list[str]:
    return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]


def _retention(logs: Any, group: str) -> int | None:
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return next(g.get("retentionInDays") for g in described if g["logGroupName"] == group)


def _write(logs: Any, group: str, *events: tuple[float, str]) -> None:
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = time.time()
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": int((now - days * DAY_S) * 1000), "message": message} for days, message in events])


def test_restart_deletes_events_past_the_retention_and_keeps_the_policy(aws_env: None, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _cloud(data) as logs:
        _write(logs, KEPT_3_DAYS, (5, "five days old"), (1 / 24, "an hour old"))
        logs.put_retention_policy(logGroupName=KEPT_3_DAYS, retentionInDays=3)
        _write(logs, NO_POLICY, (10, "ten days old, no policy"))
        _write(logs, POLICY_REMOVED, (5, "five days old, policy removed"))
        logs.put_retention_policy(logGroupName=POLICY_REMOVED, retentionInDays=1)
        logs.delete_retention_policy(logGroupName=POLICY_REMOVED)

    with _cloud(data) as logs:
        assert _messages(logs, KEPT_3_DAYS) == ["an hour old"]
        assert _retention(logs, KEPT_3_DAYS) == 3
        assert _messages(logs, NO_POLICY) == ["ten days old, no policy"]
        assert _messages(logs, POLICY_REMOVED) == ["five days old, policy removed"]
        assert _retention(logs, POLICY_REMOVED) is None
    # The restart's compaction removed the expired event from the data directory as well.
    journal = (data / "journal.jsonl").read_text()
    assert "five days old\"" not in journal and "an hour old" in journal

    # Three days later, the event that was an hour old has expired too; the stream stays (as on AWS).
    with _cloud(data, clock=lambda: time.time() + 3 * DAY_S) as logs:
        assert _messages(logs, KEPT_3_DAYS) == []
        streams = logs.describe_log_streams(logGroupName=KEPT_3_DAYS)["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["s"]
        assert _retention(logs, KEPT_3_DAYS) == 3
