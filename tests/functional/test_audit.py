"""Audit trail against moto's DynamoDB: one item per decision, time-ordered, floats intact."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from selfheal.audit import AuditAction, AuditTrail
from tests.functional.conftest import STATE_TABLE as TABLE
from tests.functional.conftest import FakeClock


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
