"""A user's view of a running product cloud, read through the AWS APIs and HTTP (shared by tests)."""

from __future__ import annotations

import json

import pandas as pd
import requests

from selfheal import datagen
from selfheal.audit import AuditTrail
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from tests.integration.conftest import wait_for

MODEL = "house-prices"


class Story:
    def __init__(self, cloud):
        self.cloud = cloud
        self.data_bucket = cloud.output("DataBucketName")
        self.model_bucket = cloud.output("ModelBucketName")
        self.sm_arn = cloud.output("StateMachineArn")
        self.s3 = cloud.client("s3")
        self.sfn = cloud.client("stepfunctions")
        self.lam = cloud.client("lambda")
        self.ddb = cloud.client("dynamodb")

    # ---- reading state through the AWS APIs -------------------------------------------------
    def alias(self) -> str | None:
        try:
            body = self.s3.get_object(Bucket=self.model_bucket, Key=f"models/{MODEL}/aliases/production.json")["Body"]
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body.read())["version"]

    def executions(self) -> list[dict]:
        return self.sfn.list_executions(stateMachineArn=self.sm_arn, maxResults=100)["executions"]

    def wait_new_execution(self, known: set[str], timeout: float = 120) -> dict:
        new = wait_for(lambda: [e for e in self.executions() if e["executionArn"] not in known], timeout=timeout,
                       message="a new execution")
        assert len(new) == 1, [e["name"] for e in new]
        arn = new[0]["executionArn"]
        return wait_for(lambda: (d := self.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
                        timeout=timeout, message="the execution to finish")

    def path(self, arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def audit(self, action: str | None = None, execution_arn: str | None = None) -> list[dict]:
        """Audit items, newest first, read as a user would (the library's paging reader)."""
        items = AuditTrail(self.ddb, self.cloud.output("StateTableName")).list(action=action, limit=10_000)
        return [i for i in items if execution_arn is None or i.get("execution_arn") == execution_arn]

    def predict(self, body=None, **kwargs) -> requests.Response:
        return requests.post(f"{self.cloud.api_url}/predict", json=body if body is not None else SCHEMA.example_record(),
                             timeout=60, **kwargs)

    def upload(self, name: str, frame: pd.DataFrame | bytes, prefix: str = "incoming/") -> str:
        body = frame if isinstance(frame, bytes) else datagen.to_csv_bytes(frame)
        key = prefix + name
        self.s3.put_object(Bucket=self.data_bucket, Key=key, Body=body)
        return key

    def set_env(self, logical_id: str, **values: str) -> None:
        name = self.cloud.physical(logical_id)
        env = self.lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        env.update(values)
        self.lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})

    def invoke(self, logical_id: str, payload: dict) -> dict:
        resp = self.lam.invoke(FunctionName=self.cloud.physical(logical_id), Payload=json.dumps(payload).encode())
        body = json.loads(resp["Payload"].read())
        assert not resp.get("FunctionError"), body
        return body
