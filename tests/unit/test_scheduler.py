"""Schedule expressions as EventBridge reads them, and the firing loop with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.localcloud.scheduler import Cron, ScheduleError, Scheduler, rate_seconds


def test_rate_expressions():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(1 day)") == 86400
    assert rate_seconds("cron(0 12 * * ? *)") is None
    with pytest.raises(ScheduleError):
        rate_seconds("rate(5 minute)")  # AWS requires the plural for values above 1


def test_cron_next_after_follows_aws_fields():
    noon_daily = Cron.parse("cron(0 12 * * ? *)")
    assert noon_daily.next_after(datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    every_15_weekdays = Cron.parse("cron(0/15 9-17 ? * MON-FRI *)")
    # 2026-11-28 is a Saturday: the next run is Monday 09:00.
    assert every_15_weekdays.next_after(datetime(2026, 11, 27, 17, 50, tzinfo=UTC)) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with pytest.raises(ScheduleError):
        Cron.parse("cron(0 12 L * ? *)")  # L/W/# are not supported locally, and say so


class FakeEvents:
    def __init__(self, rules):
        self.rules = rules

    def get_paginator(self, name):
        rules = self.rules

        class P:
            def paginate(self):
                return [{"Rules": rules}]

        return P()

    def list_targets_by_rule(self, Rule):
        return {"Targets": [{"Id": "1", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:tick"}]}


def test_scheduler_fires_rate_rules_with_speedup_and_skips_disabled_rules():
    now = [1000.0]
    fired = []
    rules = [
        {"Name": "every", "Arn": "arn:aws:events:us-east-1:123456789012:rule/every", "ScheduleExpression": "rate(1 minute)", "State": "ENABLED"},
        {"Name": "off", "Arn": "arn:aws:events:us-east-1:123456789012:rule/off", "ScheduleExpression": "rate(1 minute)", "State": "DISABLED"},
    ]
    s = Scheduler(FakeEvents(rules), lambda arn, payload, source: fired.append((arn, source)), account_id="123456789012",
                  region="us-east-1", speedup=60, clock=lambda: now[0])
    assert s.reload() == 1
    s.tick()
    assert fired == []
    now[0] += 1.0  # rate(1 minute) / 60
    s.tick()
    assert fired == [("arn:aws:lambda:us-east-1:123456789012:function:tick", "events:schedule")]
    now[0] += 1.0
    s.tick()
    assert len(fired) == 2
