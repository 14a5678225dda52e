"""Alerts on what other AWS services report: a failed execution (EventBridge), a CloudWatch alarm (SNS).

PromoteFunction receives both (template.yaml):

* EventBridge's ``Step Functions Execution Status Change`` events for the self-healing state
  machine ending ``FAILED``, ``TIMED_OUT`` or ``ABORTED``. Only this event sees all three: a timed
  out or aborted execution never reaches its own clean-up states. Audited ``execution_failed``,
  alerted ``execution_failed``.
* The AlertTopic's CloudWatch alarm notifications (the alarms' ``AlarmActions``/``OKActions``).
  CloudWatch already published them to the topic; they are audited as ``alert_sent`` of kind
  ``canary_alarm``, never published again. The subscription's filter policy keeps our own alerts
  (which carry an ``action`` attribute) away; any that still arrive are ignored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SNSEvent

from selfheal.alerts import AlertKind, alarm_alert
from selfheal.audit import AuditAction
from selfheal.context import Context
from selfheal.exceptions import ModelNotFoundError

logger = logging.getLogger(__name__)

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"  # the event's detail-type
FAILED_STATUSES = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def execution_status_changed(ctx: Context, event: EventBridgeEvent) -> dict[str, Any]:
    """Audit and alert an execution that ended ``FAILED``, ``TIMED_OUT`` or ``ABORTED``."""
    detail = event.get("detail") or {}
    status = str(detail.get("status") or "")
    arn = detail.get("executionArn")
    if status not in FAILED_STATUSES:  # the rule sends only these; any other status is not news
        return {"alerted": False, "status": status, "execution_arn": arn}
    name = detail.get("name") or str(arn or "?").rsplit(":", 1)[-1]
    error, cause = detail.get("error"), _cause(detail.get("cause"))
    reason = ": ".join(str(p) for p in (error, cause) if p) or status.lower().replace("_", " ")
    production = _production_version(ctx)
    details = {"status": status, "error": error, "cause": cause, "state_machine_arn": detail.get("stateMachineArn"),
               "trigger": _trigger(detail.get("input")), "production_version": production, "event_id": event.get("id")}
    item = ctx.audit.record(AuditAction.EXECUTION_FAILED, f"{name} {status}: {reason}", execution_arn=arn,
                            details=details)
    ctx.alerter.send(AlertKind.EXECUTION_FAILED, f"execution {name} {status.lower().replace('_', ' ')}",
                     reason=reason, versions={"production": production},
                     details={k: v for k, v in details.items() if k != "event_id"}, execution_arn=arn, about=item)
    return {"alerted": True, "status": status, "execution_arn": arn}


def alarm_notifications(ctx: Context, event: SNSEvent) -> dict[str, Any]:
    """Audit each CloudWatch alarm notification of an SNS event as a ``canary_alarm`` alert."""
    alarms: list[dict[str, Any]] = []
    for record in event.records:
        sns = record.sns
        try:
            message = json.loads(sns.message or "")
        except ValueError:
            message = None
        alert = alarm_alert(message, console_url=ctx.settings.console_url) if isinstance(message, dict) else None
        if alert is None:
            logger.info("ignored message %s on the alert topic: not a CloudWatch alarm", sns.message_id)
            continue
        ctx.alerter.record_delivered(alert)
        alarms.append({"alarm": alert.details["alarm"], "state": alert.details["state"]})
    return {"alarms": alarms}


def _cause(cause: Any) -> str | None:
    """A Lambda error payload's message (``{"errorMessage": ...}``), or the cause as it is."""
    if not cause:
        return None
    try:
        body = json.loads(cause)
    except (TypeError, ValueError):
        return str(cause)
    return str(body.get("errorMessage", cause)) if isinstance(body, dict) else str(cause)


def _trigger(execution_input: Any) -> str | None:
    try:
        body = json.loads(execution_input) if isinstance(execution_input, str) else execution_input
    except ValueError:
        return None
    return body.get("trigger") if isinstance(body, dict) else None


def _production_version(ctx: Context) -> str | None:
    try:
        production = ctx.registry.production()
    except (ModelNotFoundError, ValueError) as err:  # as finish(): the alert goes out without it
        logger.warning("could not read the production alias: %s", err)
        return None
    return production["version"] if production else None
