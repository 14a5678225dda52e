"""A moto server with the stack's buckets and table, and a model trained in this environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from selfheal import datagen
from selfheal.registry import ModelRegistry
from selfheal.schema import DEFAULT_SCHEMA
from selfheal.training import export_onnx, train_model

REGION = "us-east-1"
MODEL_NAME = "house-prices"


@dataclass(frozen=True)
class Stack:
    """Endpoint and resource names, as template.yaml's Globals pass them to every function."""

    endpoint_url: str
    data_bucket: str = "check-data"
    model_bucket: str = "check-models"
    state_table: str = "check-state"
    state_machine_arn: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "DATA_BUCKET": self.data_bucket, "MODEL_BUCKET": self.model_bucket, "STATE_TABLE": self.state_table,
            "MODEL_NAME": MODEL_NAME, "STATE_MACHINE_ARN": self.state_machine_arn,
            "PREDICT_FUNCTION_NAME": "predict", "POWERTOOLS_SERVICE_NAME": "selfheal",
            "POWERTOOLS_METRICS_NAMESPACE": "SelfHeal",
        }

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.client("s3"), self.model_bucket, MODEL_NAME)


@contextmanager
def moto_stack() -> Iterator[Stack]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        stack = Stack(f"http://{host}:{port}")
        # moto's backends are process-wide: start from empty, whatever another module created.
        requests.post(f"{stack.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()
        s3 = stack.client("s3")
        for bucket in (stack.data_bucket, stack.model_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        stack.client("dynamodb").create_table(
            TableName=stack.state_table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        )
        machine = stack.client("stepfunctions").create_state_machine(
            name="check", roleArn="arn:aws:iam::123456789012:role/check",
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}',
        )
        yield Stack(stack.endpoint_url, state_machine_arn=machine["stateMachineArn"])
    finally:
        server.stop()


def csv_bytes(rows: int, *, seed: int, drift: float = 0.0) -> bytes:
    return datagen.to_csv_bytes(datagen.generate(rows, seed=seed, drift=drift))


def publish_production_model(stack: Stack) -> str:
    """A model trained and exported here (scikit-learn + skl2onnx), published and promoted."""
    trained = train_model(datagen.generate(1500, seed=7), DEFAULT_SCHEMA, n_threads=1)
    registry = stack.registry()
    version = registry.publish_version(export_onnx(trained.pipeline, DEFAULT_SCHEMA), trained.metrics,
                                       {"trigger": "packaging-check"})
    registry.promote(version, reason="packaging check")
    return version
