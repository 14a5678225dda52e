"""Shared dependencies: the cloud, caches of immutable objects, the session token and same-origin checks."""

from __future__ import annotations

import base64
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from fastapi import Depends, HTTPException, Request

from console.cloud import Cloud
from console.logcache import LogCache
from console.metrics import DEFAULT_NAMESPACE
from selfheal.clock import Clock, utc_now

TOKEN_COOKIE = "console_token"
TOKEN_HEADER = "X-Console-Token"
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fetch metadata: a browser says where a request comes from. "none" is the user's own doing (the
# address bar, a bookmark); "same-site" is refused too, since another port on 127.0.0.1 is another app.
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


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
    clock: Clock = utc_now  # lock leases, cooldown windows and audit timestamps

    def output(self, output_key: str, logical_id: str) -> str | None:
        """A stack output, else the physical id of the resource it names."""
        info = self.cloud.info()
        value = info.outputs.get(output_key)
        if value:
            return value
        res = info.resources.get(logical_id)
        return res.get("physical_id") if res else None

    def function_env(self, logical_id: str, output_key: str = "") -> dict[str, str]:
        """A stack function's environment variables (the template's parameters), ``{}`` if it has none."""
        name = self.output(output_key, logical_id)
        if not name:
            return {}
        try:
            conf = self.cloud.client("lambda").get_function_configuration(FunctionName=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return {}
            raise
        return dict((conf.get("Environment") or {}).get("Variables") or {})


def get_state(request: Request) -> ConsoleState:
    return request.app.state.console


StateDep = Annotated[ConsoleState, Depends(get_state)]


def token_ok(request: Request, state: ConsoleState) -> bool:
    given = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
    return hmac.compare_digest(given.encode(), state.token.encode())


def _origin_key(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin, with the scheme's default port filled in."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def cross_site_refusal(request: Request) -> str | None:
    """Why a request comes from another site's page, or ``None`` when it may come from ours.

    The token cookie is SameSite=Strict, but a page on another port of 127.0.0.1 is "same-site" and
    would carry it: the browser's own ``Sec-Fetch-Site`` and ``Origin`` headers tell those apart.
    Requests with neither header (curl, scripts) are left to the token check.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in SAME_ORIGIN_SITES:
        return (f"refused: the request came from another site's page (Sec-Fetch-Site: {site[:40]}); "
                "console actions are accepted only from the console's own pages, or from scripts with the token")
    origin = request.headers.get("origin")
    if origin is not None:
        # Our origin as the browser sees it: the Host it sent (TrustedHostMiddleware vets it on loopback).
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        key = _origin_key(origin)
        if key is None or key != _origin_key(own):
            return (f"refused: the request came from a page of {origin[:100]}, not of the console ({own}); "
                    "console actions are accepted only from the console's own pages")
    return None


def require_same_origin(request: Request) -> None:
    """Mutating requests from another origin's page are refused, whatever token they carry."""
    if request.method in MUTATING_METHODS:
        refusal = cross_site_refusal(request)
        if refusal:
            raise HTTPException(403, refusal)


SameOriginDep = Annotated[None, Depends(require_same_origin)]


def require_token(request: Request, state: StateDep, _: SameOriginDep) -> None:
    """Mutating actions need the session token (cookie set by ``/?token=``, or the header), sent from
    one of the console's own pages or from a script."""
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
