"""The local HTTP API (API Gateway v2) on 127.0.0.1:3000.

Requests for the routes the template declared become payload-format-2.0 events, as API Gateway
builds them (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html),
so Mangum in the function sees what it sees on AWS. Routes are read back through the
``apigatewayv2`` API of the local cloud, not from the template.

Size limits are API Gateway's (limits.py): a request body over 10 MB, or one whose Lambda event
would pass the 6 MB Invoke limit, is answered ``413 {"message":"Request Entity Too Large"}`` and
the function is never invoked.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.serving import DechunkedInput

from .limits import HTTP_API_MAX_BYTES, SYNC_INVOKE, read_body
from .runtime.errors import LambdaServiceError
from .runtime.worker import InvokeResult

if TYPE_CHECKING:
    from .restapi import RestApi, RestApis

logger = logging.getLogger("localcloud.gateway")

Invoke = Callable[[str, bytes], InvokeResult]  # (function arn, event bytes)
TOO_LARGE = b'{"message":"Request Entity Too Large"}'
_TEXT = re.compile(r"^(text/|application/(json|xml|javascript|x-www-form-urlencoded|.*\+json|.*\+xml))", re.I)


@dataclass(frozen=True)
class Route:
    api_id: str
    route_key: str  # "POST /predict", "ANY /{proxy+}", "$default"
    method: str  # "ANY" for any
    pattern: re.Pattern[str] | None
    params: tuple[str, ...]
    function_arn: str
    specificity: tuple[int, int, int]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        if self.pattern is None:  # $default
            return {}
        m = self.pattern.match(path)
        if not m:
            return None
        return {name: unquote(m.group(i + 1)) for i, name in enumerate(self.params)}


def compile_route(api_id: str, route_key: str, function_arn: str) -> Route:
    if route_key == "$default":
        return Route(api_id, route_key, "ANY", None, (), function_arn, (-1, 0, 0))  # only when nothing else matches
    method, _, path = route_key.partition(" ")
    params: list[str] = []
    regex = ""
    greedy = 0
    literal = 0
    for segment in path.strip("/").split("/") if path.strip("/") else []:
        m = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
        if m:
            params.append(m.group(1))
            if m.group(2):
                greedy = 1
                regex += "/(.+)"
            else:
                regex += "/([^/]+)"
        else:
            literal += 1
            regex += "/" + re.escape(segment)
    # API Gateway prefers exact paths, then fewer greedy variables, then a concrete method.
    specificity = (1 - greedy, literal, 0 if method == "ANY" else 1)
    return Route(api_id, route_key, method.upper(), re.compile("^" + (regex or "/") + "/?$"), tuple(params),
                 function_arn, specificity)


class RouteTable:
    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._lock = threading.Lock()

    def replace(self, routes: list[Route]) -> None:
        ordered = sorted(routes, key=lambda r: r.specificity, reverse=True)
        with self._lock:
            self._routes = ordered

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        with self._lock:
            routes = self._routes
        for r in routes:
            params = r.match(method, path)
            if params is not None:
                return r, params
        return None

    def __len__(self) -> int:
        return len(self._routes)


def load_routes(apigw_client: Any) -> list[Route]:
    """Every route with a Lambda proxy integration, read through the apigatewayv2 API."""
    routes: list[Route] = []
    for api in apigw_client.get_apis().get("Items", []):
        api_id = api["ApiId"]
        integrations = {i["IntegrationId"]: i for i in apigw_client.get_integrations(ApiId=api_id).get("Items", [])}
        for route in apigw_client.get_routes(ApiId=api_id).get("Items", []):
            target = route.get("Target", "")
            integ = integrations.get(target.removeprefix("integrations/"))
            if not integ or not integ.get("IntegrationUri"):
                logger.warning("route %s of API %s has no Lambda integration; skipped", route["RouteKey"], api_id)
                continue
            arn = function_arn(integ["IntegrationUri"])
            routes.append(compile_route(api_id, route["RouteKey"], arn))
    return routes


def function_arn(uri: str) -> str:
    # Either a plain function ARN or the API Gateway invoke URI wrapping one.
    m = re.search(r"(arn:aws[\w-]*:lambda:[^/]+:function:[^/:]+(?::[^/]+)?)(?:/invocations)?$", uri)
    return m.group(1) if m else uri


def build_event(route: Route, params: dict[str, str], *, method: str, raw_path: str, raw_query: str,
                headers: list[tuple[str, str]], body: bytes, source_ip: str, host: str) -> dict[str, Any]:
    hdrs: dict[str, str] = {}
    cookies: list[str] = []
    for k, v in headers:
        lk = k.lower()
        if lk == "cookie":
            cookies += [c.strip() for c in v.split(";") if c.strip()]
            continue
        hdrs[lk] = f"{hdrs[lk]},{v}" if lk in hdrs else v  # multi-value headers are comma-joined
    query: dict[str, str] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    now = time.time()
    request_id = base64.b32encode(uuid.uuid4().bytes)[:16].decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": route.api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": hdrs.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        if _TEXT.match(hdrs.get("content-type", "")) or "content-type" not in hdrs:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


def map_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Payload format 2.0 response rules: a dict with statusCode is taken as-is, anything else is JSON."""
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for k, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(k, str(v)) for v in values]
        headers += [("Set-Cookie", c) for c in result.get("cookies") or []]
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        return status, headers, data
    data = result.encode() if isinstance(result, str) else json.dumps(result).encode()
    return 200, [("Content-Type", "application/json")], data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stall on keep-alive
    server: _GatewayServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def handle_expect_100(self) -> bool:
        # A client that asks first (curl does, for bodies over 1 MB) is refused before it sends the body.
        if _declared_length(self) > HTTP_API_MAX_BYTES:
            self._reply(413, [], TOO_LARGE, "", close=True)
            return False
        return super().handle_expect_100()

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes, request_id: str, *,
               close: bool = False, id_header: str = "apigw-requestid") -> None:
        self.send_response(status)
        names = {k.lower() for k, _ in headers}
        for k, v in headers:
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", formatdate(usegmt=True))
        self.send_header(id_header, request_id)
        if close:
            self.send_header("Connection", "close")  # also makes http.server close the connection
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        read = DechunkedInput(cast(IO[bytes], self.rfile)).read if chunked else self.rfile.read
        limited = read_body(read, None if chunked else _declared_length(self), HTTP_API_MAX_BYTES)
        if limited.data is None:
            logger.warning("%s %s refused: a %d-byte body is over the HTTP API's %d-byte limit",
                           self.command, self.path, limited.size, HTTP_API_MAX_BYTES)
            # Closed after the answer: a client that sent too much may not be at a request boundary.
            self._reply(413, [], TOO_LARGE, "", close=True)
            return
        body = limited.data
        parts = urlsplit(self.path)
        rest = self.server.rest_apis.resolve(self.command, parts.path, self.headers.get("Host", ""))
        if rest is not None:
            self._handle_rest(*rest, raw_query=parts.query, body=body)
            return
        found = self.server.routes.find(self.command, parts.path)
        if found is None:
            if len(self.server.rest_apis) and not len(self.server.routes):
                self._reply(403, [("x-amzn-ErrorType", "MissingAuthenticationTokenException")],
                            b'{"message":"Missing Authentication Token"}', str(uuid.uuid4()),
                            id_header="x-amzn-RequestId")
                return
            self._reply(404, [], b'{"message":"Not Found"}', "")
            return
        route, params = found
        event = build_event(route, params, method=self.command, raw_path=parts.path, raw_query=parts.query,
                            headers=list(self.headers.items()), body=body, source_ip=self.client_address[0],
                            host=self.headers.get("Host", "127.0.0.1"))
        rid = event["requestContext"]["requestId"]
        payload = json.dumps(event).encode()
        if len(payload) > SYNC_INVOKE.max_bytes:
            # Lambda refuses the event (base64 makes a binary body a third larger) before any function
            # runs; API Gateway passes that on as a 413.
            logger.warning("%s %s refused: its %d-byte Lambda event is over the %d-byte Invoke limit",
                           self.command, parts.path, len(payload), SYNC_INVOKE.max_bytes)
            self._reply(413, [], TOO_LARGE, rid)
            return
        try:
            result = self.server.invoke(route.function_arn, payload)
        except LambdaServiceError as err:
            logger.error("%s %s: Lambda invoke failed: %s", self.command, parts.path, err)
            self._reply(500, [], b'{"message":"Internal Server Error"}', rid)
            return
        if result.function_error:
            logger.error("%s %s: function error: %s", self.command, parts.path, result.payload[:500])
            self._reply(500, [], b'{"message":"Internal Server Error"}', rid)
            return
        try:
            status, headers, data = map_response(json.loads(result.payload) if result.payload else None)
        except (ValueError, TypeError, KeyError) as err:
            logger.error("%s %s: malformed Lambda response: %s", self.command, parts.path, err)
            self._reply(500, [], b'{"message":"Internal Server Error"}', rid)
            return
        self._reply(status, headers, data, rid)

    def _handle_rest(self, api: RestApi, stage: str, path: str, *, raw_query: str, body: bytes) -> None:
        """A REST API's stage: the Lambda proxy integration with a payload format 1.0 event."""
        from .restapi import (
            INTERNAL_ERROR,
            MISSING_TOKEN,
            MalformedResponse,
            build_rest_event,
            map_rest_response,
        )

        def reply(status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self._reply(status, headers, data, rid, id_header="x-amzn-RequestId")

        rid = str(uuid.uuid4())
        found = api.routes.find(self.command, path)
        if found is None:
            reply(403, [("x-amzn-ErrorType", "MissingAuthenticationTokenException")], MISSING_TOKEN)
            return
        route, params = found
        event = build_rest_event(api, stage, route, params, method=self.command, path=path, raw_query=raw_query,
                                 headers=list(self.headers.items()), body=body, source_ip=self.client_address[0],
                                 host=self.headers.get("Host", "127.0.0.1"), request_id=rid)
        payload = json.dumps(event).encode()
        if len(payload) > SYNC_INVOKE.max_bytes:
            logger.warning("%s /%s%s refused: its %d-byte Lambda event is over the %d-byte Invoke limit",
                           self.command, stage, path, len(payload), SYNC_INVOKE.max_bytes)
            reply(413, [], TOO_LARGE)
            return
        try:
            result = self.server.invoke(route.function_arn, payload)
        except LambdaServiceError as err:
            logger.error("%s /%s%s: Lambda invoke failed: %s", self.command, stage, path, err)
            reply(500, [], INTERNAL_ERROR)
            return
        if result.function_error:
            logger.error("%s /%s%s: function error: %s", self.command, stage, path, result.payload[:500])
            reply(502, [], INTERNAL_ERROR)
            return
        try:
            answer = json.loads(result.payload) if result.payload else None
            status, headers, data = map_rest_response(answer, accept=self.headers.get("Accept", ""),
                                                      binary_media_types=api.binary_media_types)
        except (ValueError, MalformedResponse) as err:
            logger.error("%s /%s%s: Execution failed due to configuration error: Malformed Lambda proxy "
                         "response (%s)", self.command, stage, path, err)
            reply(502, [], INTERNAL_ERROR)
            return
        reply(status, headers, data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def _declared_length(handler: BaseHTTPRequestHandler) -> int:
    return int(handler.headers.get("Content-Length") or 0)


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], routes: RouteTable, rest_apis: RestApis, invoke: Invoke):
        super().__init__(address, _Handler)
        self.routes = routes
        self.rest_apis = rest_apis
        self.invoke = invoke


class HttpApiGateway:
    def __init__(self, host: str, port: int, invoke: Invoke):
        from .restapi import RestApis

        self.routes = RouteTable()
        self.rest_apis = RestApis()
        self._server = _GatewayServer((host, port), self.routes, self.rest_apis, invoke)
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def reload(self, apigw_client: Any, rest_client: Any = None) -> int:
        """Reread the HTTP APIs' routes and, given an ``apigateway`` client, the REST APIs."""
        self.routes.replace(load_routes(apigw_client))
        if rest_client is not None:
            from .restapi import load_rest_apis

            self.rest_apis.replace(load_rest_apis(rest_client))
        return len(self.routes)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
