"""IAM roles and policies. moto stores them; it does not enforce them (neither does the local runtime)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_json_text,
    is_not_found,
    pick,
    tags_to_list,
    unless_not_found,
)

LOG = logging.getLogger("localcloud.deploy")


def policy_text(document: Any) -> str:
    """A policy document as IAM APIs take it.

    SAM policy templates omit `Version`, which AWS reads as the legacy 2008-10-17 and accepts;
    moto rejects anything older than 2012-10-17, so a missing version is filled in.
    """
    if isinstance(document, dict) and "Version" not in document:
        document = {"Version": "2012-10-17", **document}
    return as_json_text(document)


class RoleProvisioner(Provisioner):
    resource_type = "AWS::IAM::Role"
    attributes = frozenset({"Arn", "RoleId"})
    handled_properties = frozenset(
        {
            "RoleName",
            "AssumeRolePolicyDocument",
            "Policies",
            "ManagedPolicyArns",
            "Path",
            "Description",
            "MaxSessionDuration",
            "Tags",
            "PermissionsBoundary",
        }
    )
    naming = NameRule("RoleName", 64)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "trust": properties.get("AssumeRolePolicyDocument"),
            "settings": pick(properties, ("Description", "MaxSessionDuration")),
            "inline": properties.get("Policies", []),
            "managed": properties.get("ManagedPolicyArns", []),
            "tags": properties.get("Tags", []),
        }

    def _provisioned(self, role: Mapping[str, Any]) -> Provisioned:
        return Provisioned(role["RoleName"], {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        role = unless_not_found(
            lambda: self.clients("iam").get_role(RoleName=self.physical_name(request))["Role"]
        )
        if role is None:
            return None
        return self._provisioned(role)

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arguments: dict[str, Any] = {
            "RoleName": self.physical_name(request),
            "AssumeRolePolicyDocument": policy_text(props["AssumeRolePolicyDocument"]),
            "Path": props.get("Path", "/"),
            **pick(props, ("Description", "MaxSessionDuration", "PermissionsBoundary")),
        }
        if props.get("Tags"):
            arguments["Tags"] = tags_to_list(props["Tags"])
        role = self.clients("iam").create_role(**arguments)["Role"]
        self._sync_inline(role["RoleName"], props.get("Policies", []))
        self._sync_managed(role["RoleName"], props.get("ManagedPolicyArns", []))
        return self._provisioned(role)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        iam, props, name = self.clients("iam"), request.properties, current.physical_id
        if "trust" in changed:
            iam.update_assume_role_policy(
                RoleName=name, PolicyDocument=policy_text(props["AssumeRolePolicyDocument"])
            )
        if "settings" in changed:
            iam.update_role(RoleName=name, **pick(props, ("Description", "MaxSessionDuration")))
        if "inline" in changed:
            self._sync_inline(name, props.get("Policies", []))
        if "managed" in changed:
            self._sync_managed(name, props.get("ManagedPolicyArns", []))
        if "tags" in changed and props.get("Tags"):
            iam.tag_role(RoleName=name, Tags=tags_to_list(props["Tags"]))
        return current

    def _sync_inline(self, role_name: str, policies: list[Mapping[str, Any]]) -> None:
        iam = self.clients("iam")
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in policies}
        for existing in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
            if existing not in wanted:
                iam.delete_role_policy(RoleName=role_name, PolicyName=existing)
        for policy_name, document in wanted.items():
            iam.put_role_policy(
                RoleName=role_name, PolicyName=policy_name, PolicyDocument=policy_text(document)
            )

    def _sync_managed(self, role_name: str, arns: list[str]) -> None:
        iam = self.clients("iam")
        attached = {
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        }
        for arn in attached - set(arns):
            iam.detach_role_policy(RoleName=role_name, PolicyArn=arn)
        for arn in sorted(set(arns) - attached):
            try:
                iam.attach_role_policy(RoleName=role_name, PolicyArn=arn)
            except ClientError as exc:
                if not (is_not_found(exc) and ":iam::aws:policy/" in arn):
                    raise
                # moto loads AWS managed policies only with MOTO_IAM_LOAD_MANAGED_POLICIES=true.
                # Policies are not enforced locally, so a missing one changes nothing observable;
                # a missing customer policy still fails, as it does on AWS.
                LOG.info(
                    "AWS managed policy %s not loaded in the local cloud; not attached to %s", arn, role_name
                )


class PolicyProvisioner(Provisioner):
    """`AWS::IAM::Policy`: an inline policy put on each listed role, user and group."""

    resource_type = "AWS::IAM::Policy"
    handled_properties = frozenset({"PolicyName", "PolicyDocument", "Roles", "Users", "Groups"})
    naming = NameRule(None, 128)

    _TARGETS = (
        ("Roles", "RoleName", "put_role_policy", "get_role_policy"),
        ("Users", "UserName", "put_user_policy", "get_user_policy"),
        ("Groups", "GroupName", "put_group_policy", "get_group_policy"),
    )

    def find(self, request: ResourceRequest) -> Provisioned | None:
        iam, props = self.clients("iam"), request.properties
        for prop, key, _, getter in self._TARGETS:
            for target in props.get(prop, []):
                lookup = partial(getattr(iam, getter), **{key: target, "PolicyName": props["PolicyName"]})
                if unless_not_found(lookup) is None:
                    return None
        return Provisioned(self.physical_name(request))

    def create(self, request: ResourceRequest) -> Provisioned:
        iam, props = self.clients("iam"), request.properties
        document = policy_text(props["PolicyDocument"])
        for prop, key, putter, _ in self._TARGETS:
            for target in props.get(prop, []):
                getattr(iam, putter)(
                    **{key: target, "PolicyName": props["PolicyName"], "PolicyDocument": document}
                )
        return Provisioned(self.physical_name(request))

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # A put replaces the document; targets dropped from the template keep the old copy (documented).
        return self.create(request)


class ManagedPolicyProvisioner(Provisioner):
    """`AWS::IAM::ManagedPolicy`: a customer managed policy attached to roles, users and groups."""

    resource_type = "AWS::IAM::ManagedPolicy"
    attributes = frozenset({"PolicyArn", "PolicyId"})
    handled_properties = frozenset(
        {"ManagedPolicyName", "PolicyDocument", "Roles", "Users", "Groups", "Path", "Description"}
    )
    naming = NameRule("ManagedPolicyName", 128)

    def _arn(self, request: ResourceRequest) -> str:
        path = request.properties.get("Path", "/")
        return request.arn("iam", f"policy{path}{self.physical_name(request)}", region=False)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        policy = unless_not_found(
            lambda: self.clients("iam").get_policy(PolicyArn=self._arn(request))["Policy"]
        )
        if policy is None:
            return None
        return Provisioned(policy["Arn"], {"PolicyArn": policy["Arn"], "PolicyId": policy["PolicyId"]})

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        policy = self.clients("iam").create_policy(
            PolicyName=self.physical_name(request),
            PolicyDocument=policy_text(props["PolicyDocument"]),
            Path=props.get("Path", "/"),
            **pick(props, ("Description",)),
        )["Policy"]
        self._attach(policy["Arn"], props)
        return Provisioned(policy["Arn"], {"PolicyArn": policy["Arn"], "PolicyId": policy["PolicyId"]})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        iam, arn = self.clients("iam"), current.physical_id
        # IAM keeps at most five versions; drop the oldest non-default one before adding.
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        old = [v for v in versions if not v["IsDefaultVersion"]]
        if len(versions) >= 5 and old:
            iam.delete_policy_version(PolicyArn=arn, VersionId=old[-1]["VersionId"])
        iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=policy_text(request.properties["PolicyDocument"]), SetAsDefault=True
        )
        self._attach(arn, request.properties)
        return current

    def _attach(self, arn: str, props: Mapping[str, Any]) -> None:
        iam = self.clients("iam")
        for role in props.get("Roles", []):
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        for user in props.get("Users", []):
            iam.attach_user_policy(UserName=user, PolicyArn=arn)
        for group in props.get("Groups", []):
            iam.attach_group_policy(GroupName=group, PolicyArn=arn)
