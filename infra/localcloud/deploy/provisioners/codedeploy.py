"""CodeDeploy applications and deployment groups (SAM `DeploymentPreference`).

moto 5.2.5 stores both, but nothing in it (or in the local cloud) runs a Lambda deployment: when a
new function version is published, the `AWS::Lambda::Alias` provisioner moves the alias to it all at
once. On AWS, CloudFormation hands that alias update to CodeDeploy instead (the alias's
`CodeDeployLambdaAliasUpdate` update policy), which shifts traffic as the group's deployment
configuration says (e.g. 10 % for 5 minutes) and rolls back when one of the group's alarms fires.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_bool,
    lower_first_keys,
    tags_to_list,
    unless_not_found,
)

LOG = logging.getLogger("localcloud.deploy")

_APPLICATION_MISSING = "ApplicationDoesNotExistException"
_GROUP_MISSING = "DeploymentGroupDoesNotExistException"


class ApplicationProvisioner(Provisioner):
    """A CodeDeploy application; its Ref is its name."""

    resource_type = "AWS::CodeDeploy::Application"
    handled_properties = frozenset({"ApplicationName", "ComputePlatform", "Tags"})
    naming = NameRule("ApplicationName", 100)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {"platform": properties.get("ComputePlatform"), "tags": properties.get("Tags")}

    def find(self, request: ResourceRequest) -> Provisioned | None:
        name = self.physical_name(request)
        found = unless_not_found(
            lambda: self.clients("codedeploy").get_application(applicationName=name), _APPLICATION_MISSING
        )
        return Provisioned(name) if found is not None else None

    def create(self, request: ResourceRequest) -> Provisioned:
        name, props = self.physical_name(request), request.properties
        arguments: dict[str, Any] = {"applicationName": name, "computePlatform": props.get("ComputePlatform", "Server")}
        if props.get("Tags"):
            arguments["tags"] = tags_to_list(props["Tags"])
        self.clients("codedeploy").create_application(**arguments)
        return Provisioned(name)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        props = request.properties
        if "tags" in changed and props.get("Tags"):
            arn = request.arn("codedeploy", f"application:{current.physical_id}")
            self.clients("codedeploy").tag_resource(ResourceArn=arn, Tags=tags_to_list(props["Tags"]))
        if "platform" in changed:
            # CloudFormation replaces the application; the local cloud never deletes (data survives).
            LOG.warning("%s: ComputePlatform changed; the local cloud keeps application %s as it was",
                        request.logical_id, current.physical_id)
        return current


# Deployment group properties as CreateDeploymentGroup takes them (camelCase, nested keys too).
_GROUP_SETTINGS = (
    "DeploymentConfigName",
    "ServiceRoleArn",
    "DeploymentStyle",
    "AlarmConfiguration",
    "AutoRollbackConfiguration",
    "TriggerConfigurations",
    "BlueGreenDeploymentConfiguration",
    "LoadBalancerInfo",
    "ECSServices",
    "Ec2TagSet",
    "OnPremisesTagSet",
    "OutdatedInstancesStrategy",
    "TerminationHookEnabled",
)


def _enabled_flags(value: Any) -> Any:
    """`Enabled`/`IgnorePollAlarmFailure` may arrive as strings from parameters; the API wants booleans."""
    if isinstance(value, dict):
        return {
            k: as_bool(v) if k in ("Enabled", "IgnorePollAlarmFailure") else _enabled_flags(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_enabled_flags(v) for v in value]
    return value


class DeploymentGroupProvisioner(Provisioner):
    """A CodeDeploy deployment group; its Ref is its name. Recorded only: locally no deployment runs."""

    resource_type = "AWS::CodeDeploy::DeploymentGroup"
    handled_properties = frozenset({"ApplicationName", "DeploymentGroupName", "Tags", *_GROUP_SETTINGS})
    naming = NameRule("DeploymentGroupName", 100)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        name = self.physical_name(request)
        found = unless_not_found(
            lambda: self.clients("codedeploy").get_deployment_group(
                applicationName=request.properties["ApplicationName"], deploymentGroupName=name
            ),
            _APPLICATION_MISSING,
            _GROUP_MISSING,
        )
        return Provisioned(name) if found is not None else None

    def create(self, request: ResourceRequest) -> Provisioned:
        name, props = self.physical_name(request), request.properties
        arguments: dict[str, Any] = {
            "applicationName": props["ApplicationName"],
            "deploymentGroupName": name,
            **{key[:1].lower() + key[1:]: lower_first_keys(_enabled_flags(props[key]))
               for key in _GROUP_SETTINGS if key in props},
        }
        if "ECSServices" in props:
            arguments["ecsServices"] = arguments.pop("eCSServices")
        if props.get("Tags"):
            arguments["tags"] = tags_to_list(props["Tags"])
        self.clients("codedeploy").create_deployment_group(**arguments)
        self._note(request, name)
        return Provisioned(name)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # moto 5.2.5 implements neither UpdateDeploymentGroup nor DeleteDeploymentGroup.
        LOG.warning(
            "%s: deployment group %s changed; moto cannot update it, so the local cloud keeps the first "
            "configuration (it runs no deployments either way)",
            request.logical_id,
            current.physical_id,
        )
        return current

    @staticmethod
    def _note(request: ResourceRequest, name: str) -> None:
        props = request.properties
        alarms = [a.get("Name") for a in (props.get("AlarmConfiguration") or {}).get("Alarms", [])]
        LOG.info(
            "%s: CodeDeploy group %s (%s, alarms %s) recorded; locally a new version gets the alias all at "
            "once: no traffic shifting, no alarm rollback (on AWS CodeDeploy does both)",
            request.logical_id,
            name,
            props.get("DeploymentConfigName", "default"),
            alarms or "none",
        )
