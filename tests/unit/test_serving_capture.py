"""POST /predict answers with prediction ids and captures what it answered, through Mangum as
PredictFunction runs it: the flush is written before the handler returns (inside the invocation).

No AWS, no model file: a fake S3 and a stand-in model.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import numpy as np
import pytest
from mangum import Mangum

from selfheal import capture
from selfheal.capture import CaptureBuffer
from selfheal.config import Settings
from selfheal.inference import Scored
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from selfheal.serving import PREDICTION_ID_HEADER, LoadedModel, create_app
from selfheal.telemetry import Telemetry
from tests.unit.test_capture import NO_BUCKET, Clock, FakeS3


class HalfTheIncome:
    def score_records(self, rows: list[dict[str, Any]]) -> Scored:
        return Scored(np.array([r["MedInc"] / 2 for r in rows], dtype=np.float64))


class Served:
    """A provider serving one fixed model (what ModelProvider returns once v0007 is loaded)."""

    def __init__(self) -> None:
        self.cached = LoadedModel("v0007", HalfTheIncome(), {}, None, 0.0)  # type: ignore[arg-type]

    def current(self) -> LoadedModel:
        return self.cached


class Api:
    def __init__(self, buffer: CaptureBuffer | None, lines: list[str]):
        settings = Settings(data_bucket="data", model_bucket="models", state_table="state")
        app = create_app(settings, Served(), telemetry=Telemetry(write=lines.append),  # type: ignore[arg-type]
                         capture=buffer)
        self.handler = Mangum(app, lifespan="off")

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        body = json.dumps(payload)
        http = {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                "userAgent": "t"}
        event = {"version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict", "rawQueryString": "",
                 "headers": {"content-type": "application/json", "host": "api.local", **(headers or {})},
                 "requestContext": {"http": http, "requestId": "r1", "routeKey": "POST /predict", "stage": "$default",
                                    "accountId": "123456789012", "apiId": "api", "domainName": "api.local",
                                    "domainPrefix": "api", "time": "03/Dec/2026:09:59:58 +0000",
                                    "timeEpoch": 1796291998000},
                 "body": body, "isBase64Encoded": False}
        answer = self.handler(event, None)
        return answer["statusCode"], {k.lower(): v for k, v in answer["headers"].items()}, json.loads(answer["body"])


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    return []


def record(income: float) -> dict[str, float]:
    return {**SCHEMA.example_record(), "MedInc": income}


def test_answers_carry_prediction_ids_and_the_flush_is_written_before_the_handler_returns(lines):
    s3, clock = FakeS3(), Clock()
    api = Api(CaptureBuffer(s3, "data", max_records=4, clock=clock, now=clock.now,
                            telemetry=Telemetry(write=lines.append)), lines)
    status, headers, single = api.predict(record(3.0))
    assert status == 200 and single["prediction"] == 1.5 and single["model_version"] == "v0007"
    assert headers[PREDICTION_ID_HEADER.lower()] == single["prediction_id"]
    assert uuid.UUID(single["prediction_id"]).version == 4
    assert s3.objects == {}  # one record buffered, nothing due

    rows = [record(float(i + 1)) for i in range(3)]
    status, headers, batch = api.predict({"records": rows})
    assert status == 200 and batch["count"] == 3 and len(set(batch["prediction_ids"])) == 3
    assert PREDICTION_ID_HEADER.lower() not in headers
    # The fourth record made the flush due; Mangum's handler returned only after it was written.
    (key,) = s3.objects
    assert key.startswith("capture/dt=2026-12-03/hour=09/") and key.endswith("-000001.jsonl.gz")
    written = list(capture.decode(s3.objects[key]))
    assert [r["prediction_id"] for r in written] == [single["prediction_id"], *batch["prediction_ids"]]
    assert [r["features"] for r in written] == [record(3.0), *rows]  # the validated input, as sent
    assert [r["prediction"] for r in written] == [1.5, *batch["predictions"]]
    assert {r["model_version"] for r in written} == {"v0007"}
    assert all(r["latency_ms"] >= 0 for r in written)
    assert written[0]["ts"].startswith("2026-12-03T09:59:58")


def test_a_failing_s3_never_fails_the_prediction_and_logs_no_inputs(lines, caplog):
    s3, clock = FakeS3(), Clock()
    s3.fail = NO_BUCKET
    api = Api(CaptureBuffer(s3, "data", max_records=1, clock=clock, now=clock.now,
                            telemetry=Telemetry(write=lines.append)), lines)
    with caplog.at_level(logging.DEBUG):
        answers = [api.predict(record(7.123456789)) for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert s3.calls == 3  # max_records=1: each new record is another try
    assert caplog.text.count("NoSuchBucket") == 3
    assert "7.123456789" not in caplog.text and "7.123456789" not in "".join(lines)


def test_invalid_input_is_neither_answered_nor_captured(lines):
    s3, clock = FakeS3(), Clock()
    buffer = CaptureBuffer(s3, "data", max_records=1, clock=clock, now=clock.now,
                           telemetry=Telemetry(write=lines.append))
    status, _, _ = Api(buffer, lines).predict({**record(3.0), "Latitude": 90.0})
    assert status == 422 and len(buffer) == 0 and s3.calls == 0


def test_the_prediction_metric_line_counts_captured_records_and_stays_one_line(lines):
    s3, clock = FakeS3(), Clock()
    draws = iter([0.1, 0.9] * 5)
    buffer = CaptureBuffer(s3, "data", max_records=100, sampling_rate=0.5, random=lambda: next(draws), clock=clock,
                           now=clock.now, telemetry=Telemetry(write=lines.append))
    status, _, body = Api(buffer, lines).predict({"records": [record(2.0)] * 4})
    assert status == 200 and len(body["prediction_ids"]) == 4 and len(buffer) == 2
    (line,) = lines
    assert json.loads(line)["CaptureRecords"] == [2.0] and json.loads(line)["PredictedRows"] == [4.0]


def test_without_a_capture_buffer_ids_are_still_returned_and_no_capture_metric_is_emitted(lines):
    status, headers, body = Api(None, lines).predict(record(3.0))
    assert status == 200 and headers[PREDICTION_ID_HEADER.lower()] == body["prediction_id"]
    (line,) = lines
    assert "CaptureRecords" not in json.loads(line)


def test_openapi_declares_the_ids():
    app = create_app(Settings(data_bucket="d", model_bucket="m", state_table="t"), Served())  # type: ignore[arg-type]
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    assert "prediction_id" in schemas["SinglePrediction"]["required"]
    assert schemas["BatchPrediction"]["properties"]["prediction_ids"]["items"] == {"type": "string", "format": "uuid"}
    assert PREDICTION_ID_HEADER in spec["paths"]["/predict"]["post"]["responses"]["200"]["headers"]


def test_the_recover_functions_health_check_is_answered_with_an_id_but_never_captured(lines):
    from selfheal.capture import HEALTH_CHECK_HEADER
    from selfheal.flows.recover import _predict_event

    s3, clock = FakeS3(), Clock()
    buffer = CaptureBuffer(s3, "data", max_records=1, clock=clock, now=clock.now,
                           telemetry=Telemetry(write=lines.append))
    api = Api(buffer, lines)
    check = _predict_event(record(3.0))  # a direct Invoke, as RecoverFunction sends it
    assert HEALTH_CHECK_HEADER.lower() in check["headers"]
    answer = api.handler(check, None)
    assert answer["statusCode"] == 200 and uuid.UUID(json.loads(answer["body"])["prediction_id"])
    assert len(buffer) == 0 and s3.calls == 0
    # Through API Gateway the header is just a header: a client cannot opt out of the capture.
    status, _, _ = api.predict(record(3.0), headers={HEALTH_CHECK_HEADER.lower(): "1"})
    assert status == 200 and s3.calls == 1
