"""The console's web app: JSON API routers, the single page, and errors turned into plain messages."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from console.api import alerts, audit, drift, executions, functions, metrics, models, monitoring, session
from console.api.deps import ConsoleState, require_same_origin
from console.cloud import CloudUnavailableError, unavailable

STATIC = Path(__file__).parent / "static"
ROUTERS = (session.router, executions.router, models.router, drift.router, monitoring.router, audit.router,
           alerts.router, functions.router, metrics.router)
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
# Scripts and styles from our own origin only; the page loads nothing from anywhere else.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

log = logging.getLogger("console")


def create_app(state: ConsoleState, *, loopback: bool = True) -> FastAPI:
    # Every POST/PUT/DELETE, token or not (the unlock form too), must come from our own pages or a script.
    app = FastAPI(title="Self-healing pipeline console", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
                  dependencies=[Depends(require_same_origin)])
    app.state.console = state
    for router in ROUTERS:
        app.include_router(router)
    if loopback:
        # A page on another site cannot reach us through DNS rebinding: its Host header is its own name.
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(CloudUnavailableError)
    async def cloud_down(_: Request, exc: CloudUnavailableError) -> JSONResponse:
        return _down(exc)

    @app.exception_handler(ClientError)
    async def aws_error(_: Request, exc: ClientError) -> JSONResponse:
        err = exc.response.get("Error", {})
        op = getattr(exc, "operation_name", "")
        return JSONResponse({"error": "aws_error", "code": err.get("Code"),
                             "detail": f"{op}: {err.get('Code')}: {err.get('Message')}"}, status_code=502)

    @app.exception_handler(BotoCoreError)
    async def boto_error(_: Request, exc: BotoCoreError) -> JSONResponse:
        down = unavailable(state.cloud, exc)
        if down is not None:
            return _down(down)
        return JSONResponse({"error": "aws_error", "detail": str(exc)}, status_code=502)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        down = unavailable(state.cloud, exc)
        if down is not None:
            return _down(down)
        log.exception("console request failed")
        return JSONResponse({"error": "internal", "detail": f"{type(exc).__name__}: {exc}"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def index(token: str | None = None) -> Response:
        if token is not None:
            # Like Jupyter: the token in the link becomes a cookie, and the link loses it.
            response: Response = RedirectResponse("/", status_code=303)
            if hmac.compare_digest(token.encode(), state.token.encode()):
                session.set_token_cookie(response, state.token)
            return response
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _down(exc: CloudUnavailableError) -> JSONResponse:
    return JSONResponse({"error": "cloud_unavailable", "endpoint": exc.endpoint,
                         "detail": f"the AWS endpoint {exc.endpoint} does not answer ({exc.detail})"},
                        status_code=503)
