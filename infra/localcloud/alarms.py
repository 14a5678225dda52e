"""CloudWatch metric alarms, evaluated by the local cloud as CloudWatch evaluates them.

moto stores alarms (PutMetricAlarm) and never changes their state. :class:`AlarmEvaluator` reads
them back through DescribeAlarms, evaluates each every ``Period`` (divided by the cloud's speedup)
against the metrics the local cloud holds, and on a change sets the state through SetAlarmState
with AWS's reason texts. :class:`AlarmNotifier` then does what CloudWatch does on a state change:
it publishes the alarm notification to the SNS topics among the state's actions and emits the
"CloudWatch Alarm State Change" event. A state set by a user's SetAlarmState notifies too, as on AWS.

Evaluation: the alarm looks at ``EvaluationPeriods`` periods aligned to the period grid. The
newest is the current, unfinished period when it already has data (an error counts at once),
otherwise the last finished one. Each period's ``Statistic`` is a datapoint, or missing. Missing
datapoints are treated as ``TreatMissingData`` says: ``breaching``/``notBreaching`` fill them in;
``missing`` makes an alarm with no datapoint at all INSUFFICIENT_DATA; ``ignore`` keeps the state
then. ALARM needs ``DatapointsToAlarm`` breaching datapoints (M out of N); OK needs enough
non-breaching ones that ALARM is impossible; otherwise the state is kept.

Not evaluated locally (the alarm keeps its state, and the log says so once): percentile
statistics (``ExtendedStatistic``: metrics are stored as aggregates), metric math (``Metrics``)
and anomaly-detection thresholds.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

logger = logging.getLogger("localcloud.alarms")

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
MIN_INTERVAL_S = 1.0  # however large the speedup, an alarm is evaluated at most once a second


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}


@dataclass(frozen=True)
class Aggregate:
    """Datapoints of one metric stored together: their count, sum, minimum and maximum."""

    timestamp: float  # seconds since the epoch
    count: float
    total: float
    minimum: float
    maximum: float


_STATISTICS: dict[str, Callable[[Sequence[Aggregate]], float]] = {
    "Sum": lambda aggs: float(sum(a.total for a in aggs)),
    "SampleCount": lambda aggs: float(sum(a.count for a in aggs)),
    "Average": lambda aggs: sum(a.total for a in aggs) / max(sum(a.count for a in aggs), 1e-300),
    "Minimum": lambda aggs: float(min(a.minimum for a in aggs)),
    "Maximum": lambda aggs: float(max(a.maximum for a in aggs)),
}


class MetricSource(Protocol):
    def aggregates(self, namespace: str, name: str, dimensions: tuple[tuple[str, str], ...], start: float,
                   end: float, unit: str | None) -> list[Aggregate]:
        """The aggregates of exactly this metric (same dimension set) with start <= timestamp < end."""
        ...


@dataclass(frozen=True)
class MetricAlarm:
    """One metric alarm, as DescribeAlarms returns it."""

    name: str
    arn: str
    namespace: str | None
    metric_name: str | None
    dimensions: tuple[tuple[str, str], ...]
    statistic: str | None
    extended_statistic: str | None
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float | None
    comparison: str
    treat_missing_data: str
    unit: str | None
    uses_metric_math: bool
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    state: AlarmState
    state_reason: str
    state_reason_data: str | None
    state_updated: str  # ISO 8601; a change marks a state set by anyone
    configuration_updated: str
    description: str | None = None

    @classmethod
    def from_api(cls, a: Mapping[str, Any]) -> MetricAlarm:
        evaluation_periods = int(a.get("EvaluationPeriods") or 1)
        return cls(
            name=a["AlarmName"], arn=a["AlarmArn"], namespace=a.get("Namespace"), metric_name=a.get("MetricName"),
            dimensions=tuple((d["Name"], d["Value"]) for d in a.get("Dimensions") or []),
            statistic=a.get("Statistic"), extended_statistic=a.get("ExtendedStatistic"),
            period=int(a.get("Period") or 60), evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(a.get("DatapointsToAlarm") or evaluation_periods),
            threshold=float(a["Threshold"]) if a.get("Threshold") is not None else None,
            comparison=a.get("ComparisonOperator", ""), treat_missing_data=a.get("TreatMissingData") or "missing",
            unit=a.get("Unit"), uses_metric_math=bool(a.get("Metrics")),
            actions_enabled=bool(a.get("ActionsEnabled", True)),
            alarm_actions=tuple(a.get("AlarmActions") or ()), ok_actions=tuple(a.get("OKActions") or ()),
            insufficient_data_actions=tuple(a.get("InsufficientDataActions") or ()),
            state=AlarmState(a.get("StateValue") or "INSUFFICIENT_DATA"), state_reason=a.get("StateReason") or "",
            state_reason_data=a.get("StateReasonData"), state_updated=_iso(a.get("StateUpdatedTimestamp")),
            configuration_updated=_iso(a.get("AlarmConfigurationUpdatedTimestamp")),
            description=a.get("AlarmDescription"),
        )

    def not_evaluated_because(self) -> str | None:
        """Why the local cloud does not evaluate this alarm; None when it does."""
        if self.uses_metric_math:
            return "metric math (Metrics) is not evaluated locally"
        if self.extended_statistic or not self.statistic:
            return f"percentile statistic {self.extended_statistic} is not evaluated locally (metrics are aggregates)"
        if self.comparison not in _COMPARISONS or self.threshold is None:
            return f"comparison {self.comparison} (anomaly detection) is not evaluated locally"
        if not self.namespace or not self.metric_name:
            return "the alarm names no metric"
        return None


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return "" if value is None else str(value)


# ---- evaluation (no I/O) -----------------------------------------------------------------------
@dataclass(frozen=True)
class Datapoint:
    start: float  # the period's start, seconds since the epoch
    value: float | None  # None: missing
    count: float = 0.0


@dataclass(frozen=True)
class Evaluation:
    state: AlarmState
    reason: str
    reason_data: dict[str, Any]


def datapoints(alarm: MetricAlarm, aggregates: Sequence[Aggregate], now: float) -> list[Datapoint]:
    """The alarm's N datapoints, oldest first, from aggregates covering the last N+1 periods."""
    assert alarm.statistic is not None
    period, n = alarm.period, alarm.evaluation_periods
    current = math.floor(now / period) * period
    newest = current if any(a.timestamp >= current for a in aggregates) else current - period
    points = []
    for start in (newest - (n - 1 - i) * period for i in range(n)):
        inside = [a for a in aggregates if start <= a.timestamp < start + period]
        value = _STATISTICS[alarm.statistic](inside) if inside else None
        points.append(Datapoint(start, value, sum(a.count for a in inside)))
    return points


