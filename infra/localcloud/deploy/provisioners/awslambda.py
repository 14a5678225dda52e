"""Lambda functions, layers, permissions, async-invoke settings, versions, aliases and event source mappings.

moto stores functions but runs code only in Docker; the local cloud's runtime executes them.
Here they are only created and configured, exactly as CloudFormation would.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
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
    tags_to_dict,
    unless_not_found,
)

LOG = logging.getLogger("localcloud.deploy")

_CONFIG_PROPERTIES = (
    "Role",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "Description",
    "DeadLetterConfig",
    "TracingConfig",
    "EphemeralStorage",
    "LoggingConfig",
    "KmsKeyArn",
)
_INTEGERS = frozenset(
    {
        "Timeout",
        "MemorySize",
        "ReservedConcurrentExecutions",
        "BatchSize",
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "MaximumBatchingWindowInSeconds",
        "MaximumRecordAgeInSeconds",
        "ParallelizationFactor",
        "TumblingWindowInSeconds",
    }
)


def _integers(arguments: dict[str, Any]) -> dict[str, Any]:
    """Numbers that came through a parameter are strings in CloudFormation; the API wants integers."""
    return {k: int(v) if k in _INTEGERS and isinstance(v, str) else v for k, v in arguments.items()}


def _environment(props: Mapping[str, Any]) -> dict[str, Any]:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    # CloudFormation stringifies values: `THRESHOLD: 5` arrives as "5", `true` as "true".
    text = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in variables.items()}
    return {"Variables": text}


def _inline_zip(source: str, runtime: str) -> bytes:
    """CloudFormation's `Code.ZipFile`: the source becomes `index.py` (or `index.js`) in a zip."""
    name = "index.py" if runtime.startswith("python") else "index.js"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def _code(request: ResourceRequest) -> dict[str, Any]:
    code = request.properties.get("Code") or {}
    if "ImageUri" in code or request.properties.get("PackageType") == "Image":
        raise ProvisionError(
            f"{request.logical_id}: container-image functions are not supported by the local cloud"
        )
    if "ZipFile" in code:
        return {"ZipFile": _inline_zip(str(code["ZipFile"]), str(request.properties.get("Runtime", "")))}
    if "S3Bucket" in code and "S3Key" in code:
        return {"S3Bucket": code["S3Bucket"], "S3Key": code["S3Key"], **pick(code, ("S3ObjectVersion",))}
    raise ProvisionError(f"{request.logical_id}: Code needs S3Bucket and S3Key, or ZipFile")


class FunctionProvisioner(Provisioner):
    resource_type = "AWS::Lambda::Function"
    attributes = frozenset({"Arn"})
    handled_properties = frozenset(
        {
            "FunctionName",
            "Code",
            "PackageType",
            "Architectures",
            "ReservedConcurrentExecutions",
            "Tags",
            *_CONFIG_PROPERTIES,
        }
    )
    naming = NameRule("FunctionName", 64)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "code": {"Code": properties.get("Code"), "Architectures": properties.get("Architectures")},
            "config": pick(properties, _CONFIG_PROPERTIES),
            "concurrency": properties.get("ReservedConcurrentExecutions"),
            "tags": properties.get("Tags"),
        }

    def find(self, request: ResourceRequest) -> Provisioned | None:
        config = unless_not_found(
            lambda: self.clients("lambda").get_function(FunctionName=self.physical_name(request))[
                "Configuration"
            ]
        )
        if config is None:
            return None
        return Provisioned(config["FunctionName"], {"Arn": config["FunctionArn"]})

    def _configuration(self, props: Mapping[str, Any]) -> dict[str, Any]:
        arguments = pick(props, _CONFIG_PROPERTIES)
        arguments["Environment"] = _environment(props)
        arguments["Layers"] = list(props.get("Layers", []))
        return _integers(arguments)

    def create(self, request: ResourceRequest) -> Provisioned:
        props, aws_lambda = request.properties, self.clients("lambda")
        arguments = {
            "FunctionName": self.physical_name(request),
            "Code": _code(request),
            "PackageType": "Zip",
            **self._configuration(props),
            **pick(props, ("Architectures",)),
        }
        if props.get("Tags"):
            arguments["Tags"] = tags_to_dict(props["Tags"])
        config = aws_lambda.create_function(**arguments)
        if props.get("ReservedConcurrentExecutions") is not None:
            aws_lambda.put_function_concurrency(
                FunctionName=config["FunctionName"],
                ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"]),
            )
        return Provisioned(config["FunctionName"], {"Arn": config["FunctionArn"]})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        props, aws_lambda, name = request.properties, self.clients("lambda"), current.physical_id
        if "code" in changed:
            aws_lambda.update_function_code(
                FunctionName=name, **_code(request), **pick(props, ("Architectures",))
            )
        if "config" in changed:
            aws_lambda.update_function_configuration(FunctionName=name, **self._configuration(props))
        if "concurrency" in changed:
            if props.get("ReservedConcurrentExecutions") is None:
                aws_lambda.delete_function_concurrency(FunctionName=name)
            else:
                aws_lambda.put_function_concurrency(
                    FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"])
                )
        if "tags" in changed and props.get("Tags"):
            aws_lambda.tag_resource(Resource=current.attributes["Arn"], Tags=tags_to_dict(props["Tags"]))
        return current


