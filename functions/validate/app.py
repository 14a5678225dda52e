"""ValidateFunction: the champion/challenger gate. Returns {"passed": ..., "reasons": [...]}."""

import logging

from selfheal.context import Context
from selfheal.flows.validate import validate_version

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env()


def handler(event, context):
    return validate_version(CTX, version=event["version"], holdout_key=event["holdout_key"],
                            execution_arn=event.get("execution_arn"))
