"""The prediction API follows the production version's schema (issue #12): its OpenAPI document,
its 422s, unknown categorical levels scored as 'other' and counted, ignored id columns, the unit in
GET /model, and a new app when production moves to another schema. Through Mangum, no AWS."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from mangum import Mangum

from selfheal.config import Settings
from selfheal.inference import LevelMap, Scored
from selfheal.schema import (
    CALIFORNIA_HOUSING,
    CategoricalFeature,
    ExcludedColumn,
    NumericFeature,
    Schema,
    Target,
)
from selfheal.serving import LineageApp, LoadedModel, ModelUnavailableError, create_app
from selfheal.telemetry import Telemetry
from tests.unit.test_serving import Client

HOUSES = Schema(
    name="county_sales",
    numeric=(NumericFeature("sqft", 100.0, 20000.0, "living area", example=1800.0),
             NumericFeature("bedrooms", 0.0, 20.0, "bedrooms", kind="integer", example=3.5)),
    categorical=(CategoricalFeature("neighbourhood", ("Ballard", "Fremont"), "where", other="other"),
                 CategoricalFeature("waterfront", ("0", "1"), "on the water", kind="boolean")),
    excluded=(ExcludedColumn("id", "id"),),
    target=Target("price", 10000.0, 5000000.0, "sale price", unit="USD"),
)
SETTINGS = Settings(data_bucket="data", model_bucket="models", state_table="state")


class Recording:
    """A model that predicts 1, keeps the rows it was given and folds unknown levels as OnnxModel does."""

    def __init__(self, schema: Schema) -> None:
        self.rows: list[dict[str, Any]] = []
        self.levels = {c.name: LevelMap(c) for c in schema.categorical}

    def score_records(self, rows: list[dict[str, Any]]) -> Scored:
        unknown: dict[str, int] = {}
        for name, levels in self.levels.items():
            encoded, misses = levels.encode(row[name] for row in rows)
            for row, value in zip(rows, encoded, strict=True):
                row[name] = value
            if misses:
                unknown[name] = misses
        self.rows.extend(rows)
        return Scored(np.ones(len(rows)), unknown)


class Provider:
    def __init__(self, schema: Schema | None) -> None:
        self.model = Recording(schema or CALIFORNIA_HOUSING)
        self.fallback_schema = CALIFORNIA_HOUSING
        self.serve(schema)

    def serve(self, schema: Schema | None, version: str = "v0003") -> None:
        if schema is not None:
            self.model = Recording(schema)
        self.cached = (LoadedModel(version, self.model, {"rmse": 41000.0}, None, 0.0, schema)  # type: ignore[arg-type]
                       if schema else None)

    def current(self) -> LoadedModel:
        if self.cached is None:
            raise ModelUnavailableError("no production model has been promoted yet")
        return self.cached


def client(provider: Provider, lines: list[str] | None = None) -> Client:
    telemetry = Telemetry(write=(lines if lines is not None else []).append)
    app = LineageApp(provider, lambda schema: create_app(SETTINGS, provider, telemetry=telemetry,  # type: ignore[arg-type]
                                                         schema=schema))
    return Client(Mangum(app, lifespan="off"))


def get(c: Client, path: str) -> Any:
    event = {"version": "2.0", "routeKey": f"GET {path}", "rawPath": path, "rawQueryString": "",
             "headers": {"host": "api.local"},
             "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4",
                                         "userAgent": "t"}, "requestId": "r", "routeKey": f"GET {path}",
                                "stage": "$default", "accountId": "1", "apiId": "api", "domainName": "api.local",
                                "domainPrefix": "api", "time": "01/Jan/2026:12:00:00 +0000", "timeEpoch": 0},
             "isBase64Encoded": False}
    answer = c._handler(event, None)
    return answer["statusCode"], json.loads(answer["body"])


RECORD = {"sqft": 1800.0, "bedrooms": 3, "neighbourhood": "Ballard", "waterfront": "0"}


def record_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    return openapi["components"]["schemas"]["HouseRecord"]


def test_the_openapi_document_has_the_users_columns_types_levels_and_required_fields():
    status, doc = get(client(Provider(HOUSES)), "/openapi.json")
    assert status == 200
    record = record_schema(doc)
    props = record["properties"]
    assert set(props) == {"sqft", "bedrooms", "neighbourhood", "waterfront", "id"}
    assert sorted(record["required"]) == ["bedrooms", "neighbourhood", "sqft", "waterfront"]
    assert props["bedrooms"]["type"] == "integer" and props["sqft"]["type"] == "number"
    assert {"enum": ["0", "1"], "type": "string"} in props["waterfront"]["anyOf"]  # or true/false, 0/1
    # A folding categorical documents its levels, and that any other string is scored as 'other'.
    assert {"enum": ["Ballard", "Fremont", "other"], "type": "string"} in props["neighbourhood"]["anyOf"]
    assert "'other'" in props["neighbourhood"]["description"]
    assert "price, in USD" in doc["info"]["description"]


def test_a_request_that_does_not_fit_gets_a_422_naming_the_fields():
    c = client(Provider(HOUSES))
    r = c.predict({**RECORD, "bedrooms": 2.5, "waterfront": "maybe", "garage": 1})
    assert r.status_code == 422
    named = {part for e in r.json()["detail"] for part in e["loc"]}
    assert {"bedrooms", "waterfront", "garage"} <= named
    assert c.predict({k: v for k, v in RECORD.items() if k != "sqft"}).status_code == 422


def test_an_unknown_level_is_scored_as_other_and_counted_never_an_error():
    provider, lines = Provider(HOUSES), []
    r = client(provider, lines).predict({"records": [{**RECORD, "neighbourhood": "Atlantis"}, RECORD,
                                                     {**RECORD, "neighbourhood": "Narnia", "id": 77}]})
    assert r.status_code == 200, r.content
    assert [row["neighbourhood"] for row in provider.model.rows] == ["other", "Ballard", "other"]
    assert all("id" not in row for row in provider.model.rows)  # an id column is accepted, never a feature
    (metric,) = [json.loads(line) for line in lines if "UnknownLevels" in line]
    assert metric["UnknownLevels"] == [2.0] and metric["column"] == "neighbourhood"


def test_the_schemas_example_record_is_a_valid_request():
    # The health check and the smoke test send it: an integer column's example must be a JSON integer.
    example = {**HOUSES.example_record()}
    assert isinstance(example["bedrooms"], int)
    assert client(Provider(HOUSES)).predict(example).status_code == 200


def test_get_model_names_the_target_and_its_unit():
    status, info = get(client(Provider(HOUSES)), "/model")
    assert status == 200
    assert (info["target"], info["unit"], info["schema_name"]) == ("price", "USD", "county_sales")
    _, default = get(client(Provider(CALIFORNIA_HOUSING)), "/model")
    assert (default["target"], default["unit"]) == ("MedHouseVal", "$100k")


def test_the_api_follows_production_to_a_new_schema():
    provider = Provider(CALIFORNIA_HOUSING)
    c = client(provider)
    assert "MedInc" in record_schema(get(c, "/openapi.json")[1])["properties"]
    provider.serve(HOUSES, version="v0004")
    assert "sqft" in record_schema(get(c, "/openapi.json")[1])["properties"]
    assert c.predict(RECORD).json()["model_version"] == "v0004"
    # Before any model: the configured schema's app answers 503 after validating.
    provider.serve(None)
    assert c.predict(CALIFORNIA_HOUSING.example_record()).status_code == 503
