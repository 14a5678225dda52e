"""The Lambda Runtime API, served to one worker process.

Each execution environment gets its own listener on 127.0.0.1 (ephemeral port), so the worker's
``GET /invocation/next`` can only ever receive that environment's invocations, as on AWS where
every sandbox has its own Runtime API endpoint.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

logger = logging.getLogger("localcloud.runtime.api")

PREFIX = "/2018-06-01/runtime"
_HOST = "127.0.0.1"  # loopback only: a function's process is the one client
_INVOCATION = re.compile(PREFIX + r"/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


class Invocation(Protocol):
    request_id: str
    payload: bytes
    invoked_arn: str
    deadline_ms: int
    client_context: str | None


class RuntimeBackend(Protocol):
    """What the API needs from the worker that owns it."""

    def next_invocation(self) -> Invocation | None: ...

    def complete(self, request_id: str, body: bytes, error_type: str | None) -> bool: ...

    def init_failed(self, body: bytes) -> None: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the runtime client reuses one connection
    # Without TCP_NODELAY, Nagle + delayed ACK stall each keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("runtime api: " + format, *args)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        # awslambdaric exits silently when /next has no Content-Type; always send one.
        self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != PREFIX + "/invocation/next":
            self._send(404, b'{"errorType":"NotFound"}')
            return
        inv = self.server.backend.next_invocation()
        if inv is None:  # environment shutting down
            self._send(410, b'{"errorType":"Gone"}')
            self.close_connection = True
            return
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.invoked_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{inv.request_id.replace('-', '')[:24]};Sampled=0",
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        self._send(200, inv.payload, headers)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == PREFIX + "/init/error":
            self.server.backend.init_failed(body)
            self._send(202, b'{"status":"OK"}')
            return
        m = _INVOCATION.match(self.path)
        if not m:
            self._send(404, b'{"errorType":"NotFound"}')
            return
        error_type = None
        if m.group("kind") == "error":
            error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
        if self.server.backend.complete(m.group("id"), body, error_type):
            self._send(202, b'{"status":"OK"}')
        else:
            self._send(400, json.dumps({"errorType": "InvalidRequestID", "errorMessage": "unknown request id"}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, backend: RuntimeBackend):
        super().__init__((_HOST, 0), _Handler)
        self.backend = backend

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: object) -> None:
        # A killed worker (timeout, memory, recycle) drops its connection mid-request: expected.
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class RuntimeApiServer:
    """A Runtime API listener bound to loopback on a free port, run in a daemon thread."""

    def __init__(self, backend: RuntimeBackend):
        self._server = _Server(backend)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        return f"{_HOST}:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
