"""Functional tier: moto in-process. The mock starts before any client exists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

STATE_TABLE = "state-table"


class FakeClock:
    """A clock tests move by hand; ``tick`` makes every reading distinct, like a real clock."""

    def __init__(self, tick: timedelta = timedelta(0)) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self._tick = tick

    def __call__(self) -> datetime:
        self.now += self._tick
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        self.now += timedelta(seconds=seconds, **delta)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def ddb(aws_env: None) -> Iterator[Any]:
    """A DynamoDB client with the StateTable key schema template.yaml declares (pk, sk)."""
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=STATE_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
