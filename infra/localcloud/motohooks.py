"""Where the local cloud's messaging hooks into moto (next to motobridge.py and motofixes.py).

Each hook says what AWS does that moto 5.2.5 does not:

- SNS: moto delivers inside Publish, synchronously: to SQS in-process, to HTTP endpoints with a
  bare ``requests.post`` (no timeout, no retry, no SNS headers), and to Lambda through its Docker
  path with a fixed sample event. ``Subscription.publish`` is replaced: after moto's filter policy
  and MessageStructure handling, the message goes to the local cloud's SNS delivery, which delivers
  it once, asynchronously, in AWS's envelopes (messaging/sns.py).
- EventBridge: moto raises NotImplementedError for a Lambda, SNS or Step Functions target (PutEvents
  answers 500), ignores a rule's state and lets a schedule rule match every event.
  ``Rule.send_to_targets`` is replaced: the local cloud's router matches and delivers
  (messaging/eventbus.py); the targets moto does handle (log groups, archives, other buses, API
  destinations) are still handed to moto.
- Step Functions: AWS emits "Step Functions Execution Status Change" events; moto emits none. The
  start and the end of every execution are reported (``Execution.start``,
  ``BaseExecutionWorkerCommunication.terminated``, which every ending passes through).
- CloudWatch: a new alarm starts in INSUFFICIENT_DATA and PutMetricAlarm on an existing alarm keeps
  its state (moto starts every alarm, new or updated, in OK). Alarms read metrics with an exact
  dimension-set match, as AWS does; moto's GetMetricStatistics matches any metric that has the
  dimensions asked for, among others.

``tests/unit/test_moto_seam.py`` fails loudly if a moto upgrade moves these names.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends
from moto.events.models import Rule as MotoRule
from moto.sns.models import Subscription, Topic
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from .alarms import Aggregate
from .messaging.eventbus import ExecutionSnapshot, Rule, event_time
from .messaging.sns import Notification, Subscriber

Deliver = Callable[[Notification, Subscriber], None]
Route = Callable[..., list[Any]]  # EventRouter.route: the targets it leaves to moto
OnExecution = Callable[[ExecutionSnapshot], None]

_HOOKED = "_localcloud_hook"  # marks a replaced method, so install() patches moto once
_publishing = threading.local()  # the publish time of the message moto is fanning out on this thread


class _Sinks:
    """Where the hooks send their work: the running cloud's parts (set again by every install())."""

    deliver: Deliver | None = None
    route: Route | None = None
    on_execution: OnExecution | None = None


_sinks = _Sinks()

# Every moto attribute install() replaces (a test that installs the hooks restores these afterwards).
PATCHED: tuple[tuple[type, str], ...] = (
    (Topic, "publish"), (Subscription, "publish"), (MotoRule, "send_to_targets"), (Execution, "start"),
    (BaseExecutionWorkerCommunication, "terminated"), (CloudWatchBackend, "put_metric_alarm"))


def _sns_time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _is_true(value: Any) -> bool:
    return str(value).lower() == "true"