def evaluate(alarm: MetricAlarm, points: Sequence[Datapoint], *, now: float) -> Evaluation | None:
    """The state ``points`` put the alarm in, with AWS's reason; None when the state is kept."""
    assert alarm.threshold is not None
    compare, words = _COMPARISONS[alarm.comparison]
    threshold, m, n = alarm.threshold, alarm.datapoints_to_alarm, len(points)
    present = [p for p in points if p.value is not None]
    values = [p.value for p in present if p.value is not None]
    missing = n - len(present)
    breaching = sum(1 for v in values if compare(v, threshold))
    data = _reason_data(alarm, points, now)
    if not present and alarm.treat_missing_data in ("missing", "ignore"):
        if alarm.treat_missing_data == "ignore":
            return None
        return Evaluation(AlarmState.INSUFFICIENT_DATA,
                          f"Insufficient Data: {_count(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown.", data)
    filled_breaching = missing if alarm.treat_missing_data == "breaching" else 0
    filled_ok = missing if alarm.treat_missing_data == "notBreaching" else 0
    treated = f"[{'Breaching' if filled_breaching else 'NonBreaching'}]"
    if breaching + filled_breaching >= m:
        shown = ", ".join(_shown(p) for p in reversed(present)) if present else ""
        reason = (f"Threshold Crossed: {breaching + filled_breaching} out of the last {n} datapoints "
                  f"[{shown}] was {words} the threshold ({threshold}) (minimum {_count(m, 'datapoint')} "
                  f"for OK -> ALARM transition).") if present else (
                  f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
                  f"{_count(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as {treated}.")
        return Evaluation(AlarmState.ALARM, reason, data)
    not_breaching = len(present) - breaching + filled_ok
    if not_breaching > n - m:
        if present:
            shown = ", ".join(_shown(p) for p in reversed(present) if p.value is not None
                              and not compare(p.value, threshold))
            reason = (f"Threshold Crossed: {_count(not_breaching, 'datapoint')} [{shown}] "
                      f"{'was' if not_breaching == 1 else 'were'} not {words} the threshold ({threshold}).")
        else:
            reason = (f"Threshold Crossed: no datapoints were received for {_count(n, 'period')} and "
                      f"{_count(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as {treated}.")
        return Evaluation(AlarmState.OK, reason, data)
    return None


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _shown(p: Datapoint) -> str:
    return f"{p.value} ({datetime.fromtimestamp(p.start, UTC):%d/%m/%y %H:%M:%S})"


