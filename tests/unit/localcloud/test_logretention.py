"""CloudWatch Logs retention: which events a log group still holds, at restore and while running."""

from __future__ import annotations

from types import SimpleNamespace

from infra.localcloud.logretention import DAY_MS, RetentionSweeper, unexpired
from infra.localcloud.persistence.restore import State, compacted, expire_logs

NOW_MS = 1_780_000_000_000


def _days_ago(days: float) -> int:
    return int(NOW_MS - days * DAY_MS)


def test_events_older_than_the_retention_are_dropped_and_the_rest_kept_in_order():
    events = [[_days_ago(8), "expired"], [_days_ago(7), "exactly seven days"], [_days_ago(1), "recent"]]
    assert unexpired(events, 7, NOW_MS) == [[_days_ago(7), "exactly seven days"], [_days_ago(1), "recent"]]


def test_a_group_without_a_retention_policy_keeps_every_event():
    events = [[_days_ago(4000), "ancient"], [_days_ago(0), "now"]]
    assert unexpired(events, None, NOW_MS) == events


def test_restore_drops_expired_events_of_groups_with_a_policy_and_keeps_their_streams():
    state = State()
    state.logs[("us-east-1", "/aws/lambda/kept-14")] = {
        "old": [[_days_ago(20), "gone"]],
        "mixed": [[_days_ago(15), "gone too"], [_days_ago(2), "stays"]],
    }
    state.logs[("us-east-1", "/aws/lambda/forever")] = {"s": [[_days_ago(900), "stays forever"]]}
    state.retention[("us-east-1", "/aws/lambda/kept-14")] = 14

    assert expire_logs(state, NOW_MS) == 2
    assert state.logs[("us-east-1", "/aws/lambda/kept-14")] == {"old": [], "mixed": [[_days_ago(2), "stays"]]}
    assert state.logs[("us-east-1", "/aws/lambda/forever")] == {"s": [[_days_ago(900), "stays forever"]]}
    groups = [r for r in compacted(state) if r["k"] == "logs.group"]
    assert {r["group"]: r["retention"] for r in groups} == {"/aws/lambda/kept-14": 14, "/aws/lambda/forever": None}


def _stream(*timestamps: int) -> SimpleNamespace:
    events = [SimpleNamespace(timestamp=ts, message=f"m{i}") for i, ts in enumerate(timestamps)]
    return SimpleNamespace(events=events, stored_bytes=sum(len(e.message) for e in events))


def test_the_running_sweep_deletes_expired_events_as_the_clock_moves():
    stream = _stream(_days_ago(3), _days_ago(2), _days_ago(0.5))
    forever = _stream(_days_ago(30))
    groups = [SimpleNamespace(retention_in_days=1, streams={"s": stream}),
              SimpleNamespace(retention_in_days=None, streams={"s": forever})]
    clock = SimpleNamespace(now=NOW_MS / 1000)
    sweeper = RetentionSweeper(lambda: groups, clock=lambda: clock.now)

    assert sweeper.sweep() == 2
    assert [e.message for e in stream.events] == ["m2"] and stream.stored_bytes == 2
    assert sweeper.sweep() == 0
    clock.now += 1 * 86_400  # a day later the last event has expired too
    assert sweeper.sweep() == 1
    assert stream.events == [] and stream.stored_bytes == 0
    assert len(forever.events) == 1
