"""TrainFunction: train, export to ONNX, measure parity, publish an immutable model version."""

import logging

from selfheal.context import Context
from selfheal.flows.train import train_version

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env()


def handler(event, context):
    return train_version(CTX, training_key=event["training_key"], fingerprint=event.get("fingerprint", ""),
                         trigger=event.get("trigger", "manual"), execution_arn=event.get("execution_arn"),
                         params=event.get("params"))
