"""RecoverFunction: health-check serving; recycle, then roll back (the schedule), or smoke-test the
version just promoted (the SmokeTest state).

Events: ``selfheal.contracts.HealthCheckEvent`` (``{"mode": "scheduled"}``) and ``SmokeTestEvent``
(``{"mode": "smoke_test", "expected_version": ...}``); answer: ``HealthResult``."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import HealthResult, SmokeTestEvent, recover_event
from selfheal.flows.recover import recover, verify

logger = Logger(service="RecoverFunction")
CTX = Context.from_env(services=("lambda",), require=("predict_function_name",))


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> HealthResult:
    request = recover_event(event)
    if isinstance(request, SmokeTestEvent):
        logger.info("smoke test of %s", request.expected_version)
        return verify(CTX, expected_version=request.expected_version, execution_arn=request.execution_arn)
    return recover(CTX, execution_arn=request.execution_arn)
