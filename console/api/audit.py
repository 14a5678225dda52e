"""The audit trail (``pk = "AUDIT"`` items of the state table), newest first, filterable by action.

Each item comes with the alerts sent about it: ``alert_sent`` items whose ``details.about`` is its
sort key. An alert is audited right after the decision it is about, so they are looked for only
among the items from the page's oldest to an hour after its newest (``ALERT_LAG``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from fastapi import APIRouter, HTTPException, Query

from console.actions import audit_actions
from console.api.deps import ConsoleState, StateDep, decode_token, encode_token
from console.monitoring import alert_link
from selfheal.audit import AuditAction
from selfheal.clock import isoformat

router = APIRouter(prefix="/api", tags=["audit"])

PARTITION = "AUDIT"
ALERT_SENT = AuditAction.ALERT_SENT.value
ALERT_LAG = timedelta(hours=1)
SK_MAX = 128  # "2024-05-01T12:00:00.123456Z#<12 hex>" is 40 characters
_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB's Decimal back to int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def plain_item(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in raw.items()}


def table_name(state: ConsoleState) -> str:
    table = state.output("StateTableName", "StateTable")
    if not table:
        raise HTTPException(404, "the stack has no state table (output StateTableName)")
    return table


def sk_bound(since: str) -> str:
    """A sort-key lower bound for an ISO-8601 time (sort keys start with the fixed-width UTC time)."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise HTTPException(400, f"since: not an ISO-8601 time: {since[:60]!r}") from exc
    if moment.tzinfo is None:
        raise HTTPException(400, "since: give a time zone (e.g. 2026-01-01T00:00:00Z)")
    return isoformat(moment)


def query_page(state: ConsoleState, *, action: str | None = None, kind: str | None = None, since: str | None = None,
               page: str | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """One page of audit items, newest first: of one ``action`` (and alert ``kind``), at or after ``since``."""
    ddb = state.cloud.client("dynamodb")
    query: dict[str, Any] = {
        "TableName": table_name(state),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
        "ScanIndexForward": False,
    }
    if since:
        query["KeyConditionExpression"] += " AND sk >= :since"
        query["ExpressionAttributeValues"][":since"] = {"S": sk_bound(since)}
    filters, names = [], {}
    if action:
        filters.append("#a = :a")
        names["#a"] = "action"
        query["ExpressionAttributeValues"][":a"] = {"S": action}
    if kind:
        filters.append("#d.#k = :k")
        names.update({"#d": "details", "#k": "kind"})
        query["ExpressionAttributeValues"][":k"] = {"S": kind}
    if filters:
        query["FilterExpression"] = " AND ".join(filters)
        query["ExpressionAttributeNames"] = names
    start = decode_token(page)
    items: list[dict[str, Any]] = []
    exhausted = False
    while len(items) < limit and not exhausted:
        # With a filter, Limit caps the items *read*, not returned, so read in bigger pages.
        kwargs = dict(query, Limit=200 if filters else limit - len(items))
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = ddb.query(**kwargs)
        for raw in resp.get("Items", []):
            items.append(plain_item(raw))
            start = {"pk": raw["pk"], "sk": raw["sk"]}
            if len(items) == limit:
                break
        else:
            if "LastEvaluatedKey" in resp:
                start = resp["LastEvaluatedKey"]
            else:
                exhausted = True
    # The next page starts after the last item shown.
    return items, None if exhausted or not items else encode_token(start)


def _time_of(sk: str) -> datetime | None:
    try:
        return datetime.fromisoformat(sk.split("#", 1)[0])
    except ValueError:
        return None


def linked_alerts(state: ConsoleState, items: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``{sort key: [alerts about that item]}`` for the given audit items (oldest alert first)."""
    sks = sorted(str(i["sk"]) for i in items if i.get("sk"))
    newest = _time_of(sks[-1]) if sks else None
    if newest is None:
        return {}
    wanted = set(sks)
    found: dict[str, list[dict[str, Any]]] = {}
    paginator = state.cloud.client("dynamodb").get_paginator("query")
    for page in paginator.paginate(
            TableName=table_name(state), KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            FilterExpression="#a = :alert", ProjectionExpression="sk, #d.#id, #d.#k, #d.#ab",
            ExpressionAttributeNames={"#a": "action", "#d": "details", "#id": "alert_id", "#k": "kind", "#ab": "about"},
            ExpressionAttributeValues={":pk": {"S": PARTITION}, ":lo": {"S": sks[0]},
                                       ":hi": {"S": isoformat(newest + ALERT_LAG) + "~"}, ":alert": {"S": ALERT_SENT}}):
        for raw in page.get("Items", []):
            item = plain_item(raw)
            about = (item.get("details") or {}).get("about")
            if about in wanted:
                found.setdefault(about, []).append(alert_link(item))
    return found


def with_alerts(state: ConsoleState, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    links = linked_alerts(state, items)
    for item in items:
        item["alerts"] = links.get(item.get("sk", ""), [])
    return items


def get_item(state: ConsoleState, sk: str) -> dict[str, Any]:
    raw = state.cloud.client("dynamodb").get_item(
        TableName=table_name(state), Key={"pk": {"S": PARTITION}, "sk": {"S": sk}}).get("Item")
    if raw is None:
        raise HTTPException(404, f"no audit item {sk[:SK_MAX]!r}")
    return plain_item(raw)


@router.get("/audit")
def audit(state: StateDep, action: str | None = None, page: str | None = None,
          limit: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    items, nxt = query_page(state, action=action, page=page, limit=limit)
    return {"items": with_alerts(state, items), "next": nxt}


@router.get("/audit/item")
def audit_item(state: StateDep, sk: str = Query(..., min_length=1, max_length=SK_MAX)) -> dict[str, Any]:
    """One decision by its sort key (what an alert links to), with the alerts sent about it."""
    return with_alerts(state, [get_item(state, sk)])[0]


@router.get("/audit/actions")
def actions() -> dict[str, Any]:
    """Every action the pipeline can record (``selfheal.audit.AuditAction``): its description and tone."""
    return {"items": audit_actions()}
