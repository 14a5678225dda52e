"""TrainFunction: train, export to ONNX, measure parity, publish an immutable model version.

Event: ``selfheal.contracts.TrainRequest`` (the Train state); answer: ``TrainResult``."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import TrainRequest, TrainResult
from selfheal.flows.train import train_version

logger = Logger(service="TrainFunction")
CTX = Context.from_env()


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> TrainResult:
    request = TrainRequest.from_event(event)
    logger.info("training on %s (trigger %s)", request.training_key, request.trigger)
    return train_version(CTX, training_key=request.training_key, fingerprint=request.fingerprint,
                         trigger=request.trigger, execution_arn=request.execution_arn, params=request.params,
                         schema_key=request.schema_key)
