"""API Gateway v2 route matching and payload-format-2.0 events, without IO."""

from __future__ import annotations

import base64
import json

from infra.localcloud.gateway import RouteTable, build_event, compile_route, load_routes, map_response

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_routes_prefer_exact_paths_then_variables_then_greedy_then_default():
    table = RouteTable()
    table.replace([compile_route("a", "$default", "default"), compile_route("a", "ANY /{proxy+}", "greedy"),
                   compile_route("a", "GET /items/{id}", "item"), compile_route("a", "GET /items/special", "special")])
    assert table.find("GET", "/items/special")[0].function_arn == "special"
    route, params = table.find("GET", "/items/42")
    assert route.function_arn == "item" and params == {"id": "42"}
    route, params = table.find("POST", "/x/y/z")
    assert route.function_arn == "greedy" and params == {"proxy": "x/y/z"}
    assert table.find("GET", "/")[0].function_arn == "default"


def test_event_shape_matches_payload_format_2():
    route = compile_route("api1", "POST /echo", ARN)
    ev = build_event(route, {}, method="POST", raw_path="/echo", raw_query="a=1&a=2",
                     headers=[("Content-Type", "application/json"), ("X-Multi", "1"), ("X-Multi", "2"), ("Cookie", "a=1; b=2")],
                     body=b'{"k": 1}', source_ip="127.0.0.1", host="localhost:3000")
    assert ev["version"] == "2.0" and ev["routeKey"] == "POST /echo" and ev["rawPath"] == "/echo"
    assert ev["headers"] == {"content-type": "application/json", "x-multi": "1,2"}
    assert ev["cookies"] == ["a=1", "b=2"]
    assert ev["queryStringParameters"] == {"a": "1,2"}
    assert ev["requestContext"]["http"]["method"] == "POST" and ev["requestContext"]["stage"] == "$default"
    assert ev["body"] == '{"k": 1}' and ev["isBase64Encoded"] is False
    binary = build_event(route, {}, method="POST", raw_path="/echo", raw_query="", headers=[("Content-Type", "image/png")],
                         body=b"\x89PNG", source_ip="127.0.0.1", host="h")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\x89PNG"
    assert "cookies" not in binary and "queryStringParameters" not in binary


def test_response_mapping():
    assert map_response({"statusCode": 201, "headers": {"x": "1"}, "cookies": ["s=1"], "body": "hi"}) == (
        201, [("x", "1"), ("Set-Cookie", "s=1")], b"hi")
    assert map_response({"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True})[2] == b"\x00"
    status, headers, body = map_response({"hello": "world"})  # no statusCode: a 200 JSON response
    assert status == 200 and json.loads(body) == {"hello": "world"}


class _Apis:
    """apigatewayv2 answers for one API whose routes integrate a function alias and a plain function."""

    def __init__(self, uris: dict[str, str]):
        self._uris = uris

    def get_apis(self):
        return {"Items": [{"ApiId": "api1"}]}

    def get_integrations(self, ApiId):  # noqa: N803 - boto3's parameter name
        return {"Items": [{"IntegrationId": f"i{n}", "IntegrationUri": uri} for n, uri in enumerate(self._uris.values())]}

    def get_routes(self, ApiId):  # noqa: N803 - boto3's parameter name
        return {"Items": [{"RouteKey": key, "Target": f"integrations/i{n}"} for n, key in enumerate(self._uris)]}


def test_routes_invoke_the_alias_the_integration_names():
    # SAM with AutoPublishAlias points HttpApi integrations at the alias; API Gateway invokes
    # the function with that qualifier, and so does the local gateway.
    alias_uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                 f"{ARN}:live/invocations")
    table = RouteTable()
    table.replace(load_routes(_Apis({"GET /a": alias_uri, "GET /b": ARN})))
    assert table.find("GET", "/a")[0].function_arn == f"{ARN}:live"
    assert table.find("GET", "/b")[0].function_arn == ARN
