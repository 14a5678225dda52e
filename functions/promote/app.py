"""PromoteFunction: move the production alias (promote, rollback), record rejections, finish executions.

It also turns what other services report into alerts: EventBridge's execution status changes of the
self-healing state machine, and the CloudWatch alarm notifications on the alert topic (SNS)."""

import logging

from selfheal.context import Context
from selfheal.flows import alerting
from selfheal.flows import promote as flow

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env()

ACTIONS = {
    "promote": lambda e: flow.promote(CTX, version=e["version"], training_key=e.get("training_key"),
                                      reason=e.get("reason", "manual"), execution_arn=e.get("execution_arn")),
    "reject": lambda e: flow.reject(CTX, version=e["version"], reasons=e.get("reasons") or [],
                                    execution_arn=e.get("execution_arn")),
    "rollback": lambda e: flow.rollback(CTX, reason=e.get("reason", "manual rollback"),
                                        execution_arn=e.get("execution_arn"), from_version=e.get("from_version"),
                                        to_version=e.get("to_version")),
    "finish": lambda e: flow.finish(CTX, outcome=e.get("outcome", "succeeded"), state=e.get("state") or {},
                                    execution_arn=e.get("execution_arn")),
}

# Events other services send name no action: EventBridge's by their detail-type, SNS's by EventSource.
NOTIFICATIONS = {
    alerting.EXECUTION_STATUS_CHANGE: lambda e: alerting.execution_status_changed(CTX, e),
    "aws:sns": lambda e: alerting.alarm_notifications(CTX, e["Records"]),
}


def _notification(event):
    return event.get("detail-type") or ((event.get("Records") or [{}])[0].get("EventSource"))


class UnknownActionError(ValueError):
    """The event names an action this function does not have."""


def handler(event, context):
    notification = _notification(event)
    if notification in NOTIFICATIONS:
        return NOTIFICATIONS[notification](event)
    action = event.get("action", "promote")
    if action not in ACTIONS:
        raise UnknownActionError(f"unknown action {action!r}; expected one of {sorted(ACTIONS)}")
    return ACTIONS[action](event)
