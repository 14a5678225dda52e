"""Mutating console requests from another site's page are refused, token or not (no cloud needed:
the checks answer before any AWS call)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from console.api.deps import MUTATING_METHODS, ConsoleState
from console.app import create_app
from console.cloud import Cloud

TOKEN = "unit-test-token"
OWN = "http://127.0.0.1:8080"


class Client:
    """The app called in-process through httpx's ASGI transport (starlette's TestClient wants httpx2)."""

    def __init__(self, app: FastAPI, base_url: str = OWN) -> None:
        self.app, self.base_url = app, base_url

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url=self.base_url) as c:
                return await c.request(method, path, **kwargs)
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, send()).result()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


def _app() -> FastAPI:
    # Nothing listens on port 9: a request that got past the checks to AWS would fail with a 503.
    return create_app(ConsoleState(cloud=Cloud(None, endpoint_url="http://127.0.0.1:9"), token=TOKEN))


@pytest.fixture
def client() -> Client:
    return Client(_app())


def _mutating_routes(client: Client) -> list[tuple[str, str]]:
    """Every mutating route the app serves, from its OpenAPI schema (the routers' own list)."""
    return [(method.upper(), path) for path, ops in client.app.openapi()["paths"].items()
            for method in ops if method.upper() in MUTATING_METHODS]


def test_every_mutating_route_refuses_another_sites_page_even_with_the_token(client: Client) -> None:
    routes = _mutating_routes(client)
    assert ("POST", "/api/models/promote") in routes and ("POST", "/api/execution/restart") in routes
    assert ("POST", "/api/session") in routes  # the unlock form too
    attacks = [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"},
               {"Origin": "http://127.0.0.1:9999"}, {"Origin": "null"}, {"Origin": "https://127.0.0.1:8080"}]
    for method, path in routes:
        for headers in attacks:
            resp = client.request(method, path, json={"token": TOKEN, "version": "v0001", "arn": "x"},
                                  headers={"X-Console-Token": TOKEN, **headers})
            assert resp.status_code == 403, (method, path, headers, resp.text)
            detail = resp.json()["detail"]
            assert detail.startswith("refused: the request came from"), detail
            assert "console's own pages" in detail


def test_the_refusal_names_where_the_request_came_from(client: Client) -> None:
    resp = client.post("/api/models/rollback", json={}, headers={"X-Console-Token": TOKEN,
                                                                  "Origin": "http://evil.example:8080"})
    assert resp.status_code == 403
    assert "http://evil.example:8080" in resp.json()["detail"] and OWN in resp.json()["detail"]
    resp = client.post("/api/models/rollback", json={}, headers={"X-Console-Token": TOKEN,
                                                                  "Sec-Fetch-Site": "cross-site"})
    assert "Sec-Fetch-Site: cross-site" in resp.json()["detail"]


@pytest.mark.parametrize("headers", [
    {},  # curl, a script: left to the token
    {"Sec-Fetch-Site": "same-origin", "Origin": OWN},  # the console's own page
    {"Sec-Fetch-Site": "none"},  # typed by the user
    {"Origin": "HTTP://127.0.0.1:8080"},  # scheme and host compare case-insensitively
])
def test_own_pages_and_scripts_with_the_token_are_served(client: Client, headers: dict[str, str]) -> None:
    resp = client.post("/api/session", json={"token": TOKEN}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"authorized": True}


def test_a_default_port_matches_an_origin_without_one() -> None:
    c = Client(_app(), base_url="http://localhost")
    assert c.post("/api/session", json={"token": TOKEN}, headers={"Origin": "http://localhost:80"}).status_code == 200
    assert c.post("/api/session", json={"token": TOKEN}, headers={"Origin": "http://localhost:81"}).status_code == 403


def test_reads_are_not_affected(client: Client) -> None:
    # A GET is never refused for its origin (the page's own fetches, a bookmarked link).
    resp = client.get("/static/js/main.js", headers={"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"})
    assert resp.status_code == 200
