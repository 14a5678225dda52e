"""CloudWatch metric alarms: datapoints, M out of N, missing data, and the evaluation loop with a fake clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.localcloud.alarms import (
    Aggregate,
    AlarmChange,
    AlarmEvaluator,
    AlarmNotifier,
    AlarmState,
    Datapoint,
    MetricAlarm,
    alarm_event_detail,
    alarm_message,
    alarm_subject,
    datapoints,
    evaluate,
)

T0 = 1_767_268_800.0  # 2026-01-01T12:00:00Z, a multiple of every period used here
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
DIMENSIONS = [{"Name": "FunctionName", "Value": "predict"}, {"Name": "Resource", "Value": "predict:live"}]


def api_alarm(**overrides: Any) -> dict[str, Any]:
    """An alarm as DescribeAlarms returns it (the template's predict errors alarm, with a 10 s period)."""
    alarm = {
        "AlarmName": "predict-errors", "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:predict-errors",
        "AlarmDescription": "errors of predict:live", "ActionsEnabled": True,
        "OKActions": [], "AlarmActions": [TOPIC], "InsufficientDataActions": [],
        "StateValue": "INSUFFICIENT_DATA", "StateReason": "Unchecked: Initial alarm creation",
        "StateUpdatedTimestamp": datetime(2026, 1, 1, 11, 0, tzinfo=UTC),
        "AlarmConfigurationUpdatedTimestamp": datetime(2026, 1, 1, 11, 0, tzinfo=UTC),
        "MetricName": "Errors", "Namespace": "AWS/Lambda", "Statistic": "Sum", "Dimensions": DIMENSIONS,
        "Period": 10, "EvaluationPeriods": 1, "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    alarm.update(overrides)
    return alarm


def alarm(**overrides: Any) -> MetricAlarm:
    return MetricAlarm.from_api(api_alarm(**overrides))


def points(*values: float | None, period: int = 10) -> list[Datapoint]:
    return [Datapoint(T0 + i * period, v, 1.0 if v is not None else 0.0) for i, v in enumerate(values)]


def agg(at: float, *values: float) -> Aggregate:
    return Aggregate(at, float(len(values)), sum(values), min(values), max(values))


# ---- datapoints and evaluation -----------------------------------------------------------------
def test_the_current_period_counts_as_soon_as_it_has_data():
    a = alarm(EvaluationPeriods=2)
    now = T0 + 23  # periods: [T0, T0+10), [T0+10, T0+20), current [T0+20, T0+30)
    with_current = datapoints(a, [agg(T0 + 12, 1), agg(T0 + 21, 1, 1)], now)
    assert [(p.start, p.value) for p in with_current] == [(T0 + 10, 1.0), (T0 + 20, 2.0)]
    without_current = datapoints(a, [agg(T0 + 3, 4), agg(T0 + 12, 1)], now)
    assert [(p.start, p.value) for p in without_current] == [(T0, 4.0), (T0 + 10, 1.0)]


@pytest.mark.parametrize(("statistic", "expected"), [
    ("Sum", 9.0), ("SampleCount", 4.0), ("Average", 2.25), ("Minimum", 1.0), ("Maximum", 5.0)])
def test_statistics_over_the_aggregates_of_a_period(statistic, expected):
    a = alarm(Statistic=statistic)
    (point,) = datapoints(a, [agg(T0 + 1, 1, 2), agg(T0 + 5, 1, 5)], T0 + 8)
    assert point.value == expected


def test_one_breaching_datapoint_alarms_with_the_aws_reason():
    result = evaluate(alarm(), points(2.0), now=T0 + 5)
    assert result is not None and result.state is AlarmState.ALARM
    assert result.reason == ("Threshold Crossed: 1 out of the last 1 datapoints [2.0 (01/01/26 12:00:00)] was "
                             "greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition).")
    assert result.reason_data["recentDatapoints"] == [2.0] and result.reason_data["threshold"] == 0.0
    assert result.reason_data["evaluatedDatapoints"] == [
        {"timestamp": "2026-01-01T12:00:00.000+0000", "sampleCount": 1.0, "value": 2.0}]


def test_ok_when_the_datapoint_does_not_breach():
    result = evaluate(alarm(), points(0.0), now=T0 + 5)
    assert result is not None and result.state is AlarmState.OK
    assert "was not greater than the threshold (0.0)" in result.reason


@pytest.mark.parametrize(("values", "expected"), [
    ((1.0, 0.0, 1.0), AlarmState.ALARM),  # 2 of 3 breach
    ((1.0, 0.0, 0.0), AlarmState.OK),  # 1 of 3: ALARM is impossible
    ((0.0, None, 0.0), AlarmState.OK),  # 2 present, none breaching: ALARM is impossible
    ((1.0, None, 0.0), None),  # the missing one could breach: the state is kept
    ((1.0, None, None), None),
])
def test_m_out_of_n(values, expected):
    a = alarm(EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="missing")
    result = evaluate(a, points(*values), now=T0 + 25)
    assert (result.state if result else None) == expected


@pytest.mark.parametrize(("treat", "expected"), [
    ("notBreaching", AlarmState.OK),
    ("breaching", AlarmState.ALARM),
    ("missing", AlarmState.INSUFFICIENT_DATA),
    ("ignore", None),  # the current state is kept
])
def test_missing_data(treat, expected):
    result = evaluate(alarm(TreatMissingData=treat), points(None), now=T0 + 5)
    assert (result.state if result else None) == expected


def test_missing_datapoints_filled_as_breaching_count_towards_alarm():
    a = alarm(EvaluationPeriods=3, DatapointsToAlarm=3, TreatMissingData="breaching")
    result = evaluate(a, points(5.0, None, None), now=T0 + 25)
    assert result is not None and result.state is AlarmState.ALARM


@pytest.mark.parametrize(("comparison", "value", "expected"), [
    ("GreaterThanOrEqualToThreshold", 0.0, AlarmState.ALARM),
    ("LessThanThreshold", -1.0, AlarmState.ALARM),
    ("LessThanOrEqualToThreshold", 0.5, AlarmState.OK),
])
def test_comparison_operators(comparison, value, expected):
    result = evaluate(alarm(ComparisonOperator=comparison), points(value), now=T0 + 5)
    assert result is not None and result.state is expected


def test_alarms_the_local_cloud_does_not_evaluate_say_why():
    assert alarm().not_evaluated_because() is None
    assert "percentile" in alarm(Statistic=None, ExtendedStatistic="p99").not_evaluated_because()
    assert "metric math" in alarm(Metrics=[{"Id": "m1"}]).not_evaluated_because()
    assert "anomaly" in alarm(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold").not_evaluated_because()


# ---- what a change does ------------------------------------------------------------------------
def change_to_alarm() -> AlarmChange:
    new = alarm(StateValue="ALARM", StateReason="Threshold Crossed: ...",
                StateReasonData='{"version": "1.0"}', StateUpdatedTimestamp=datetime(2026, 1, 1, 12, 0, 5, 123000, tzinfo=UTC))
    return AlarmChange(new, AlarmState.OK, "was fine", None, datetime(2026, 1, 1, 11, 59, tzinfo=UTC).isoformat())


def test_the_sns_notification_is_cloudwatchs_alarm_message():
    message = alarm_message(change_to_alarm(), account_id="123456789012", region="us-east-1")
    assert message["AlarmName"] == "predict-errors" and message["AWSAccountId"] == "123456789012"
    assert (message["OldStateValue"], message["NewStateValue"]) == ("OK", "ALARM")
    assert message["NewStateReason"] == "Threshold Crossed: ..."
    assert message["StateChangeTime"] == "2026-01-01T12:00:05.123+0000"
    assert message["Region"] == "US East (N. Virginia)"
    assert message["Trigger"] == {
        "MetricName": "Errors", "Namespace": "AWS/Lambda", "StatisticType": "Statistic", "Statistic": "SUM",
        "Unit": None, "Dimensions": [{"value": "predict", "name": "FunctionName"},
                                     {"value": "predict:live", "name": "Resource"}],
        "Period": 10, "EvaluationPeriods": 1, "DatapointsToAlarm": 1, "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0, "TreatMissingData": "notBreaching", "EvaluateLowSampleCountPercentile": ""}
    assert alarm_subject(change_to_alarm(), "us-east-1") == 'ALARM: "predict-errors" in US East (N. Virginia)'


def test_the_eventbridge_detail_has_both_states_and_the_metric():
    detail = alarm_event_detail(change_to_alarm())
    assert detail["alarmName"] == "predict-errors"
    assert detail["state"]["value"] == "ALARM" and detail["state"]["reasonData"] == '{"version": "1.0"}'
    assert detail["previousState"]["value"] == "OK" and detail["previousState"]["reason"] == "was fine"
    metric = detail["configuration"]["metrics"][0]["metricStat"]
    assert metric == {"metric": {"namespace": "AWS/Lambda", "name": "Errors",
                                 "dimensions": {"FunctionName": "predict", "Resource": "predict:live"}},
                      "period": 10, "stat": "Sum"}


def test_the_notifier_publishes_to_sns_actions_and_always_emits_the_event(caplog):
    published, emitted = [], []
    notify = AlarmNotifier(lambda *a: published.append(a), lambda *a: emitted.append(a),
                           account_id="123456789012", region="us-east-1")
    change = change_to_alarm()
    change = replace(change, alarm=replace(change.alarm, alarm_actions=(TOPIC, "arn:aws:automate:us-east-1:ec2:stop")))
    notify(change)
    ((topic, subject, message),) = published
    assert topic == TOPIC and subject.startswith("ALARM:") and json.loads(message)["NewStateValue"] == "ALARM"
    assert "arn:aws:automate:us-east-1:ec2:stop" in caplog.text  # said, not silently skipped
    ((source, detail_type, detail, resources),) = emitted
    assert (source, detail_type, resources) == ("aws.cloudwatch", "CloudWatch Alarm State Change", [change.alarm.arn])
    published.clear()
    notify(replace(change, alarm=replace(change.alarm, actions_enabled=False)))
    assert published == [] and len(emitted) == 2


# ---- the loop, with a fake clock ---------------------------------------------------------------
class FakeCloudWatch:
    """DescribeAlarms and SetAlarmState over a dict, as moto keeps them."""

    def __init__(self, clock, *alarms: dict[str, Any]):
        self.alarms = {a["AlarmName"]: a for a in alarms}
        self.clock = clock

    def get_paginator(self, name):
        assert name == "describe_alarms"
        alarms = self.alarms

        class Pages:
            def paginate(self, AlarmTypes, AlarmNames=None):
                assert AlarmTypes == ["MetricAlarm"]
                return [{"MetricAlarms": [dict(a) for n, a in alarms.items() if AlarmNames is None or n in AlarmNames]}]

        return Pages()

    def set_alarm_state(self, AlarmName, StateValue, StateReason, StateReasonData=None):
        json.loads(StateReasonData)
        self.alarms[AlarmName].update(StateValue=StateValue, StateReason=StateReason, StateReasonData=StateReasonData,
                                      StateUpdatedTimestamp=datetime.fromtimestamp(self.clock(), UTC))


class FakeMetrics:
    def __init__(self):
        self.stored: list[tuple[tuple[tuple[str, str], ...], Aggregate]] = []
        self.queries: list[tuple[float, float]] = []

    def aggregates(self, namespace, name, dimensions, start, end, unit):
        assert (namespace, name) == ("AWS/Lambda", "Errors")
        self.queries.append((start, end))
        return [a for dims, a in self.stored if dims == dimensions and start <= a.timestamp < end]


def evaluator(clock, cloudwatch, metrics, changes, speedup=1.0):
    return AlarmEvaluator(cloudwatch, metrics, changes.append, speedup=speedup, clock=clock, sleep=lambda s: None)


def test_errors_drive_the_alarm_to_alarm_and_back_to_ok():
    now = [T0 + 1]
    cloudwatch, metrics, changes = FakeCloudWatch(lambda: now[0], api_alarm()), FakeMetrics(), []
    loop = evaluator(lambda: now[0], cloudwatch, metrics, changes)
    live = (("FunctionName", "predict"), ("Resource", "predict:live"))

    loop.tick()  # no errors yet: missing data treated as not breaching
    assert [(c.old_state, c.alarm.state) for c in changes] == [("INSUFFICIENT_DATA", "OK")]
    assert cloudwatch.alarms["predict-errors"]["StateReason"].startswith("Threshold Crossed: no datapoints")

    metrics.stored.append((live, agg(T0 + 4, 0, 1)))  # one error at T0+4, on the alias
    metrics.stored.append(((("FunctionName", "predict"),), agg(T0 + 4, 0, 1, 1)))  # other dimension sets: not read
    now[0] = T0 + 5
    loop.tick()
    assert len(changes) == 1  # evaluated every Period (10 s): not due yet
    now[0] = T0 + 11
    loop.tick()
    assert [(c.old_state, c.alarm.state) for c in changes[1:]] == [("OK", "ALARM")]
    assert "1 out of the last 1 datapoints [1.0 (01/01/26 12:00:00)]" in changes[1].alarm.state_reason
    assert cloudwatch.alarms["predict-errors"]["StateValue"] == "ALARM"

    now[0] = T0 + 21  # the period with the error is over and nothing new came: back to OK
    loop.tick()
    assert [(c.old_state, c.alarm.state) for c in changes[2:]] == [("ALARM", "OK")]
    now[0] = T0 + 31
    assert loop.tick() == []  # no change, no notification


def test_speedup_evaluates_more_often_but_at_most_once_a_second():
    now = [T0 + 1]
    metrics = FakeMetrics()
    loop = evaluator(lambda: now[0], FakeCloudWatch(lambda: now[0], api_alarm(Period=60)), metrics, [], speedup=30)
    assert loop.interval(alarm(Period=60)) == 2.0
    assert loop.interval(alarm(Period=10)) == 1.0
    for step in range(6):
        now[0] = T0 + 1 + step * 0.5
        loop.tick()
    assert len(metrics.queries) == 2  # at T0+1 and T0+3


def test_a_state_set_from_outside_notifies_but_a_reconfiguration_does_not():
    now = [T0 + 1]
    cloudwatch, changes = FakeCloudWatch(lambda: now[0], api_alarm(Statistic=None, ExtendedStatistic="p99")), []
    loop = evaluator(lambda: now[0], cloudwatch, FakeMetrics(), changes)
    loop.tick()
    assert changes == []  # a percentile alarm keeps its state locally
    cloudwatch.set_alarm_state(AlarmName="predict-errors", StateValue="ALARM", StateReason="testing the actions",
                               StateReasonData="{}")
    now[0] += 1
    loop.tick()
    assert [(c.old_state, c.alarm.state, c.alarm.state_reason) for c in changes] == [
        ("INSUFFICIENT_DATA", "ALARM", "testing the actions")]
    # PutMetricAlarm again (a redeploy): the configuration changes and moto resets the state; no action runs.
    cloudwatch.alarms["predict-errors"].update(StateValue="INSUFFICIENT_DATA", StateUpdatedTimestamp=datetime.now(UTC),
                                               AlarmConfigurationUpdatedTimestamp=datetime.now(UTC))
    now[0] += 1
    loop.tick()
    assert len(changes) == 1
