"""PromoteFunction: move the production alias (promote, rollback), record rejections, and finish
executions (release the execution's lock, audit its outcome): the actions of
``selfheal.contracts.PromoteAction``, each with its request class.

It also turns what other services report into alerts: EventBridge's execution status changes of the
self-healing state machine, and the CloudWatch alarm notifications on the alert topic (SNS)."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import FinishRequest, PromoteAction, PromoteRequest, RejectRequest, RollbackRequest
from selfheal.exceptions import StepInputError
from selfheal.flows import alerting
from selfheal.flows import promote as flow

logger = Logger(service="PromoteFunction")
CTX = Context.from_env()


def _promote(event: dict) -> Any:
    r = PromoteRequest.from_event(event)
    return flow.promote(CTX, version=r.version, training_key=r.training_key, reason=r.reason,
                        execution_arn=r.execution_arn)


def _reject(event: dict) -> Any:
    r = RejectRequest.from_event(event)
    return flow.reject(CTX, version=r.version, reasons=r.reasons, execution_arn=r.execution_arn)


def _rollback(event: dict) -> Any:
    r = RollbackRequest.from_event(event)
    return flow.rollback(CTX, reason=r.reason, execution_arn=r.execution_arn, from_version=r.from_version,
                         to_version=r.to_version)


def _finish(event: dict) -> Any:
    return flow.finish(CTX, FinishRequest.from_event(event))


ACTIONS: dict[PromoteAction, Callable[[dict], Any]] = {
    PromoteAction.PROMOTE: _promote,
    PromoteAction.REJECT: _reject,
    PromoteAction.ROLLBACK: _rollback,
    PromoteAction.FINISH: _finish,
}


def _is_execution_status_change(event: dict) -> bool:
    return event.get("detail-type") == alerting.EXECUTION_STATUS_CHANGE


def _is_sns(event: dict) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and bool(records) and records[0].get("EventSource") == "aws:sns"


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> Any:
    # Events other services send name no action: EventBridge's by their detail-type, SNS's by EventSource.
    if _is_execution_status_change(event):
        return alerting.execution_status_changed(CTX, EventBridgeEvent(event))
    if _is_sns(event):
        return alerting.alarm_notifications(CTX, SNSEvent(event))
    action = event.get("action", PromoteAction.PROMOTE)
    if action not in tuple(PromoteAction):
        raise StepInputError(f"PromoteFunction: unknown action {action!r}; "
                             f"expected one of {[a.value for a in PromoteAction]}")
    logger.info("action %s", action)
    return ACTIONS[PromoteAction(action)](event)
