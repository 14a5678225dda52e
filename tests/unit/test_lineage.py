"""Which schema a step uses (selfheal.lineage): a version's own, production's, or the configured one."""

from __future__ import annotations

from typing import Any

from selfheal import lineage
from selfheal.exceptions import ModelNotFoundError
from selfheal.schema import CALIFORNIA_HOUSING, NumericFeature, Schema, Target


def houses(*extra: NumericFeature) -> Schema:
    return Schema(name="houses", numeric=(NumericFeature("sqft", 100.0, 20000.0), *extra),
                  target=Target("price", 1000.0, 9e6, unit="USD"))


class Registry:
    def __init__(self, manifests: dict[str, Any], production: str | None) -> None:
        self.manifests, self.current, self.reads = manifests, production, 0

    def production(self) -> dict[str, str] | None:
        return {"version": self.current} if self.current else None

    def get_version(self, version: str) -> dict[str, Any]:
        self.reads += 1
        if version not in self.manifests:
            raise ModelNotFoundError(f"{version} has no manifest")
        return {"manifest": self.manifests[version]}


def test_production_schema_comes_from_its_manifest_read_once_per_version():
    registry = Registry({"v0001": {"schema": lineage.manifest_entry(houses())},
                         "v0002": {"schema": "california_housing"}}, "v0001")
    schemas = lineage.Schemas(registry, CALIFORNIA_HOUSING)  # type: ignore[arg-type]
    assert schemas.production().target.unit == "USD"
    assert schemas.production().name == "houses" and registry.reads == 1
    registry.current = "v0002"  # trained before schemas were stored: the configured one
    assert schemas.production() is CALIFORNIA_HOUSING
    registry.current = None
    assert schemas.production() is CALIFORNIA_HOUSING
    registry.current = "v0009"  # no manifest: the steps keep working with the configured schema
    assert schemas.production() is CALIFORNIA_HOUSING


def test_a_changed_schema_is_described_and_an_equal_one_is_not():
    assert lineage.describe_change(houses(), houses()) is None
    change = lineage.describe_change(houses(), houses(NumericFeature("bedrooms", 0.0, 20.0, kind="integer")))
    assert change == "columns added: bedrooms"
    assert "target MedHouseVal -> price" in (lineage.describe_change(CALIFORNIA_HOUSING, houses()) or "")
    assert lineage.fingerprint(houses()) == lineage.fingerprint(Schema.from_dict(lineage.manifest_entry(houses())))