class LayerVersionProvisioner(Provisioner):
    """Layer versions are immutable: any change publishes a new version, as CloudFormation does."""

    resource_type = "AWS::Lambda::LayerVersion"
    finds_by_recorded_id = True
    attributes = frozenset({"LayerVersionArn"})
    handled_properties = frozenset(
        {
            "LayerName",
            "Content",
            "CompatibleRuntimes",
            "CompatibleArchitectures",
            "Description",
            "LicenseInfo",
        }
    )
    naming = NameRule("LayerName", 140)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if request.previous is None:
            return None
        # arn:aws:lambda:<region>:<account>:layer:<name>:<version>. moto 5.2.5 lacks GetLayerVersionByArn.
        layer_arn, _, version = request.previous.physical_id.rpartition(":")
        layer = unless_not_found(
            lambda: self.clients("lambda").get_layer_version(LayerName=layer_arn, VersionNumber=int(version))
        )
        if layer is None:
            return None
        return Provisioned(layer["LayerVersionArn"], {"LayerVersionArn": layer["LayerVersionArn"]})

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        content = props.get("Content") or {}
        layer = self.clients("lambda").publish_layer_version(
            LayerName=self.physical_name(request),
            Content=pick(content, ("S3Bucket", "S3Key", "S3ObjectVersion")),
            **pick(props, ("CompatibleRuntimes", "CompatibleArchitectures", "Description", "LicenseInfo")),
        )
        return Provisioned(layer["LayerVersionArn"], {"LayerVersionArn": layer["LayerVersionArn"]})


class PermissionProvisioner(Provisioner):
    """A statement in the function's resource policy; its statement id is the physical id."""

    resource_type = "AWS::Lambda::Permission"
    handled_properties = frozenset(
        {
            "FunctionName",
            "Action",
            "Principal",
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "PrincipalOrgID",
            "FunctionUrlAuthType",
        }
    )
    naming = NameRule(None, 100)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        statement_id = self.physical_name(request)
        policy = unless_not_found(
            lambda: self.clients("lambda").get_policy(FunctionName=request.properties["FunctionName"])[
                "Policy"
            ]
        )
        if policy is None:
            return None
        statements = json.loads(policy).get("Statement", [])
        return Provisioned(statement_id) if any(s.get("Sid") == statement_id for s in statements) else None

    def create(self, request: ResourceRequest) -> Provisioned:
        statement_id = self.physical_name(request)
        self.clients("lambda").add_permission(
            StatementId=statement_id,
            **pick(request.properties, self.handled_properties),
        )
        return Provisioned(statement_id)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        self.clients("lambda").remove_permission(
            FunctionName=request.properties["FunctionName"], StatementId=current.physical_id
        )
        return self.create(request)


class EventInvokeConfigProvisioner(Provisioner):
    """Retry and destination settings for asynchronous invocations of one function (or qualifier)."""

    resource_type = "AWS::Lambda::EventInvokeConfig"
    handled_properties = frozenset(
        {"FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"}
    )

    def _id(self, request: ResourceRequest) -> str:
        props = request.properties
        return f"{props['FunctionName']}|{props.get('Qualifier', '$LATEST')}"

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if (
            unless_not_found(
                lambda: self.clients("lambda").get_function_event_invoke_config(
                    **pick(request.properties, ("FunctionName", "Qualifier"))
                )
            )
            is None
        ):
            return None
        return Provisioned(self._id(request))

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arguments = _integers(
            pick(props, ("FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds"))
        )
        if props.get("DestinationConfig"):
            arguments["DestinationConfig"] = props["DestinationConfig"]
        self.clients("lambda").put_function_event_invoke_config(**arguments)
        return Provisioned(self._id(request))

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # A put replaces the whole config on AWS; moto 5.2.5 appends another one and keeps
        # answering with the first, so the old config is deleted before the put.
        self.clients("lambda").delete_function_event_invoke_config(
            **pick(request.properties, ("FunctionName", "Qualifier"))
        )
        return self.create(request)


