"""ValidateFunction: the champion/challenger gate.

Event: ``selfheal.contracts.ValidateRequest`` (the Validate state); answer: ``ValidateResult``
(``{"passed": ..., "reasons": [...], ...}``)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import ValidateRequest, ValidateResult
from selfheal.flows.validate import validate_version

logger = Logger(service="ValidateFunction")
CTX = Context.from_env()


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> ValidateResult:
    request = ValidateRequest.from_event(event)
    logger.info("validating %s", request.version)
    return validate_version(CTX, version=request.version, holdout_key=request.holdout_key,
                            execution_arn=request.execution_arn)
