"""The audit trail (``pk = "AUDIT"`` items of the state table), newest first, filterable by action."""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from fastapi import APIRouter, HTTPException, Query

from console.api.deps import StateDep, decode_token, encode_token

router = APIRouter(prefix="/api", tags=["audit"])

PARTITION = "AUDIT"
_deserializer = TypeDeserializer()
_actions_cache: dict[str, tuple[float, list[str]]] = {}


def _plain(value: Any) -> Any:
    """DynamoDB's Decimal back to int/float, recursively."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def _table(state: StateDep) -> str:
    table = state.output("StateTableName", "StateTable")
    if not table:
        raise HTTPException(404, "the stack has no state table (output StateTableName)")
    return table


@router.get("/audit")
def audit(state: StateDep, action: str | None = None, page: str | None = None,
          limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    ddb = state.cloud.client("dynamodb")
    query: dict[str, Any] = {
        "TableName": _table(state),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
        "ScanIndexForward": False,
    }
    if action:
        query["FilterExpression"] = "#a = :a"
        query["ExpressionAttributeNames"] = {"#a": "action"}
        query["ExpressionAttributeValues"][":a"] = {"S": action}
    start = decode_token(page)
    items: list[dict[str, Any]] = []
    exhausted = False
    while len(items) < limit and not exhausted:
        # With a filter, Limit caps the items *read*, not returned, so read in bigger pages.
        kwargs = dict(query, Limit=200 if action else limit - len(items))
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = ddb.query(**kwargs)
        for raw in resp.get("Items", []):
            items.append({k: _plain(_deserializer.deserialize(v)) for k, v in raw.items()})
            start = {"pk": raw["pk"], "sk": raw["sk"]}
            if len(items) == limit:
                break
        else:
            if "LastEvaluatedKey" in resp:
                start = resp["LastEvaluatedKey"]
            else:
                exhausted = True
    # The next page starts after the last item shown.
    return {"items": items, "next": None if exhausted or not items else encode_token(start)}


@router.get("/audit/actions")
def actions(state: StateDep) -> dict[str, Any]:
    """Distinct actions present in the trail (a projected query; cached for a few seconds)."""
    table = _table(state)
    cached = _actions_cache.get(table)
    if cached and time.monotonic() - cached[0] < 10:
        return {"items": cached[1]}
    ddb = state.cloud.client("dynamodb")
    found: set[str] = set()
    for page in ddb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": PARTITION}},
            ProjectionExpression="#a", ExpressionAttributeNames={"#a": "action"}):
        found.update(i["action"]["S"] for i in page.get("Items", []) if "action" in i)
    _actions_cache[table] = (time.monotonic(), sorted(found))
    return {"items": sorted(found)}
