"""The prediction API's 422 answers, through Mangum as PredictFunction runs it (no model, no AWS).

They name the field and stay small: the input is echoed only when it is small.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from mangum import Mangum

from selfheal.config import Settings
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from selfheal.serving import ModelUnavailableError, create_app


class NoModel:
    """A provider with nothing promoted: validation must answer before a model is asked for."""

    cached = None

    def current(self):
        raise ModelUnavailableError("no production model has been promoted yet")


class Response:
    def __init__(self, answer: dict[str, Any]):
        self.status_code = answer["statusCode"]
        self.content = answer["body"].encode()

    def json(self) -> Any:
        return json.loads(self.content)


class Client:
    """Posts to the app as API Gateway's HTTP API does: a payload format 2.0 event."""

    def __init__(self, handler: Mangum):
        self._handler = handler

    def post(self, path: str, body: bytes) -> Response:
        http = {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"}
        event = {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path, "rawQueryString": "",
                 "headers": {"content-type": "application/json", "host": "api.local"},
                 "requestContext": {"http": http, "requestId": "r1", "routeKey": f"POST {path}", "stage": "$default",
                                    "accountId": "123456789012", "apiId": "api", "domainName": "api.local",
                                    "domainPrefix": "api", "time": "01/Jan/2026:12:00:00 +0000",
                                    "timeEpoch": 1767268800000},
                 "body": body.decode(), "isBase64Encoded": False}
        return Response(self._handler(event, None))

    def predict(self, payload: Any) -> Response:
        return self.post("/predict", json.dumps(payload).encode())


@pytest.fixture(scope="module")
def client() -> Client:
    settings = Settings(data_bucket="data", model_bucket="models", state_table="state")  # the default schema
    assert settings.schema is SCHEMA
    return Client(Mangum(create_app(settings, NoModel()), lifespan="off"))  # type: ignore[arg-type]


def test_a_batch_over_the_record_limit_is_refused_without_echoing_it(client):
    batch = {"records": [SCHEMA.example_record()] * 10_001}
    sent = json.dumps(batch).encode()
    r = client.post("/predict", sent)
    assert r.status_code == 422
    assert len(r.content) < 1000, f"{len(r.content)} bytes came back for a {len(sent)}-byte request"
    (error,) = r.json()["detail"]
    assert "records" in [str(p) for p in error["loc"]]
    assert error["type"] == "too_long" and error["msg"]
    assert "input" not in error


def test_a_small_invalid_record_is_still_echoed_as_fastapi_does(client):
    record = {k: v for k, v in SCHEMA.example_record().items() if k != "HouseAge"}
    r = client.predict(record)
    assert r.status_code == 422
    missing = [e for e in r.json()["detail"] if "HouseAge" in e["loc"]]
    assert missing and missing[0]["type"] == "missing" and missing[0]["input"] == record


def test_a_huge_string_in_a_record_is_not_echoed(client):
    r = client.predict({**SCHEMA.example_record(), "MedInc": "9" * 200_000})
    assert r.status_code == 422
    assert len(r.content) < 2000
    assert any("MedInc" in e["loc"] and "input" not in e for e in r.json()["detail"])


def test_a_batch_of_bad_records_names_each_and_a_good_request_reaches_the_model(client):
    bad = {k: v for k, v in SCHEMA.example_record().items() if k != "Latitude"}
    r = client.predict({"records": [bad, bad]})
    assert r.status_code == 422
    assert [e["loc"][-1] for e in r.json()["detail"]] == ["Latitude", "Latitude"]
    assert client.predict(SCHEMA.example_record()).status_code == 503  # valid: the model is asked for
