"""moto's AWS APIs served on one port, with keep-alive and a fast path for Lambda Invoke.

werkzeug's development server (under moto's ThreadedMotoServer) answers every request with
``Connection: close`` and then drains the socket for up to 10 ms, so every boto3 call paid a new TCP
connection and a new thread. The handler here keeps connections alive: it reads the whole request
body, buffers the response and sends it with a Content-Length. It also sets TCP_NODELAY (without
it, Nagle's algorithm plus delayed ACK stall each keep-alive response by ~40 ms).

Lambda ``Invoke`` is the hot call (every Step Functions task, every benchmark). moto's generic
dispatch costs ~4 ms per request, so ``POST /2015-03-31/functions/{name}/invocations`` goes straight
to the Lambda bridge; everything else, including Invoke of an unknown function, goes to moto.

An Invoke body over Lambda's payload limit (limits.py) is answered with AWS's 413
RequestEntityTooLargeException before it is read into memory, whichever path would have served it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from werkzeug.serving import BaseWSGIServer, make_server

from . import motoseam
from .limits import InvokeLimit, invoke_limit, read_body
from .motoseam.server import RequestHandler
from .runtime.worker import KillReason

logger = logging.getLogger("localcloud.api")

_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")
FAULTS_PATH = "/_localcloud/faults"
_STATUS = {200: "200 OK", 202: "202 Accepted", 204: "204 No Content"}

# (function name or ARN, qualifier, request headers, body) -> (status, response headers, body), or None
# when the function is unknown (moto then answers with its own ResourceNotFoundException).
FastInvoke = Callable[[str, str | None, dict[str, str], bytes], tuple[int, dict[str, str], bytes] | None]

# (action, request parameters, region) -> (status, response headers, body), or None to let moto answer.
QueryApi = Callable[[str, dict[str, str], str], tuple[int, dict[str, str], bytes] | None]

# The signing service and region of a SigV4 request: "Credential=<key>/<date>/<region>/<service>/aws4_request".
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")


class _KeepAliveHandler(RequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        logger.debug("%s %s %s", self.command, self.path, code)

    def run_wsgi(self) -> None:
        # "Expect: 100-continue" was already answered by http.server's parse_request (HTTP/1.1).
        environ = self.make_environ()
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        limit = _body_limit(self.command, self.path, self.headers.get("X-Amz-Invocation-Type"))
        if limit is not None:
            read = environ["wsgi.input"].read if chunked else self.rfile.read
            limited = read_body(read, None if chunked else int(self.headers.get("Content-Length") or 0),
                                limit.max_bytes)
            if limited.data is None:
                err = limit.error(limited.size)
                logger.warning("%s %s refused: %s", self.command, self.path, err)
                status, headers, data = error_response(err.status, err.error_type, str(err))
                # Closed after the answer: a client that sent too much may not be at a request boundary.
                self._send(status, HTTPStatus(status).phrase,
                           [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4())),
                            *headers.items()], data, close=True)
                return
            body = limited.data
        elif chunked:
            body = environ["wsgi.input"].read()  # werkzeug's de-chunking reader
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input_terminated"] = True
        response: dict[str, Any] = {}
        early: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            response["status"], response["headers"] = status, headers
            return early.append

        try:
            chunks = self.server.app(environ, start_response)  # type: ignore[attr-defined]
            try:
                data = b"".join(early) + b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception:  # noqa: BLE001 - a bug in a backend answers 500 and keeps the server up, as moto does
            logger.exception("%s %s failed", self.command, self.path)
            response = {"status": "500 Internal Server Error", "headers": [("Content-Type", "text/plain")]}
            data = b"internal error in the local cloud; see its log"
        code, _, reason = response["status"].partition(" ")
        self._send(int(code), reason, response["headers"], data)

    def _send(self, code: int, reason: str, headers: list[tuple[str, str]], data: bytes, *,
              close: bool = False) -> None:
        self.send_response(code, reason)
        head = self.command == "HEAD"
        for key, value in headers:
            # A HEAD answer keeps the Content-Length of the body it describes (S3 HeadObject).
            if key.lower() in ("connection", "transfer-encoding") or (key.lower() == "content-length" and not head):
                continue
            self.send_header(key, value)
        if not head or not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")  # also makes http.server close the connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _body_limit(method: str, target: str, invocation_type: str | None) -> InvokeLimit | None:
    """The payload limit of a Lambda Invoke request; None for every other request."""
    if method == "POST" and _INVOKE.match(urlsplit(target).path):
        return invoke_limit(invocation_type)
    return None


class _App:
    def __init__(self, moto_app: Any):
        self.moto_app = moto_app
        self.fast_invoke: FastInvoke | None = None
        # Set by the cloud when the data directory is kept: notes the writes a request makes and
        # journals them before the response leaves (see persistence/).
        self.persistence: Any = None
        # Fault injection (faults.py): rules set over /_localcloud/faults, and how to apply them.
        self.faults: Any = None
        self.function_names: Callable[[], list[str]] = list
        self.kill_running: Callable[[str, KillReason], int] = lambda name, reason: 0
        # Query-protocol actions the cloud answers itself, by signing service (cloudformation.py).
        self.query_apis: dict[str, QueryApi] = {}
        # Told of every successful query-protocol write moto answered, by signing service:
        # (action, params, region, response body). Service events moto does not emit (ec2events.py).
        self.query_observers: dict[str, Callable[[str, dict[str, str], str, bytes], None]] = {}
        # Handlers for JSON-protocol operations moto lacks, by X-Amz-Target.
        self.extra_targets: dict[str, Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]] = {}
        # moto checks a condition and then writes in separate Python steps, so two threads can both
        # win an S3 IfNoneMatch put or a DynamoDB conditional write. AWS makes those atomic; here every
        # mutating request to moto runs one at a time.
        self._write_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        fast = self.fast_invoke
        if fast is not None and environ.get("REQUEST_METHOD") == "POST":
            m = _INVOKE.match(environ.get("PATH_INFO", ""))
            if m:
                body = _request_body(environ)
                headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
                qualifier = (parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier") or [None])[0]
                answer = fast(unquote(m.group(1)), qualifier, headers, body)
                if answer is not None:
                    status, resp_headers, data = answer
                    resp_headers = {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                    "x-amzn-RequestId": str(uuid.uuid4()), **resp_headers}
                    start_response(_STATUS.get(status, f"{status} Error"), list(resp_headers.items()))
                    return [data]
                environ["wsgi.input"] = _Replay(body)
        if environ.get("PATH_INFO") == FAULTS_PATH and self.faults is not None:
            return self._faults(environ, start_response)
        if self.query_apis:
            answered = self._query(environ, start_response)
            if answered is not None:
                return answered
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return self.moto_app(environ, start_response)
        extra = self.extra_targets.get(environ.get("HTTP_X_AMZ_TARGET", ""))
        if extra is not None:
            return self._extra(extra, environ, start_response)
        observed = self._observed(environ)
        if observed is not None:
            observe, action, params, region = observed
            statuses: list[str] = []

            def start_and_note(status: str, headers: Any, *args: Any) -> Any:
                statuses.append(status)
                return start_response(status, headers, *args)

            written = self._write(environ, start_and_note)
            if statuses and statuses[0].startswith("2"):
                try:
                    observe(action, params, region, b"".join(written))
                except Exception:  # noqa: BLE001 - an observer's bug never fails the caller's request
                    logger.exception("observing %s failed", action)
            return written
        return self._write(environ, start_response)

    def _observed(self, environ: dict[str, Any]) -> tuple[Callable[[str, dict[str, str], str, bytes], None],
                                                          str, dict[str, str], str] | None:
        """The observer of a query-protocol request, with its action, parameters and region."""
        if not self.query_observers:
            return None
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        observe = self.query_observers.get(scope.group(2)) if scope else None
        if observe is None or scope is None or "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
            return None
        body = _request_body(environ)
        environ["wsgi.input"] = _Replay(body)
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return observe, params.get("Action", ""), params, scope.group(1)

    def _write(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._write_lock:
            persistence = self.persistence
            if persistence is not None:
                persistence.begin()
            try:
                # Materialise the body inside the lock: moto may produce it lazily.
                return list(self.moto_app(environ, start_response))
            finally:
                if persistence is not None:
                    persistence.commit()  # journaled before the response is sent: acknowledged means kept
                self._after_write(environ)

    def _query(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes] | None:
        """A query-protocol request one of `query_apis` answers; None (the body kept for moto) otherwise."""
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        api = self.query_apis.get(scope.group(2)) if scope else None
        if api is None or scope is None:
            return None
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if environ.get("REQUEST_METHOD") == "POST":
            body = _request_body(environ)
            environ["wsgi.input"] = _Replay(body)
            if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        answer = api(params.get("Action", ""), params, scope.group(1))
        if answer is None:
            return None
        status, headers, data = answer
        headers = {"Content-Length": str(len(data)), "x-amzn-RequestId": str(uuid.uuid4()), **headers}
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [data]

    def _after_write(self, environ: dict[str, Any]) -> None:
        """crash_after_call faults: the write is applied, the caller dies before it hears back."""
        if self.faults is None:
            return
        path = environ.get("PATH_INFO", "") + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
        for name, rule in self.faults.after_call(self.function_names, environ.get("REQUEST_METHOD", ""), path):
            killed = self.kill_running(name, KillReason.INJECTED_CRASH)
            logger.warning("%s after %s %s: killed %d running environment(s) of %s",
                           rule.describe(), environ.get("REQUEST_METHOD"), path, killed, name)

    def _faults(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from .faults import FaultSpecError

        method = environ.get("REQUEST_METHOD")
        status, body = 200, None
        if method == "GET":
            body = {"faults": self.faults.rules()}
        elif method == "DELETE":
            body = {"removed": self.faults.clear()}
        elif method == "POST":
            try:
                rule = self.faults.add(json.loads(_request_body(environ) or b"null"))
                body = {"fault": dataclasses.asdict(rule)}
            except (ValueError, FaultSpecError) as exc:  # FaultSpecError is a ValueError; JSON errors too
                status, body = 400, {"error": "InvalidFault", "message": str(exc)}
        else:
            status, body = 405, {"error": "MethodNotAllowed", "message": "use GET, POST or DELETE"}
        data = json.dumps(body).encode()
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _extra(self, handler: Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]],
               environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            request = json.loads(_request_body(environ) or b"{}")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            status, headers, data = error_response(400, "SerializationException", "the request body is not a JSON object")
        else:
            with self._write_lock:
                persistence = self.persistence
                if persistence is not None:
                    persistence.begin()
                try:
                    status, headers, data = handler(request)
                finally:
                    if persistence is not None:
                        persistence.commit()
        headers = {"Content-Type": "application/x-amz-json-1.0", "Content-Length": str(len(data)),
                   "x-amzn-RequestId": str(uuid.uuid4()), **headers}
        start_response(_STATUS.get(status, f"{status} Error"), list(headers.items()))
        return [data]


def _request_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else b""


class _Replay:
    """The request body again, for moto, after the fast path read it."""

    def __init__(self, data: bytes):
        self._data = data
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n is None or n < 0 else min(len(self._data), self._pos + n)
        out = self._data[self._pos:end]
        self._pos = end
        return out


def error_response(status: int, error_type: str, message: str, extra: dict[str, Any] | None = None
                   ) -> tuple[int, dict[str, str], bytes]:
    body = {"__type": error_type, "message": message, **(extra or {})}
    return status, {"x-amzn-ErrorType": error_type}, json.dumps(body).encode()


class AwsApiServer:
    def __init__(self, host: str, port: int):
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = _App(motoseam.wsgi_app())

    def start(self) -> None:
        self._server = make_server(self._host, self._port, self.app, threaded=True, request_handler=_KeepAliveHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