def _stamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def _reason_data(alarm: MetricAlarm, points: Sequence[Datapoint], now: float) -> dict[str, Any]:
    present = [p for p in points if p.value is not None]
    return {
        "version": "1.0",
        "queryDate": _stamp(now),
        "startDate": _stamp(points[0].start) if points else _stamp(now),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "recentDatapoints": [p.value for p in present],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [{"timestamp": _stamp(p.start), "sampleCount": p.count, "value": p.value}
                                for p in reversed(present)],
    }


# ---- what a state change does (no I/O) ---------------------------------------------------------
@dataclass(frozen=True)
class AlarmChange:
    alarm: MetricAlarm  # with its new state
    old_state: AlarmState
    old_reason: str
    old_reason_data: str | None
    old_updated: str


_REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-south-1": "Asia Pacific (Mumbai)",
}


def _notification_time(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def alarm_subject(change: AlarmChange, region: str) -> str:
    """The subject CloudWatch gives the SNS message, e.g. ``ALARM: "my-alarm" in US East (N. Virginia)``."""
    return f'{change.alarm.state}: "{change.alarm.name}" in {_REGION_NAMES.get(region, region)}'[:100]


def alarm_message(change: AlarmChange, *, account_id: str, region: str) -> dict[str, Any]:
    """The alarm notification CloudWatch publishes to the SNS topics of the new state's actions."""
    a = change.alarm
    return {
        "AlarmName": a.name,
        "AlarmDescription": a.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _notification_time(a.configuration_updated),
        "NewStateValue": str(a.state),
        "NewStateReason": a.state_reason,
        "StateChangeTime": _notification_time(a.state_updated),
        "Region": _REGION_NAMES.get(region, region),
        "AlarmArn": a.arn,
        "OldStateValue": str(change.old_state),
        "OKActions": list(a.ok_actions),
        "AlarmActions": list(a.alarm_actions),
        "InsufficientDataActions": list(a.insufficient_data_actions),
        "Trigger": {
            "MetricName": a.metric_name,
            "Namespace": a.namespace,
            "StatisticType": "Statistic",
            "Statistic": (a.statistic or "").upper(),
            "Unit": a.unit,
            "Dimensions": [{"value": v, "name": k} for k, v in a.dimensions],
            "Period": a.period,
            "EvaluationPeriods": a.evaluation_periods,
            "DatapointsToAlarm": a.datapoints_to_alarm,
            "ComparisonOperator": a.comparison,
            "Threshold": a.threshold,
            "TreatMissingData": a.treat_missing_data,
            "EvaluateLowSampleCountPercentile": "",
        },
    }


def alarm_event_detail(change: AlarmChange) -> dict[str, Any]:
    """The ``detail`` of the "CloudWatch Alarm State Change" event."""
    a = change.alarm

    def state(value: AlarmState, reason: str, data: str | None, updated: str) -> dict[str, Any]:
        out: dict[str, Any] = {"value": str(value), "reason": reason, "timestamp": _notification_time(updated)}
        if data:
            out["reasonData"] = data
        return out

    return {
        "alarmName": a.name,
        "state": state(a.state, a.state_reason, a.state_reason_data, a.state_updated),
        "previousState": state(change.old_state, change.old_reason, change.old_reason_data, change.old_updated),
        "configuration": {
            "description": a.description,
            "metrics": [{
                "id": "m1",
                "metricStat": {
                    "metric": {"namespace": a.namespace, "name": a.metric_name, "dimensions": dict(a.dimensions)},
                    "period": a.period,
                    "stat": a.statistic or a.extended_statistic,
                },
                "returnData": True,
            }],
        },
    }


Publish = Callable[[str, str, str], None]  # (topic arn, subject, message)
Emit = Callable[[str, str, Mapping[str, Any], Sequence[str]], None]  # (source, detail type, detail, resources)


class AlarmNotifier:
    """CloudWatch's side effects of a state change: the SNS actions and the EventBridge event."""

    def __init__(self, publish: Publish, emit: Emit, *, account_id: str, region: str):
        self._publish = publish
        self._emit = emit
        self._account_id = account_id
        self._region = region

    def __call__(self, change: AlarmChange) -> None:
        a = change.alarm
        actions = {AlarmState.ALARM: a.alarm_actions, AlarmState.OK: a.ok_actions,
                   AlarmState.INSUFFICIENT_DATA: a.insufficient_data_actions}[a.state]
        logger.info("alarm %s: %s -> %s (%s)", a.name, change.old_state, a.state, a.state_reason)
        if a.actions_enabled:
            message = json.dumps(alarm_message(change, account_id=self._account_id, region=self._region))
            for arn in actions:
                if arn.split(":")[2:3] == ["sns"]:
                    self._publish(arn, alarm_subject(change, self._region), message)
                else:
                    logger.warning("alarm %s: action %s is not run locally (only SNS topics are)", a.name, arn)
        self._emit("aws.cloudwatch", ALARM_STATE_CHANGE, alarm_event_detail(change), [a.arn])


# ---- the loop ----------------------------------------------------------------------------------
@dataclass
class _Seen:
    state: AlarmState
    updated: str
    configuration: str


class AlarmEvaluator:
    """Evaluates every metric alarm on its own schedule; calls ``on_change`` for each state change."""

    def __init__(self, cloudwatch: Any, metrics: MetricSource, on_change: Callable[[AlarmChange], None], *,
                 speedup: float = 1.0, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, tick_s: float = 1.0):
        self._cloudwatch = cloudwatch
        self._metrics = metrics
        self._on_change = on_change
        self._speedup = max(speedup, 1e-9)
        self._clock = clock
        self._sleep = sleep
        self._tick_s = tick_s
        self._seen: dict[str, _Seen] = {}
        self._due: dict[str, float] = {}
        self._explained: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)

    def start(self) -> AlarmEvaluator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad evaluation must not stop alarms for good; it is logged
                logger.exception("alarm evaluation failed")
            self._sleep(self._tick_s)

    def interval(self, alarm: MetricAlarm) -> float:
        return max(MIN_INTERVAL_S, alarm.period / self._speedup)

    def tick(self) -> list[AlarmChange]:
        """One pass: notice states set from outside, evaluate the alarms that are due."""
        changes: list[AlarmChange] = []
        now = self._clock()
        alarms = self._describe()
        for alarm in alarms:
            seen = self._seen.get(alarm.arn)
            if (seen is not None and (seen.state, seen.updated) != (alarm.state, alarm.state_updated)
                    and seen.configuration == alarm.configuration_updated):
                # SetAlarmState from a user: AWS runs the actions of the new state for it too.
                changes.append(AlarmChange(alarm, seen.state, "", None, seen.updated))
            alarm = self._evaluate_if_due(alarm, now, changes)
            self._seen[alarm.arn] = _Seen(alarm.state, alarm.state_updated, alarm.configuration_updated)
        known = {a.arn for a in alarms}
        for arn in set(self._seen) - known:
            self._seen.pop(arn, None)
            self._due.pop(arn, None)
        for change in changes:
            self._on_change(change)
        return changes

    def _evaluate_if_due(self, alarm: MetricAlarm, now: float, changes: list[AlarmChange]) -> MetricAlarm:
        why_not = alarm.not_evaluated_because()
        if why_not is not None:
            if alarm.arn not in self._explained:
                self._explained.add(alarm.arn)
                logger.info("alarm %s keeps its state: %s", alarm.name, why_not)
            return alarm
        if now < self._due.get(alarm.arn, now):
            return alarm
        self._due[alarm.arn] = now + self.interval(alarm)
        start = (math.floor(now / alarm.period) - alarm.evaluation_periods) * alarm.period
        aggregates = self._metrics.aggregates(alarm.namespace or "", alarm.metric_name or "", alarm.dimensions,
                                              start, now + 1, alarm.unit)
        result = evaluate(alarm, datapoints(alarm, aggregates, now), now=now)
        if result is None or result.state == alarm.state:
            return alarm
        self._cloudwatch.set_alarm_state(AlarmName=alarm.name, StateValue=str(result.state),
                                         StateReason=result.reason[:1023],
                                         StateReasonData=json.dumps(result.reason_data))
        updated = self._describe(alarm.name)
        new = updated[0] if updated else replace(alarm, state=result.state, state_reason=result.reason)
        changes.append(AlarmChange(new, alarm.state, alarm.state_reason, alarm.state_reason_data, alarm.state_updated))
        return new

    def _describe(self, name: str | None = None) -> list[MetricAlarm]:
        arguments: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
        if name is not None:
            arguments["AlarmNames"] = [name]
        alarms: list[MetricAlarm] = []
        for page in self._cloudwatch.get_paginator("describe_alarms").paginate(**arguments):
            alarms += [MetricAlarm.from_api(a) for a in page.get("MetricAlarms", [])]
        return alarms
