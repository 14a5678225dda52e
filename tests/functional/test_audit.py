"""Audit trail against moto's DynamoDB: one item per decision, time-ordered, floats intact."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from selfheal.audit import AuditAction, AuditTrail

TABLE = "state-table"


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def ddb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        # The key schema template.yaml declares for StateTable.
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def audit(ddb: Any, clock: FakeClock) -> AuditTrail:
    return AuditTrail(ddb, TABLE, clock=clock)


def test_record_writes_one_item_with_reason_and_execution(audit: AuditTrail, ddb: Any) -> None:
    item = audit.record(
        AuditAction.DRIFT_DETECTED,
        "5 of 8 columns drifted",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:sm:1",
        details={"drifted_share": 0.625},
    )

    assert item["action"] == "drift_detected"
    assert item["reason"] == "5 of 8 columns drifted"
    assert item["execution_arn"].endswith(":execution:sm:1")
    assert item["timestamp"] == "2024-05-01T12:00:00.000000Z"
    assert item["sk"].startswith("2024-05-01T12:00:00.000000Z#")
    assert ddb.scan(TableName=TABLE)["Count"] == 1


def test_details_keep_floats_ints_nesting_and_non_finite_values(audit: AuditTrail) -> None:
    details = {
        "rmse": 0.1 + 0.2,  # not exactly representable: must still round-trip bit for bit
        "rows": 20000,
        "ratio": math.inf,
        "r2": float("nan"),
        "numpy": np.float64(1.5),
        "columns": ("MedInc", "HouseAge"),
        "scores": {"MedInc": {"score": 0.31, "drifted": True}},
        "none": None,
    }
    audit.record("validated", "passed gate", details=details)

    [stored] = audit.list()
    got = stored["details"]
    assert got["rmse"] == 0.1 + 0.2 and isinstance(got["rmse"], float)
    assert got["rows"] == 20000 and isinstance(got["rows"], int)
    assert got["ratio"] == math.inf
    assert math.isnan(got["r2"])
    assert got["numpy"] == 1.5
    assert got["columns"] == ["MedInc", "HouseAge"]
    assert got["scores"] == {"MedInc": {"score": 0.31, "drifted": True}}
    assert got["none"] is None
    assert not any(isinstance(v, Decimal) for v in got.values())


def test_list_is_time_ordered_limited_and_filterable(audit: AuditTrail, clock: FakeClock) -> None:
    actions = ["drift_detected", "retrain_started", "validated", "promoted", "health_ok"] * 3
    for action in actions:
        audit.record(action, f"{action} happened")
        clock.advance(1)

    newest = audit.list(limit=4)
    assert [i["action"] for i in newest] == ["health_ok", "promoted", "validated", "retrain_started"]
    assert [i["action"] for i in audit.list(newest_first=False, limit=2)] == [
        "drift_detected",
        "retrain_started",
    ]
    assert len(audit.list()) == 15

    promoted = audit.list(action=AuditAction.PROMOTED, limit=2)
    assert [i["action"] for i in promoted] == ["promoted", "promoted"]
    assert promoted[0]["timestamp"] > promoted[1]["timestamp"]
    assert len(audit.list(action="promoted")) == 3
    assert audit.list(action="rolled_back") == []


def test_decisions_in_the_same_instant_are_all_kept(audit: AuditTrail) -> None:
    first = audit.record("fixed", "filled 3 missing values")
    second = audit.record("fixed", "capped 2 outliers")
    assert first["sk"] != second["sk"]
    assert len(audit.list()) == 2


def test_unknown_action_is_refused(audit: AuditTrail) -> None:
    with pytest.raises(ValueError):
        audit.record("promotted", "typo")
    assert audit.list() == []
