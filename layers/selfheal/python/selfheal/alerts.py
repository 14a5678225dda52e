"""Alerts: what a human must hear about, published to the ``AlertTopic`` SNS topic.

One JSON message per alert, the same for every subscriber (e-mail, a Slack-compatible webhook
through raw message delivery, Lambda, SQS)::

    {"alert_id": "…", "action": "rollback", "summary": "production rolled back v0003 -> v0002",
     "text": "[selfheal] production rolled back v0003 -> v0002: smoke test failed",  # Slack's field
     "reason": "smoke test failed", "versions": {"from": "v0003", "to": "v0002"},
     "console": "http://127.0.0.1:8080/#/audit", "at": "2026-12-03T09:15:02Z", "details": {…}}

Every alert is also an ``alert_sent`` audit item (``details.alert_id``, ``details.about`` = the sort
key of the audit item it is about), so the console lists alerts and links decisions to them
through the same DynamoDB table, on AWS as locally.

Alerts never block or fail the pipeline: a publish that fails is logged with its reason and
counted in the ``AlertsFailed`` metric, and the step goes on.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from selfheal.audit import AuditAction, AuditItem, AuditTrail, to_dynamo
from selfheal.clock import Clock, isoformat, utc_now

logger = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS: an e-mail subject is at most 100 characters


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
    """Publishes alerts to ``topic_arn`` (none configured: audited and logged only)."""

    def __init__(self, sns: Any, topic_arn: str, audit: AuditTrail, *, console_url: str = "",
                 clock: Clock = utc_now) -> None:
        self._sns = sns
        self._topic = topic_arn
        self._audit = audit
        self._console = console_url.rstrip("/")
        self._clock = clock
        self.failed = 0

    def send(self, kind: AlertKind, summary: str, *, reason: str = "", versions: Mapping[str, str | None] | None = None,
             details: Mapping[str, Any] | None = None, execution_arn: str | None = None,
             about: AuditItem | None = None) -> Alert:
        alert = Alert(kind=kind, summary=summary, reason=reason, at=isoformat(self._clock()),
                      versions=dict(versions or {}), details=dict(details or {}),
                      console_url=f"{self._console}/#/audit" if self._console else "", execution_arn=execution_arn)
        delivered = self._publish(alert)
        self._audit.record(AuditAction.ALERT_SENT, f"{kind.value}: {summary}", execution_arn=execution_arn, details={
            "alert_id": alert.alert_id, "kind": kind.value, "about": (about or {}).get("sk"),
            "topic_arn": self._topic or None, "published": delivered, "message": to_dynamo(alert.message())})
        return alert

    def _publish(self, alert: Alert) -> bool:
        if not self._topic:
            logger.warning("alert %s not published (no ALERT_TOPIC_ARN): %s", alert.kind.value, alert.summary)
            return False
        try:
            self._sns.publish(TopicArn=self._topic, Subject=alert.summary[:SUBJECT_LIMIT],
                              Message=json.dumps(alert.message(), default=str),
                              MessageAttributes={"action": {"DataType": "String", "StringValue": alert.kind.value}})
        except (ClientError, BotoCoreError) as err:
            self.failed += 1
            logger.error("alert %s could not be published to %s: %s", alert.kind.value, self._topic, err)
            return False
        return True
