"""Alerts: the ``alert_sent`` items of the audit trail (``selfheal.alerts``), newest first.

Each row links to the decision it is about (``details.about``, an audit item's sort key); that
item's action is read with one BatchGetItem per page, so the link can say what it leads to.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from console.actions import alert_kinds
from console.api.audit import ALERT_SENT, PARTITION, SK_MAX, get_item, plain_item, query_page, table_name
from console.api.deps import ConsoleState, StateDep
from console.monitoring import alert_row

router = APIRouter(prefix="/api", tags=["alerts"])

BATCH_GET_MAX = 100  # DynamoDB: at most 100 keys per BatchGetItem
BATCH_GET_ATTEMPTS = 3  # UnprocessedKeys (throttling) are asked again, then left without a label


def _with_about(state: ConsoleState, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row's ``about_action`` and ``about_timestamp``: what its link leads to (``None`` if gone)."""
    table = table_name(state)
    ddb = state.cloud.client("dynamodb")
    wanted = sorted({r["about"] for r in rows if isinstance(r.get("about"), str)})
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(wanted), BATCH_GET_MAX):
        request: dict[str, Any] = {table: {
            "Keys": [{"pk": {"S": PARTITION}, "sk": {"S": sk}} for sk in wanted[i:i + BATCH_GET_MAX]],
            "ProjectionExpression": "sk, #a, #t", "ExpressionAttributeNames": {"#a": "action", "#t": "timestamp"}}}
        for _ in range(BATCH_GET_ATTEMPTS):
            resp = ddb.batch_get_item(RequestItems=request)
            found.update({i["sk"]: i for i in map(plain_item, resp.get("Responses", {}).get(table, []))})
            request = resp.get("UnprocessedKeys") or {}
            if not request:
                break
    for row in rows:
        about = found.get(row.get("about") or "")
        row["about_action"] = about.get("action") if about else None
        row["about_timestamp"] = about.get("timestamp") if about else None
    return rows


@router.get("/alerts")
def alerts(state: StateDep, kind: str | None = None, since: str | None = None, page: str | None = None,
           limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    """Newest first; ``kind`` keeps one alert kind, ``since`` (ISO-8601) the alerts at or after a time."""
    kinds = alert_kinds()
    if kind and kind not in {k["kind"] for k in kinds}:
        raise HTTPException(400, f"unknown alert kind {kind[:60]!r}; one of: {', '.join(k['kind'] for k in kinds)}")
    items, nxt = query_page(state, action=ALERT_SENT, kind=kind, since=since, page=page, limit=limit)
    return {"items": _with_about(state, [alert_row(i) for i in items]), "next": nxt, "kinds": kinds}


@router.get("/alerts/item")
def alert(state: StateDep, sk: str = Query(..., min_length=1, max_length=SK_MAX)) -> dict[str, Any]:
    """One alert by the sort key of its ``alert_sent`` item (what an audit item's alert badge links to)."""
    item = get_item(state, sk)
    if item.get("action") != ALERT_SENT:
        raise HTTPException(404, f"audit item {sk!r} is a {item.get('action')!r} decision, not an alert")
    return _with_about(state, [alert_row(item)])[0]