def _install_sns() -> None:
    original_topic_publish = Topic.publish

    @functools.wraps(original_topic_publish)
    def topic_publish(self: Topic, *args: Any, **kwargs: Any) -> str:
        # Every subscription of one message gets the same Timestamp: the publish time.
        _publishing.timestamp = _sns_time(datetime.now(UTC))
        try:
            return original_topic_publish(self, *args, **kwargs)
        finally:
            _publishing.timestamp = None

    def subscription_publish(self: Subscription, message: str, message_id: str, subject: str | None = None,
                             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                             deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        # AWS sends http/https and email endpoints a SubscriptionConfirmation and delivers only once
        # it is confirmed; locally every subscription is confirmed at once (moto: PendingConfirmation false).
        notification = Notification(
            message_id=message_id, topic_arn=self.topic.arn, message=message, subject=subject,
            timestamp=getattr(_publishing, "timestamp", None) or _sns_time(datetime.now(UTC)),
            attributes={k: {"Type": v["Type"], "Value": v["Value"]} for k, v in (message_attributes or {}).items()},
            group_id=group_id, deduplication_id=deduplication_id)
        subscriber = Subscriber(self.arn, self.protocol, self.endpoint,
                                raw=_is_true(self.attributes.get("RawMessageDelivery")))
        if _sinks.deliver is not None:
            _sinks.deliver(notification, subscriber)

    setattr(topic_publish, _HOOKED, True)
    setattr(subscription_publish, _HOOKED, True)
    Topic.publish = topic_publish  # type: ignore[method-assign]
    Subscription.publish = subscription_publish  # type: ignore[method-assign]


def _install_events() -> None:
    original = MotoRule.send_to_targets

    def send_to_targets(self: MotoRule, original_event: Any, transform_input: bool = True) -> None:
        event = {k: v for k, v in original_event.items() if k != "ingestion-time"}
        event["time"] = event_time(event.get("time"))
        ingestion = event_time(original_event.get("ingestion-time", original_event.get("time")))
        raw_pattern = self.event_pattern.dump()
        rule = Rule(name=self.name, arn=self.arn, pattern=json.loads(raw_pattern) if raw_pattern else None,
                    targets=list(self.targets), enabled=self.state == "ENABLED")
        if _sinks.route is None:
            original(self, original_event, transform_input)
            return
        left = _sinks.route(rule, event, ingestion_time=ingestion, transform=transform_input)
        if left:
            # The targets moto delivers itself; a copy of the rule that has only those.
            only_left: Any = object.__new__(type(self))
            only_left.__dict__.update(self.__dict__, targets=left)
            original(only_left, original_event, transform_input)

    setattr(send_to_targets, _HOOKED, True)
    MotoRule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def _millis(moment: Any) -> int | None:
    if not isinstance(moment, datetime):
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def snapshot(execution: Any) -> ExecutionSnapshot:
    """An execution's status-change view (the parser's Execution, or the redriven subclass)."""
    status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
    return ExecutionSnapshot(
        execution_arn=execution.execution_arn, state_machine_arn=execution.state_machine_arn, name=execution.name,
        status=status, start_ms=_millis(execution.start_date), stop_ms=_millis(execution.stop_date),
        input=_text(execution.execution_input), output=_text(execution.output) if status == "SUCCEEDED" else None,
        error=execution.error, cause=execution.cause, redrive_count=int(getattr(execution, "redrive_count", 0)))


def _standard(execution: Any) -> bool:
    # AWS emits execution status changes for Standard workflows only, not Express ones.
    return "EXPRESS" not in str(getattr(execution, "sm_type", "STANDARD"))


def _install_stepfunctions() -> None:
    original_start = Execution.start
    original_terminated = BaseExecutionWorkerCommunication.terminated

    @functools.wraps(original_start)
    def start(self: Execution) -> None:
        # Reported before the run starts: a short run could otherwise end before it is reported started.
        if self.exec_worker is None and _standard(self) and _sinks.on_execution is not None:
            _sinks.on_execution(snapshot(self))
        original_start(self)

    @functools.wraps(original_terminated)
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original_terminated(self)
        if _standard(self.execution) and _sinks.on_execution is not None:
            _sinks.on_execution(snapshot(self.execution))

    setattr(start, _HOOKED, True)
    setattr(terminated, _HOOKED, True)
    Execution.start = start  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


_ALARM_STATE = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")


def _install_cloudwatch() -> None:
    original = CloudWatchBackend.put_metric_alarm

    @functools.wraps(original)
    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        previous = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if previous is not None:
            # AWS: an update "completely overwrites the previous configuration" but leaves the state alone.
            for attribute in _ALARM_STATE:
                setattr(alarm, attribute, getattr(previous, attribute))
        else:
            alarm.state_value = "INSUFFICIENT_DATA"  # AWS: every new alarm starts here, not in OK
        return alarm

    setattr(put_metric_alarm, _HOOKED, True)
    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]


def install(*, deliver: Deliver, route: Route, on_execution: OnExecution) -> None:
    """Route moto's SNS fan-out, rule targets and execution lifecycle to these parts of the cloud."""
    _sinks.deliver, _sinks.route, _sinks.on_execution = deliver, route, on_execution
    if not getattr(Subscription.publish, _HOOKED, False):
        _install_sns()
    if not getattr(MotoRule.send_to_targets, _HOOKED, False):
        _install_events()
    if not getattr(BaseExecutionWorkerCommunication.terminated, _HOOKED, False):
        _install_stepfunctions()
    if not getattr(CloudWatchBackend.put_metric_alarm, _HOOKED, False):
        _install_cloudwatch()


class MotoMetricSource:
    """Metric aggregates from moto's CloudWatch, matched on the exact dimension set (alarms.MetricSource)."""

    def __init__(self, account_id: str, region: str):
        self._account_id = account_id
        self._region = region

    def aggregates(self, namespace: str, name: str, dimensions: tuple[tuple[str, str], ...], start: float,
                   end: float, unit: str | None) -> list[Aggregate]:
        wanted = sorted(dimensions)
        found = []
        for datum in list(cloudwatch_backends[self._account_id][self._region].get_all_metrics()):
            if datum.namespace != namespace or datum.name != name or (unit and datum.unit != unit):
                continue
            moment = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=UTC)
            at = moment.timestamp()
            if not start <= at < end or sorted((d.name, d.value) for d in datum.dimensions) != wanted:
                continue
            if isinstance(datum, MetricAggregatedDatum):
                found.append(Aggregate(at, float(datum.sample_count), float(datum.sum), float(datum.min),
                                       float(datum.max)))
            elif isinstance(datum, MetricDatum):
                value = float(datum.value)
                found.append(Aggregate(at, 1.0, value, value, value))
        return found
