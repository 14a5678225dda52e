"""PromoteFunction: move the production alias (promote, rollback), record rejections, finish executions."""

import logging

from selfheal.context import Context
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


class UnknownActionError(ValueError):
    """The event names an action this function does not have."""


def handler(event, context):
    action = event.get("action", "promote")
    if action not in ACTIONS:
        raise UnknownActionError(f"unknown action {action!r}; expected one of {sorted(ACTIONS)}")
    return ACTIONS[action](event)
