"""API Gateway REST APIs on the local API port: Lambda proxy integrations with payload format 1.0.

A REST API is reached as ``/{stage}/{path}`` (the path of its ``execute-api`` URL) or in
LocalStack's form ``/restapis/{api id}/{stage}/_user_request_/{path}``. Resources, methods,
integrations, stages and binary media types are read back through the ``apigateway`` API, not from
the template. The event and the mapping of the function's answer follow
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .gateway import Route, RouteTable, compile_route, function_arn

logger = logging.getLogger("localcloud.gateway")

ACCOUNT_ID = "123456789012"
MISSING_TOKEN = b'{"message":"Missing Authentication Token"}'
INTERNAL_ERROR = b'{"message": "Internal server error"}'


class MalformedResponse(ValueError):
    """The function's answer is not a Lambda proxy response (API Gateway answers 502)."""


@dataclass
class RestApi:
    api_id: str
    stages: Mapping[str, Mapping[str, str]]  # stage name -> stage variables
    binary_media_types: tuple[str, ...] = ()
    routes: RouteTable = field(default_factory=RouteTable)
    resource_ids: Mapping[str, str] = field(default_factory=dict)  # resource path -> resource id


def load_rest_apis(client: Any) -> list[RestApi]:
    """Every REST API with its Lambda proxy methods and stages, read through the apigateway API."""
    apis: list[RestApi] = []
    for item in client.get_rest_apis(limit=500).get("items", []):
        api_id = item["id"]
        stages = {s["stageName"]: dict(s.get("variables") or {})
                  for s in client.get_stages(restApiId=api_id).get("item", [])}
        routes: list[Route] = []
        resource_ids: dict[str, str] = {}
        for resource in client.get_resources(restApiId=api_id, embed=["methods"], limit=500).get("items", []):
            resource_ids[resource["path"]] = resource["id"]
            for method, spec in (resource.get("resourceMethods") or {}).items():
                integration = spec.get("methodIntegration") or {}
                if integration.get("type") != "AWS_PROXY" or not integration.get("uri"):
                    logger.warning("%s %s of REST API %s has no Lambda proxy integration; skipped",
                                   method, resource["path"], api_id)
                    continue
                routes.append(compile_route(api_id, f"{method} {resource['path']}", function_arn(integration["uri"])))
        api = RestApi(api_id, stages, tuple(item.get("binaryMediaTypes") or ()), RouteTable(), resource_ids)
        api.routes.replace(routes)
        apis.append(api)
    return apis


class RestApis:
    """The REST APIs the gateway serves, and which one a request path addresses."""

    def __init__(self) -> None:
        self._apis: list[RestApi] = []
        self._lock = threading.Lock()

    def replace(self, apis: list[RestApi]) -> None:
        with self._lock:
            self._apis = list(apis)

    def __len__(self) -> int:
        return len(self._apis)

    @property
    def apis(self) -> list[RestApi]:
        with self._lock:
            return list(self._apis)

    def resolve(self, method: str, path: str, host: str) -> tuple[RestApi, str, str] | None:
        """(API, stage, path inside the stage) for a request path, or None if it names no REST stage."""
        with self._lock:
            apis = self._apis
        segments = path.split("/")
        if len(segments) >= 5 and segments[1] == "restapis" and segments[4] == "_user_request_":
            wanted = [a for a in apis if a.api_id == segments[2] and segments[3] in a.stages]
            return (wanted[0], segments[3], "/" + "/".join(segments[5:])) if wanted else None
        if len(segments) < 2 or not segments[1]:
            return None
        stage, inner = segments[1], "/" + "/".join(segments[2:])
        candidates = [a for a in apis if stage in a.stages]
        if not candidates:
            return None
        prefix = host.split(".")[0]  # {api id}.execute-api.{region}.amazonaws.com
        chosen = next((a for a in candidates if a.api_id == prefix), None)
        if chosen is None:
            chosen = next((a for a in candidates if a.routes.find(method, inner)), candidates[0])
        return chosen, stage, inner


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def is_binary(content_type: str, binary_media_types: tuple[str, ...]) -> bool:
    """Whether a media type matches one of the API's binary media types (`*/*`, `image/*` wildcards)."""
    kind = _media_type(content_type)
    if not kind:
        return False
    main = kind.split("/")[0]
    for declared in binary_media_types:
        declared = _media_type(declared)
        if declared in (kind, "*/*") or declared == f"{main}/*":
            return True
    return False


def build_rest_event(api: RestApi, stage: str, route: Route, params: dict[str, str], *, method: str, path: str,
                     raw_query: str, headers: list[tuple[str, str]], body: bytes, source_ip: str, host: str,
                     now: float | None = None, request_id: str | None = None) -> dict[str, Any]:
    """The payload format 1.0 event API Gateway gives a REST API's Lambda proxy integration."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        key = next((k for k in single if k.lower() == name.lower()), name)  # names keep the client's case
        single[key] = value  # the last value
        multi.setdefault(key, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    now = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    resource = route.route_key.partition(" ")[2]
    content_type = next((v for k, v in single.items() if k.lower() == "content-type"), "")
    user_agent = next((v for k, v in single.items() if k.lower() == "user-agent"), None)
    encoded = bool(body) and is_binary(content_type, api.binary_media_types)
    text: str | None = None
    if body:
        text = base64.b64encode(body).decode() if encoded else body.decode("utf-8", errors="replace")
    identity: dict[str, Any] = {
        key: None
        for key in ("cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller", "accessKey",
                    "cognitoAuthenticationType", "cognitoAuthenticationProvider", "userArn", "user",
                    "principalOrgId")
    }
    identity.update(sourceIp=source_ip, userAgent=user_agent)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": dict(api.stages.get(stage) or {}) or None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api.api_id,
            "resourceId": api.resource_ids.get(resource),
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{stage}{path}",
            "stage": stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": identity,
            "protocol": "HTTP/1.1",
            "domainName": host,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def map_rest_response(result: Any, *, accept: str = "",
                      binary_media_types: tuple[str, ...] = ()) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy response as API Gateway (REST) answers it; anything malformed raises.

    A base64 body (`isBase64Encoded`) is sent as bytes when the request's first `Accept` type is
    one of the API's binary media types, else as the base64 text, as API Gateway does.
    """
    if not isinstance(result, dict):
        raise MalformedResponse("the response is not a JSON object")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    single = {} if result.get("headers") is None else result["headers"]
    multi = {} if result.get("multiValueHeaders") is None else result["multiValueHeaders"]
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    headers: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] is not a list")
        headers += [(str(name), _header_value(v)) for v in values]
    for name, value in single.items():
        if (str(name), _header_value(value)) not in headers:
            headers.append((str(name), _header_value(value)))
    body = result.get("body")
    if body is None:
        return status, headers, b""
    if not isinstance(body, str):
        raise MalformedResponse("body is not a string")
    if result.get("isBase64Encoded") and is_binary(accept.split(",")[0], binary_media_types):
        try:
            return status, headers, base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as err:
            raise MalformedResponse(f"body is not base64: {err}") from err
    return status, headers, body.encode()


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        raise MalformedResponse(f"header value {value!r} is not a scalar")
    return str(value)