class VersionProvisioner(Provisioner):
    """A published, immutable snapshot of a function (SAM `AutoPublishAlias`)."""

    resource_type = "AWS::Lambda::Version"
    finds_by_recorded_id = True
    attributes = frozenset({"Version", "FunctionArn"})
    handled_properties = frozenset({"FunctionName", "Description", "CodeSha256"})

    def _provisioned(self, config: Mapping[str, Any]) -> Provisioned:
        qualified = config["FunctionArn"]
        return Provisioned(
            qualified, {"Version": config["Version"], "FunctionArn": qualified.rsplit(":", 1)[0]}
        )

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if request.previous is None:
            return None
        name = request.previous.physical_id
        config = unless_not_found(
            lambda: self.clients("lambda").get_function_configuration(FunctionName=name)
        )
        if config is None:
            return None
        return self._provisioned(config)

    def create(self, request: ResourceRequest) -> Provisioned:
        config = self.clients("lambda").publish_version(**pick(request.properties, self.handled_properties))
        return self._provisioned(config)


class AliasProvisioner(Provisioner):
    resource_type = "AWS::Lambda::Alias"
    attributes = frozenset({"AliasArn"})
    handled_properties = frozenset(
        {"FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig"}
    )
    naming = NameRule("Name", 128)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        alias = unless_not_found(
            lambda: self.clients("lambda").get_alias(
                FunctionName=request.properties["FunctionName"], Name=request.properties["Name"]
            )
        )
        if alias is None:
            return None
        return Provisioned(alias["AliasArn"], {"AliasArn": alias["AliasArn"]})

    def create(self, request: ResourceRequest) -> Provisioned:
        alias = self.clients("lambda").create_alias(**pick(request.properties, self.handled_properties))
        return Provisioned(alias["AliasArn"], {"AliasArn": alias["AliasArn"]})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # On AWS an alias with a CodeDeploy update policy (SAM DeploymentPreference) is shifted by a
        # CodeDeploy deployment; the local cloud has none, so the alias moves all at once.
        props = request.properties
        self.clients("lambda").update_alias(**pick(props, self.handled_properties))
        LOG.info("%s: alias %s now serves version %s (all at once)", request.logical_id, props["Name"],
                 props.get("FunctionVersion"))
        return current


_MAPPING_SETTINGS = (
    "BatchSize",
    "Enabled",
    "MaximumBatchingWindowInSeconds",
    "FilterCriteria",
    "FunctionResponseTypes",
    "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts",
    "BisectBatchOnFunctionError",
    "ParallelizationFactor",
    "DestinationConfig",
    "ScalingConfig",
    "TumblingWindowInSeconds",
)


class EventSourceMappingProvisioner(Provisioner):
    """Polls a queue or stream into a function (SAM `SQS`, `DynamoDB`, `Kinesis` events)."""

    resource_type = "AWS::Lambda::EventSourceMapping"
    finds_by_recorded_id = True
    attributes = frozenset({"Id", "EventSourceMappingArn"})
    handled_properties = frozenset(
        {
            "FunctionName",
            "EventSourceArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            *_MAPPING_SETTINGS,
        }
    )

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "source": pick(properties, ("EventSourceArn", "StartingPosition", "StartingPositionTimestamp")),
            "settings": pick(properties, ("FunctionName", *_MAPPING_SETTINGS)),
        }

    def _provisioned(self, request: ResourceRequest, uuid: str) -> Provisioned:
        arn = request.arn("lambda", f"event-source-mapping:{uuid}")
        return Provisioned(uuid, {"Id": uuid, "EventSourceMappingArn": arn})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        aws_lambda = self.clients("lambda")
        if request.previous is None:
            # Lambda allows one mapping per function and source; adopt it rather than add a
            # second one that would deliver every message twice.
            mappings = aws_lambda.list_event_source_mappings(
                FunctionName=request.properties["FunctionName"],
                EventSourceArn=request.properties["EventSourceArn"],
            )["EventSourceMappings"]
            return self._provisioned(request, mappings[0]["UUID"]) if mappings else None
        uuid = request.previous.physical_id
        mapping = unless_not_found(lambda: aws_lambda.get_event_source_mapping(UUID=uuid))
        if mapping is None:
            return None
        return self._provisioned(request, mapping["UUID"])

    def create(self, request: ResourceRequest) -> Provisioned:
        arguments = _integers(pick(request.properties, self.handled_properties))
        if "Enabled" in arguments:
            arguments["Enabled"] = as_bool(arguments["Enabled"])
        mapping = self.clients("lambda").create_event_source_mapping(**arguments)
        return self._provisioned(request, mapping["UUID"])

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        aws_lambda = self.clients("lambda")
        if "source" in changed:  # the source cannot change in place: CloudFormation replaces the mapping
            aws_lambda.delete_event_source_mapping(UUID=current.physical_id)
            return self.create(request)
        arguments = _integers(pick(request.properties, ("FunctionName", *_MAPPING_SETTINGS)))
        if "Enabled" in arguments:
            arguments["Enabled"] = as_bool(arguments["Enabled"])
        aws_lambda.update_event_source_mapping(UUID=current.physical_id, **arguments)
        return current
