"""Step Functions state machines, with the definition taken from a string, an object or S3."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    lower_first_keys,
    tags_to_list,
    unless_not_found,
)


def substitute(definition: str, substitutions: Mapping[str, Any]) -> str:
    """CloudFormation's `DefinitionSubstitutions`: each `${Key}` becomes its value; other `${...}` stay."""
    for key, value in substitutions.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        definition = definition.replace("${" + key + "}", text)
    return definition


class StateMachineProvisioner(Provisioner):
    resource_type = "AWS::StepFunctions::StateMachine"
    attributes = frozenset({"Arn", "Name", "StateMachineRevisionId"})
    handled_properties = frozenset(
        {
            "StateMachineName",
            "Definition",
            "DefinitionString",
            "DefinitionS3Location",
            "DefinitionSubstitutions",
            "RoleArn",
            "StateMachineType",
            "LoggingConfiguration",
            "TracingConfiguration",
            "Tags",
        }
    )
    naming = NameRule("StateMachineName", 80)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": properties.get("StateMachineType", "STANDARD"),
            "definition": {
                k: properties.get(k)
                for k in ("Definition", "DefinitionString", "DefinitionS3Location", "DefinitionSubstitutions")
            },
            "settings": {
                k: properties.get(k) for k in ("RoleArn", "LoggingConfiguration", "TracingConfiguration")
            },
            "tags": properties.get("Tags"),
        }

    def _arn(self, request: ResourceRequest) -> str:
        return request.arn("states", f"stateMachine:{self.physical_name(request)}")

    def _provisioned(self, machine: Mapping[str, Any]) -> Provisioned:
        arn = machine["stateMachineArn"]
        attributes = {
            "Arn": arn,
            "Name": machine["name"],
            "StateMachineRevisionId": machine.get("revisionId", arn),
        }
        return Provisioned(arn, attributes)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        machine = unless_not_found(
            lambda: self.clients("stepfunctions").describe_state_machine(stateMachineArn=self._arn(request)),
            "StateMachineDoesNotExist",
        )
        if machine is None:
            return None
        return self._provisioned(machine)

    def definition(self, request: ResourceRequest) -> str:
        """The ASL text after fetching it and applying `DefinitionSubstitutions`."""
        props = request.properties
        if "DefinitionString" in props:
            text = str(props["DefinitionString"])
        elif "Definition" in props:
            text = json.dumps(props["Definition"], indent=2)
        else:
            location = props["DefinitionS3Location"]
            extra = {"VersionId": location["Version"]} if location.get("Version") else {}
            body = self.clients("s3").get_object(Bucket=location["Bucket"], Key=location["Key"], **extra)[
                "Body"
            ]
            text = body.read().decode("utf-8")
        return substitute(text, props.get("DefinitionSubstitutions") or {})

    def _settings(self, props: Mapping[str, Any]) -> dict[str, Any]:
        settings: dict[str, Any] = {"roleArn": props["RoleArn"]}
        if props.get("LoggingConfiguration"):
            settings["loggingConfiguration"] = lower_first_keys(props["LoggingConfiguration"])
        if props.get("TracingConfiguration"):
            settings["tracingConfiguration"] = lower_first_keys(props["TracingConfiguration"])
        return settings

    def create(self, request: ResourceRequest) -> Provisioned:
        props, sfn = request.properties, self.clients("stepfunctions")
        arguments: dict[str, Any] = {
            "name": self.physical_name(request),
            "definition": self.definition(request),
            "type": props.get("StateMachineType", "STANDARD"),
            **self._settings(props),
        }
        if props.get("Tags"):
            arguments["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tags_to_list(props["Tags"])]
        arn = sfn.create_state_machine(**arguments)["stateMachineArn"]
        return self._provisioned(sfn.describe_state_machine(stateMachineArn=arn))

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        sfn, arn = self.clients("stepfunctions"), current.physical_id
        if "type" in changed:  # STANDARD <-> EXPRESS needs a new state machine, as in CloudFormation
            sfn.delete_state_machine(stateMachineArn=arn)
            return self.create(request)
        if changed & {"definition", "settings"}:
            sfn.update_state_machine(
                stateMachineArn=arn, definition=self.definition(request), **self._settings(request.properties)
            )
        if "tags" in changed and request.properties.get("Tags"):
            tags = [{"key": t["Key"], "value": t["Value"]} for t in tags_to_list(request.properties["Tags"])]
            sfn.tag_resource(resourceArn=arn, tags=tags)
        return self._provisioned(sfn.describe_state_machine(stateMachineArn=arn))
