"""The REST API (payload format 1.0) event builder, response mapping and stage routing."""

from __future__ import annotations

import base64

import pytest

from infra.localcloud.gateway import compile_route
from infra.localcloud.restapi import (
    MalformedResponse,
    RestApi,
    RestApis,
    build_rest_event,
    is_binary,
    map_rest_response,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def api(**stages: dict[str, str]) -> RestApi:
    rest = RestApi("abc123", stages or {"Prod": {}}, ("image/png",), resource_ids={"/items/{proxy+}": "r1"})
    rest.routes.replace([compile_route("abc123", "ANY /items/{proxy+}", ARN), compile_route("abc123", "GET /hello", ARN)])
    return rest


def event(body: bytes = b"", headers: list[tuple[str, str]] | None = None, query: str = "", **stages: dict[str, str]):
    rest = api(**stages)
    stage = next(iter(rest.stages))
    route, params = rest.routes.find("PUT", "/items/a/b") or pytest.fail("no route")
    return build_rest_event(rest, stage, route, params, method="PUT", path="/items/a/b", raw_query=query,
                            headers=headers or [("Host", "h"), ("User-Agent", "ua")], body=body,
                            source_ip="10.0.0.1", host="abc123.execute-api.us-east-1.amazonaws.com",
                            now=1700000000.123, request_id="rid")


def test_event_has_every_field_api_gateway_sends() -> None:
    e = event(Prod={"v": "1"})
    assert e["resource"] == "/items/{proxy+}" and e["path"] == "/items/a/b" and e["httpMethod"] == "PUT"
    assert e["pathParameters"] == {"proxy": "a/b"}
    assert e["stageVariables"] == {"v": "1"}
    assert e["queryStringParameters"] is None and e["multiValueQueryStringParameters"] is None
    assert e["body"] is None and e["isBase64Encoded"] is False
    ctx = e["requestContext"]
    assert ctx == {**ctx, "accountId": "123456789012", "apiId": "abc123", "resourceId": "r1",
                   "resourcePath": "/items/{proxy+}", "httpMethod": "PUT", "path": "/Prod/items/a/b",
                   "stage": "Prod", "requestId": "rid", "requestTimeEpoch": 1700000000123,
                   "requestTime": "14/Nov/2023:22:13:20 +0000", "protocol": "HTTP/1.1",
                   "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123"}
    assert ctx["identity"]["sourceIp"] == "10.0.0.1" and ctx["identity"]["userAgent"] == "ua"
    assert ctx["identity"]["accessKey"] is None


def test_multi_value_headers_and_query_strings() -> None:
    e = event(headers=[("X-A", "1"), ("x-a", "2"), ("Host", "h")], query="q=1&q=2&e=")
    assert e["headers"] == {"X-A": "2", "Host": "h"}
    assert e["multiValueHeaders"] == {"X-A": ["1", "2"], "Host": ["h"]}
    assert e["queryStringParameters"] == {"q": "2", "e": ""}
    assert e["multiValueQueryStringParameters"] == {"q": ["1", "2"], "e": [""]}


def test_body_is_text_unless_its_type_is_a_binary_media_type() -> None:
    text = event(b'{"a": 1}', headers=[("Content-Type", "application/json")])
    assert (text["body"], text["isBase64Encoded"]) == ('{"a": 1}', False)
    binary = event(b"\x89PNG", headers=[("Content-Type", "image/png; charset=x")])
    assert (base64.b64decode(binary["body"]), binary["isBase64Encoded"]) == (b"\x89PNG", True)
    assert is_binary("image/jpeg", ("image/*",)) and is_binary("a/b", ("*/*",)) and not is_binary("", ("*/*",))


def test_response_mapping() -> None:
    status, headers, body = map_rest_response(
        {"statusCode": 201, "headers": {"A": "1", "B": True}, "multiValueHeaders": {"C": ["x", "y"], "A": ["1"]},
         "body": "hi"})
    assert (status, body) == (201, b"hi")
    assert headers == [("C", "x"), ("C", "y"), ("A", "1"), ("B", "true")]
    assert map_rest_response({"statusCode": "204"}) == (204, [], b"")
    encoded = base64.b64encode(b"\x00\x01").decode()
    answer = {"statusCode": 200, "body": encoded, "isBase64Encoded": True}
    assert map_rest_response(answer, accept="image/png", binary_media_types=("image/png",))[2] == b"\x00\x01"
    assert map_rest_response(answer, accept="*/*", binary_media_types=("image/png",))[2] == encoded.encode()


@pytest.mark.parametrize("answer", [None, "text", [], {"body": "x"}, {"statusCode": "ok"}, {"statusCode": 99},
                                    {"statusCode": 200, "body": {"a": 1}}, {"statusCode": 200, "headers": []},
                                    {"statusCode": 200, "multiValueHeaders": {"a": "b"}}])
def test_malformed_answers_raise(answer: object) -> None:
    with pytest.raises(MalformedResponse):
        map_rest_response(answer)


def test_resolving_stage_paths_and_the_user_request_form() -> None:
    apis = RestApis()
    other = RestApi("zzz999", {"Prod": {}, "Dev": {}})
    apis.replace([other, api()])
    assert apis.resolve("GET", "/restapis/abc123/Prod/_user_request_/hello", "h") == (apis.apis[1], "Prod", "/hello")
    assert apis.resolve("GET", "/restapis/abc123/Dev/_user_request_/hello", "h") is None  # no such stage
    # Two APIs share a stage name: the one with the route, or the one the Host names.
    assert apis.resolve("GET", "/Prod/hello", "127.0.0.1:3000")[0].api_id == "abc123"  # type: ignore[index]
    assert apis.resolve("GET", "/Prod/hello", "zzz999.execute-api.x")[0].api_id == "zzz999"  # type: ignore[index]
    assert apis.resolve("GET", "/Dev", "h") == (other, "Dev", "/")
    assert apis.resolve("GET", "/predict", "h") is None
