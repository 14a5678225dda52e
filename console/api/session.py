"""Overview (is the cloud up, what is deployed) and the session: unlocking mutating actions."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel

from console.api.deps import TOKEN_COOKIE, StateDep, token_ok

router = APIRouter(prefix="/api", tags=["session"])


@router.get("/overview")
def overview(request: Request, state: StateDep) -> dict[str, Any]:
    """Never fails: says whether the endpoint answers, so the page can say so instead of erroring."""
    info = state.cloud.info()
    result: dict[str, Any] = {"endpoint": state.cloud.endpoint, "region": info.region, "stack_name": info.stack_name,
                              "outputs": info.outputs, "api_url": info.api_url, "authorized": token_ok(request, state),
                              "reachable": False, "problem": None}
    try:
        state.cloud.client("stepfunctions").list_state_machines(maxResults=1)
        result["reachable"] = True
    except Exception as exc:  # noqa: BLE001 - any failure here is reported, that is this route's job
        result["problem"] = type(exc).__name__
    return result


class Unlock(BaseModel):
    token: str


def set_token_cookie(response: Response, token: str) -> None:
    # HttpOnly: page scripts never see it; SameSite=Strict: no other site can send it with a request.
    response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")


@router.post("/session")
def unlock(body: Unlock, response: Response, state: StateDep) -> dict[str, bool]:
    if not hmac.compare_digest(body.token.strip().encode(), state.token.encode()):
        raise HTTPException(403, "wrong token")
    set_token_cookie(response, state.token)
    return {"authorized": True}
