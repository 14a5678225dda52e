"""Shared dependencies: the cloud, caches of immutable objects, and the session token check."""

from __future__ import annotations

import base64
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from console.cloud import Cloud
from console.logcache import LogCache
from console.metrics import DEFAULT_NAMESPACE

TOKEN_COOKIE = "console_token"
TOKEN_HEADER = "X-Console-Token"


class ImmutableCache:
    """A bounded map for things that never change once written (finished executions, manifests)."""

    def __init__(self, limit: int = 20_000) -> None:
        self._data: dict[str, Any] = {}
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            return self._data.get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self._limit:
                self._data.pop(next(iter(self._data)))
            self._data[key] = value

    def drop(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)


@dataclass
class ConsoleState:
    """Everything a request needs, built once when the app starts."""

    cloud: Cloud
    token: str
    model_name: str | None = None
    metrics_namespace: str = DEFAULT_NAMESPACE  # CloudWatch namespace served at /metrics
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=8))
    cache: ImmutableCache = field(default_factory=ImmutableCache)
    logs: LogCache = field(default_factory=LogCache)

    def output(self, output_key: str, logical_id: str) -> str | None:
        """A stack output, else the physical id of the resource it names."""
        info = self.cloud.info()
        value = info.outputs.get(output_key)
        if value:
            return value
        res = info.resources.get(logical_id)
        return res.get("physical_id") if res else None


def get_state(request: Request) -> ConsoleState:
    return request.app.state.console


StateDep = Annotated[ConsoleState, Depends(get_state)]


def token_ok(request: Request, state: ConsoleState) -> bool:
    given = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
    return hmac.compare_digest(given.encode(), state.token.encode())


def require_token(request: Request, state: StateDep) -> None:
    """Mutating actions need the session token (cookie set by ``/?token=``, or the header)."""
    if not token_ok(request, state):
        raise HTTPException(403, "this action needs the console's session token: open the link printed "
                                 "in the terminal by `make up` (http://.../?token=...), or paste the token")


TokenDep = Annotated[None, Depends(require_token)]


def encode_token(value: Any) -> str | None:
    """An opaque page token for the browser (``None`` when there is no next page)."""
    if value is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(value, default=str).encode()).decode()


def decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise HTTPException(400, "invalid page token") from exc
