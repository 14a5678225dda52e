"""CloudWatch Logs: the log groups the retention sweeper expires, and the log sink's writes."""

from __future__ import annotations

from typing import Any

from moto.logs.exceptions import ResourceAlreadyExistsException
from moto.logs.models import logs_backends


def log_groups(account_id: str, region: str) -> list[Any]:
    """moto's log groups of a region, as objects with ``retention_in_days`` and ``streams``.

    AWS deletes events past a group's retention; moto keeps them, so logretention.py deletes them from
    these objects' streams (``events``, ``stored_bytes``). Guarded by
    tests/unit/test_moto_seam.py::test_cloudwatch_logs_names_the_retention_uses_exist.
    """
    return list(logs_backends[account_id][region].groups.values())


def write_events(account_id: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """Append `events` (timestamp ms, message) to a log stream, creating the group and stream if needed.

    What Lambda does with its functions' output on AWS; here the log sink writes into moto's backend
    in-process, not through the API. Guarded by
    tests/unit/test_moto_seam.py::test_cloudwatch_logs_backend_calls_the_log_sink_makes.
    """
    backend = logs_backends[account_id][region]
    if group not in backend.groups:
        try:
            backend.create_log_group(group, {})
        except ResourceAlreadyExistsException:
            pass  # created by another flush thread in between: what we wanted
    if stream not in backend.groups[group].streams:
        try:
            backend.create_log_stream(group, stream)
        except ResourceAlreadyExistsException:
            pass  # same race as above
    backend.put_log_events(group, stream, [{"timestamp": ts, "message": msg} for ts, msg in events])
