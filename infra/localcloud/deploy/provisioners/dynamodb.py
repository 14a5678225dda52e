"""DynamoDB tables: keys, billing, indexes, streams and time to live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import ProvisionError
from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_bool,
    pick,
    tags_to_list,
    unless_not_found,
)

_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


def _throughput(value: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in value.items()}


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    converted = pick(index, _INDEX_KEYS)
    if "ProvisionedThroughput" in converted:
        converted["ProvisionedThroughput"] = _throughput(converted["ProvisionedThroughput"])
    return converted


def _stream(props: Mapping[str, Any]) -> dict[str, Any]:
    # CloudFormation enables the stream by naming a view type; the API wants both fields.
    view = (props.get("StreamSpecification") or {}).get("StreamViewType")
    return {"StreamEnabled": True, "StreamViewType": view} if view else {"StreamEnabled": False}


def _keys(table: Mapping[str, Any]) -> tuple[Any, Any]:
    """Key schema and local indexes, which only a replacement can change."""

    def schema(keys: Any) -> list[tuple[str, str]]:
        return sorted((k["AttributeName"], k["KeyType"]) for k in keys or [])

    local = {i["IndexName"]: schema(i["KeySchema"]) for i in table.get("LocalSecondaryIndexes") or []}
    return schema(table["KeySchema"]), local


def _capacity(table: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
    """Billing mode and provisioned capacity, from a template table or a DescribeTable answer."""
    mode = (
        table.get("BillingMode")
        or (table.get("BillingModeSummary") or {}).get("BillingMode")
        or "PROVISIONED"
    )
    throughput = table.get("ProvisionedThroughput") or {}
    if mode == "PAY_PER_REQUEST":
        return mode, {}
    return mode, {
        k: int(throughput[k]) for k in ("ReadCapacityUnits", "WriteCapacityUnits") if k in throughput
    }


class TableProvisioner(Provisioner):
    resource_type = "AWS::DynamoDB::Table"
    attributes = frozenset({"Arn", "StreamArn"})
    handled_properties = frozenset(
        {
            "TableName",
            "KeySchema",
            "AttributeDefinitions",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "StreamSpecification",
            "TimeToLiveSpecification",
            "Tags",
            "SSESpecification",
            "TableClass",
            "DeletionProtectionEnabled",
            "PointInTimeRecoverySpecification",
        }
    )
    naming = NameRule("TableName", 255)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "keys": pick(properties, ("KeySchema", "LocalSecondaryIndexes")),
            "capacity": pick(properties, ("BillingMode", "ProvisionedThroughput")),
            "indexes": properties.get("GlobalSecondaryIndexes", []),
            "stream": properties.get("StreamSpecification"),
            "ttl": properties.get("TimeToLiveSpecification"),
            "tags": properties.get("Tags"),
            "attributes": properties.get("AttributeDefinitions"),
        }

    def _provisioned(self, table: Mapping[str, Any]) -> Provisioned:
        attributes = {"Arn": table["TableArn"]}
        if table.get("LatestStreamArn"):
            attributes["StreamArn"] = table["LatestStreamArn"]
        return Provisioned(table["TableName"], attributes)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        table = unless_not_found(
            lambda: self.clients("dynamodb").describe_table(TableName=self.physical_name(request))["Table"]
        )
        if table is None:
            return None
        return self._provisioned(table)

    def create(self, request: ResourceRequest) -> Provisioned:
        props, dynamodb = request.properties, self.clients("dynamodb")
        name = self.physical_name(request)
        arguments: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
            "StreamSpecification": _stream(props),
        }
        if "ProvisionedThroughput" in props:
            arguments["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                arguments[key] = [_index(i) for i in props[key]]
        if props.get("Tags"):
            arguments["Tags"] = tags_to_list(props["Tags"])
        table = dynamodb.create_table(**arguments)["TableDescription"]
        if props.get("TimeToLiveSpecification"):
            self._ttl(name, props["TimeToLiveSpecification"])
        return self._provisioned(table)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # Each part is compared with the live table, not only the record: DynamoDB rejects
        # "updates" that change nothing (enabling an enabled stream, the same billing mode).
        props, dynamodb, name = request.properties, self.clients("dynamodb"), current.physical_id
        live = dynamodb.describe_table(TableName=name)["Table"]
        if "keys" in changed and _keys(live) != _keys(props):
            raise ProvisionError(
                f"{request.logical_id}: changing the key schema of table {name} needs a replacement, which would "
                "delete its data; delete the table (or start the local cloud fresh) and deploy again"
            )
        if "capacity" in changed and _capacity(live) != _capacity(props):
            arguments: dict[str, Any] = {"BillingMode": props.get("BillingMode", "PROVISIONED")}
            if "ProvisionedThroughput" in props:
                arguments["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
            dynamodb.update_table(TableName=name, **arguments)
        live_stream = live.get("StreamSpecification") or {"StreamEnabled": False}
        if "stream" in changed and live_stream != _stream(props):
            if live_stream.get("StreamEnabled") and _stream(props)["StreamEnabled"]:
                # A stream's view type cannot change in place: disable, then enable the new one.
                dynamodb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            dynamodb.update_table(TableName=name, StreamSpecification=_stream(props))
        if "indexes" in changed:
            self._sync_indexes(name, props)
        if "ttl" in changed:
            self._ttl(name, props.get("TimeToLiveSpecification"))
        if "tags" in changed and props.get("Tags"):
            dynamodb.tag_resource(ResourceArn=current.attributes["Arn"], Tags=tags_to_list(props["Tags"]))
        found = self.find(request)
        return found or current

    def _sync_indexes(self, name: str, props: Mapping[str, Any]) -> None:
        dynamodb = self.clients("dynamodb")
        live = dynamodb.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
        live_names = {i["IndexName"] for i in live}
        wanted = {i["IndexName"]: _index(i) for i in props.get("GlobalSecondaryIndexes", [])}
        updates: list[dict[str, Any]] = [
            {"Delete": {"IndexName": n}} for n in sorted(live_names - set(wanted))
        ]
        updates += [{"Create": wanted[n]} for n in sorted(set(wanted) - live_names)]
        if updates:
            dynamodb.update_table(
                TableName=name,
                AttributeDefinitions=props["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=updates,
            )

    def _ttl(self, name: str, spec: Mapping[str, Any] | None) -> None:
        dynamodb = self.clients("dynamodb")
        if spec:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={
                    "Enabled": as_bool(spec.get("Enabled", True)),
                    "AttributeName": spec["AttributeName"],
                },
            )
            return
        current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": False, "AttributeName": current["AttributeName"]},
            )
