"""Alerts: what a human must hear about, published to the ``AlertTopic`` SNS topic.

One JSON message per alert, the same for every subscriber (e-mail, a Slack-compatible webhook
through raw message delivery, Lambda, SQS)::

    {"alert_id": "…", "action": "rollback", "summary": "production rolled back v0003 -> v0002",
     "text": "[selfheal] production rolled back v0003 -> v0002: smoke test failed",  # Slack's field
     "reason": "smoke test failed", "versions": {"from": "v0003", "to": "v0002"},
     "console": "http://127.0.0.1:8080/#/alerts", "at": "2026-12-03T09:15:02Z", "details": {…}}

Every alert is also an ``alert_sent`` audit item (``details.alert_id``, ``details.about`` = the sort
key of the audit item it is about), so the console lists alerts and links decisions to them
through the same DynamoDB table, on AWS as locally.

Alerts never block or fail the pipeline: a publish that fails is logged with its reason and
counted in the ``AlertsFailed`` metric, and the step goes on.

CloudWatch alarms publish to the same topic (their ``AlarmActions``/``OKActions``) with a message
of their own (``AlarmName``, ``NewStateValue``, ...). :func:`alarm_alert` reads one as an alert of
kind ``canary_alarm``, so ``make alerts`` and the audit trail show it beside ours.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from selfheal.audit import AuditAction, AuditItem, AuditTrail, to_dynamo
from selfheal.clock import Clock, isoformat, utc_now
from selfheal.telemetry import Telemetry

logger = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS: an e-mail subject is at most 100 characters
# SNS rejects a Subject with characters outside printable ASCII (InvalidParameter), e.g. "R²".
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")
# CloudWatch's StateChangeTime, e.g. "2026-12-03T09:15:02.123+0000".
_ALARM_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"


class AlertKind(StrEnum):
    """The ``action`` of an alert message (``make alerts`` and the console show it)."""

    ROLLBACK = "rollback"  # the production alias moved back (smoke test, recovery or by hand)
    QUARANTINE = "quarantine"  # a batch or label file could not be used
    VALIDATION_REJECTED = "validation_rejected"  # a challenger failed the gate; the champion stays
    DRIFT_DETECTED = "drift_detected"  # feature or prediction drift (uploads or live traffic)
    DEGRADATION = "degradation"  # the production model's error on labelled data got worse
    RECOVERY_FAILED = "recovery_failed"  # recovery exhausted its attempts: a human is needed
    EXECUTION_FAILED = "execution_failed"  # a self-healing execution failed, timed out or was aborted
    CANARY_ALARM = "canary_alarm"  # a CloudWatch alarm on the serving alias changed state


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    summary: str
    reason: str
    at: str
    alert_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    versions: Mapping[str, str | None] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    console_url: str = ""
    execution_arn: str | None = None

    def message(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "action": self.kind.value,
            "summary": self.summary,
            "text": f"[selfheal] {self.summary}: {self.reason}" if self.reason else f"[selfheal] {self.summary}",
            "reason": self.reason,
            "versions": dict(self.versions),
            "console": self.console_url,
            "at": self.at,
            "execution_arn": self.execution_arn,
            "details": dict(self.details),
        }


class Alerter:
    """Publishes alerts to ``topic_arn`` (none configured: audited and logged only).

    ``sns`` is a boto3 SNS client (``None`` where no topic is configured); ``telemetry`` counts the
    alerts that could not be published (``AlertsFailed``), as ``failed`` does for this instance.
    """

    def __init__(self, sns: Any, topic_arn: str, audit: AuditTrail, *, console_url: str = "",
                 clock: Clock = utc_now, telemetry: Telemetry | None = None) -> None:
        self._sns = sns
        self._topic = topic_arn
        self._audit = audit
        self._console = console_url.rstrip("/")
        self._clock = clock
        self._telemetry = telemetry
        self.failed = 0

    @property
    def console_link(self) -> str:
        return f"{self._console}/#/alerts" if self._console else ""

    def send(self, kind: AlertKind, summary: str, *, reason: str = "", versions: Mapping[str, str | None] | None = None,
             details: Mapping[str, Any] | None = None, execution_arn: str | None = None,
             about: AuditItem | None = None) -> Alert:
        """Publish one alert and audit it as ``alert_sent``, linked to ``about`` (the decision's item)."""
        alert = Alert(kind=kind, summary=summary, reason=reason, at=isoformat(self._clock()),
                      versions=dict(versions or {}), details=dict(details or {}),
                      console_url=self.console_link, execution_arn=execution_arn)
        self._record(alert, self._publish(alert), about)
        return alert

    def record_delivered(self, alert: Alert, *, about: AuditItem | None = None) -> None:
        """Audit an alert another service published to the topic (a CloudWatch alarm); never re-publish it."""
        self._record(alert, True, about)

    def _record(self, alert: Alert, published: bool, about: AuditItem | None) -> None:
        self._audit.record(AuditAction.ALERT_SENT, f"{alert.kind.value}: {alert.summary}",
                           execution_arn=alert.execution_arn, details={
                               "alert_id": alert.alert_id, "kind": alert.kind.value, "about": (about or {}).get("sk"),
                               "topic_arn": self._topic or None, "published": published,
                               "message": to_dynamo(alert.message())})

    def _publish(self, alert: Alert) -> bool:
        if not self._topic or self._sns is None:
            logger.warning("alert %s not published (no ALERT_TOPIC_ARN): %s", alert.kind.value, alert.summary)
            return False
        try:
            self._sns.publish(TopicArn=self._topic, Subject=subject(alert.summary),
                              Message=json.dumps(alert.message(), default=str),
                              MessageAttributes={"action": {"DataType": "String", "StringValue": alert.kind.value}})
        except (ClientError, BotoCoreError) as err:
            self.failed += 1
            if self._telemetry is not None:
                self._telemetry.alert_failed(alert.kind.value)
            logger.error("alert %s could not be published to %s: %s", alert.kind.value, self._topic, err)
            return False
        return True


def subject(summary: str) -> str:
    """An SNS Subject: printable ASCII, at most 100 characters, never empty."""
    text = _NOT_PRINTABLE_ASCII.sub("?", summary).strip()
    return (text or "selfheal alert")[:SUBJECT_LIMIT]


def alarm_alert(notification: Mapping[str, Any], *, console_url: str = "") -> Alert | None:
    """The ``canary_alarm`` alert for a CloudWatch alarm entering or leaving ALARM; ``None`` otherwise.

    The notification is the JSON CloudWatch publishes to an alarm action's topic: ``AlarmName``,
    ``NewStateValue``, ``OldStateValue``, ``NewStateReason``, ``StateChangeTime``, ``Trigger``...
    """
    name, state = notification.get("AlarmName"), notification.get("NewStateValue")
    if not isinstance(name, str) or not isinstance(state, str):
        return None
    old = notification.get("OldStateValue")
    if "ALARM" not in (state, old):
        # OK <-> INSUFFICIENT_DATA says nothing about the canary (an alarm starts INSUFFICIENT_DATA and
        # goes OK once it has data: at every stack creation, and at every local `make up`). Not news.
        return None
    found = notification.get("Trigger")
    trigger: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    dimensions = {d.get("name") or d.get("Name"): d.get("value") or d.get("Value")
                  for d in trigger.get("Dimensions") or [] if isinstance(d, Mapping)}
    details = {"alarm": name, "state": state, "previous_state": old, "alarm_arn": notification.get("AlarmArn"),
               "description": notification.get("AlarmDescription"), "metric": trigger.get("MetricName"),
               "namespace": trigger.get("Namespace"), "dimensions": dimensions}
    return Alert(kind=AlertKind.CANARY_ALARM, summary=f"alarm {name} {old or '?'} -> {state}",
                 reason=str(notification.get("NewStateReason") or ""), at=_alarm_time(notification.get("StateChangeTime")),
                 alert_id=f"alarm:{name}:{notification.get('StateChangeTime')}",
                 versions={"serving": dimensions.get("Resource")} if dimensions.get("Resource") else {},
                 details={k: v for k, v in details.items() if v is not None},
                 console_url=f"{console_url.rstrip('/')}/#/alerts" if console_url else "")


def _alarm_time(value: Any) -> str:
    try:
        return isoformat(datetime.strptime(str(value), _ALARM_TIME))
    except ValueError:
        return str(value or "")


def read_notification(text: str) -> dict[str, Any] | None:
    """An alert message as published to the topic (ours, or a CloudWatch alarm's read as one), or ``None``.

    What ``make alerts`` shows for each message an e-mail subscriber received.
    """
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if message.get("action") in {kind.value for kind in AlertKind} and "summary" in message:
        return message
    alarm = alarm_alert(message)
    return alarm.message() if alarm is not None else None
