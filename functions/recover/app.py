"""RecoverFunction: health-check serving; recycle, then roll back (scheduled), or verify after promotion."""

import logging

from selfheal.context import Context
from selfheal.flows.recover import recover, verify

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env(services=("lambda",), require=("predict_function_name",))


def handler(event, context):
    if event.get("mode") == "verify":
        return verify(CTX, expected_version=event["expected_version"], execution_arn=event.get("execution_arn"))
    return recover(CTX, execution_arn=event.get("execution_arn"))
