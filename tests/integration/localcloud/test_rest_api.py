"""A REST API (`Events: Type: Api`, as `sam init`'s hello world writes it) deployed and served over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import ROOT, RunningCloud, start_cloud, stop_cloud

pytestmark = pytest.mark.integration

TEMPLATE = ROOT / "tests" / "fixtures" / "restapi_app" / "template.yaml"
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(256)


@pytest.fixture(scope="module")
def rest_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    cloud = start_cloud(tmp_path_factory.mktemp("rest-cloud"), TEMPLATE, stack_name="hello")
    yield cloud
    stop_cloud(cloud)


def call(cloud: RunningCloud, path: str, *, method: str = "GET", body: bytes | None = None,
         headers: list[tuple[str, str]] | None = None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(cloud.api_url + path, data=body, method=method)
    for name, value in headers or []:
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def echoed(cloud: RunningCloud, path: str, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    status, headers, body = call(cloud, path, **kwargs)
    assert status == 200, body
    return headers, json.loads(body)["event"]


def test_deployed_through_the_apigateway_api_with_outputs(rest_cloud: RunningCloud) -> None:
    gateway = rest_cloud.client("apigateway")
    api_id = rest_cloud.output("RestApiId")
    (api,) = [a for a in gateway.get_rest_apis()["items"] if a["id"] == api_id]
    assert api["binaryMediaTypes"] == ["image/png"]
    assert rest_cloud.output("RootResourceId") == api["rootResourceId"]
    assert rest_cloud.output("HelloWorldApi") == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    assert {s["stageName"] for s in gateway.get_stages(restApiId=api_id)["item"]} >= {"Prod"}
    paths = {r["path"] for r in gateway.get_resources(restApiId=api_id)["items"]}
    assert {"/", "/hello", "/echo", "/items/{proxy+}", "/binary"} <= paths


def test_describe_stacks_reports_the_url_output_as_a_local_url_that_answers(rest_cloud: RunningCloud) -> None:
    # A test written for AWS reads the URL from DescribeStacks and calls it as it is (sam init's tests do).
    api_id = rest_cloud.output("RestApiId")
    [stack] = rest_cloud.client("cloudformation").describe_stacks(StackName="hello")["Stacks"]
    url = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["HelloWorldApi"]
    assert url == f"{rest_cloud.api_url}/restapis/{api_id}/Prod/_user_request_/hello/"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200 and json.loads(response.read())["event"]["resource"] == "/hello"


def test_output_url_resolves_locally_with_the_event_api_gateway_builds(rest_cloud: RunningCloud) -> None:
    api_id = rest_cloud.output("RestApiId")
    path = rest_cloud.output("HelloWorldApi").split(".amazonaws.com", 1)[1]  # /Prod/hello/
    headers, event = echoed(rest_cloud, path + "?a=1&a=2&b=x",
                            headers=[("X-Many", "one"), ("User-Agent", "tester/1.0")])
    assert headers["X-Single"] == "one"
    assert headers.get_all("X-Multi") == ["a", "b"]
    assert event["resource"] == "/hello"
    assert event["path"] == "/hello/"
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Many"] == "one"
    assert event["multiValueHeaders"]["X-Many"] == ["one"]
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert (ctx["accountId"], ctx["apiId"], ctx["stage"], ctx["resourcePath"]) == (
        "123456789012", api_id, "Prod", "/hello")
    assert ctx["path"] == "/Prod/hello/"
    assert ctx["httpMethod"] == "GET" and ctx["protocol"] == "HTTP/1.1"
    assert ctx["resourceId"] in {r["id"] for r in rest_cloud.client("apigateway").get_resources(
        restApiId=api_id)["items"] if r["path"] == "/hello"}
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["identity"]["userAgent"] == "tester/1.0"
    assert ctx["requestId"] == headers["x-amzn-RequestId"]
    assert isinstance(ctx["requestTimeEpoch"], int) and ctx["requestTime"].endswith("+0000")
    assert ctx["domainName"] == rest_cloud.api_url.removeprefix("http://")


def test_localstack_user_request_form_and_greedy_proxy_path(rest_cloud: RunningCloud) -> None:
    api_id = rest_cloud.output("RestApiId")
    _, event = echoed(rest_cloud, f"/restapis/{api_id}/Prod/_user_request_/items/a/b%20c", method="DELETE")
    assert event["resource"] == "/items/{proxy+}"
    assert event["httpMethod"] == "DELETE"
    assert event["pathParameters"] == {"proxy": "a/b c"}
    assert event["requestContext"]["stage"] == "Prod"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None


def test_post_body_is_text_and_a_binary_media_type_round_trips_base64(rest_cloud: RunningCloud) -> None:
    _, event = echoed(rest_cloud, "/Prod/echo", method="POST", body=b'{"n": 1}',
                      headers=[("Content-Type", "application/json")])
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False

    status, headers, body = call(rest_cloud, "/Prod/binary", method="POST", body=PNG,
                                 headers=[("Content-Type", "image/png"), ("Accept", "image/png")])
    assert status == 200
    assert headers["Content-Type"] == "image/png"
    assert body == PNG
    # Without an Accept of a binary type, API Gateway answers the base64 text.
    _, _, text = call(rest_cloud, "/Prod/binary", method="POST", body=PNG, headers=[("Content-Type", "image/png")])
    assert base64.b64decode(text) == PNG


def test_unknown_route_or_method_is_403_and_a_malformed_answer_502(rest_cloud: RunningCloud) -> None:
    for method, path in (("GET", "/Prod/nowhere"), ("POST", "/Prod/hello"), ("GET", "/Nostage/hello")):
        status, headers, body = call(rest_cloud, path, method=method, body=b"" if method == "POST" else None)
        assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"}), path
    status, _, body = call(rest_cloud, "/Prod/malformed")
    assert (status, body) == (502, b'{"message": "Internal server error"}')
    assert "Malformed Lambda proxy response" in rest_cloud.terminal()


def test_the_function_is_an_ordinary_function_to_invoke(rest_cloud: RunningCloud) -> None:
    # The REST API's function is an ordinary function to Invoke.
    name = rest_cloud.physical("HelloWorldFunction")
    response = rest_cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"resource": "/malformed"}))
    assert json.loads(response["Payload"].read()) == {"body": "no statusCode"}
