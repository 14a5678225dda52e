"""Recycling the predict function, against moto's Lambda API in-process (nothing is invoked).

With an alias (AutoPublishAlias) a configuration update alone would not replace the environments
that serve the alias: a published version is immutable. The recycle therefore publishes the update
and moves the alias to it; without an alias it stays a plain configuration update.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from selfheal.audit import AuditAction
from selfheal.config import Settings
from selfheal.context import Context
from selfheal.flows.recover import recycle
from selfheal.telemetry import Telemetry
from tests.functional.conftest import STATE_TABLE, FakeClock

PREDICT = "predict"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def lam(ddb: Any) -> Iterator[Any]:
    """PredictFunction as the deploy leaves it: version 1 published, alias `live` on it."""
    role = boto3.client("iam").create_role(RoleName="predict", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    client = boto3.client("lambda")
    client.create_function(FunctionName=PREDICT, Runtime="python3.11", Role=role, Handler="app.handler",
                           Code={"ZipFile": _zip()}, Environment={"Variables": {"MODEL_NAME": "house-prices"}})
    version = client.publish_version(FunctionName=PREDICT)["Version"]
    client.create_alias(FunctionName=PREDICT, Name="live", FunctionVersion=version)
    yield client


def _context(ddb: Any, lam: Any, *, alias: str, emitted: list[str]) -> Context:
    settings = Settings(data_bucket="data", model_bucket="models", state_table=STATE_TABLE,
                        predict_function_name=PREDICT, predict_function_alias=alias)
    return Context(settings=settings, s3=boto3.client("s3"), dynamodb=ddb, clock=FakeClock(), lambda_client=lam,
                   telemetry=Telemetry(write=emitted.append))


def test_recycle_publishes_the_update_and_moves_the_alias_to_it(ddb, lam):
    emitted: list[str] = []
    ctx = _context(ddb, lam, alias="live", emitted=emitted)

    out = recycle(ctx, attempt=1, execution_arn="arn:exec:1", waiter_config={"Delay": 1, "MaxAttempts": 2})

    alias = lam.get_alias(FunctionName=PREDICT, Name="live")
    served = lam.get_function_configuration(FunctionName=PREDICT, Qualifier="live")
    assert out == {"attempt": 1, "action": "recycle", "function": PREDICT, "alias": "live", "version": "2"}
    assert alias["FunctionVersion"] == "2"
    assert served["Environment"]["Variables"]["RECYCLED_AT"] == ctx.clock.now.isoformat()
    assert served["Environment"]["Variables"]["MODEL_NAME"] == "house-prices"  # the rest is kept
    (item,) = ctx.audit.list(AuditAction.RECYCLED)
    assert item["details"] == {"function": PREDICT, "alias": "live", "version": "2"}
    assert item["execution_arn"] == "arn:exec:1"
    assert len(emitted) == 1 and '"action":"recycle"' in emitted[0]


def test_recycle_without_an_alias_only_updates_the_configuration(ddb, lam):
    ctx = _context(ddb, lam, alias="", emitted=[])

    out = recycle(ctx, attempt=1, execution_arn=None)

    assert out == {"attempt": 1, "action": "recycle", "function": PREDICT}
    assert "RECYCLED_AT" in lam.get_function_configuration(FunctionName=PREDICT)["Environment"]["Variables"]
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=PREDICT)["Versions"]] == ["$LATEST", "1"]
    assert lam.get_alias(FunctionName=PREDICT, Name="live")["FunctionVersion"] == "1"
