"""Reading template.yaml for static checks: line-aware YAML, the SAM transform, symbolic intrinsics.

Nothing here calls AWS: the transform runs aws-sam-translator offline (as the local deployer does),
and intrinsics are rendered as text (``${ModelBucket}``) instead of being resolved.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.localcloud.deploy.parameters import resolve_parameters
from infra.localcloud.deploy.template import CfnYamlLoader
from infra.localcloud.deploy.transform import transform_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"


class Located(str):
    """A YAML string that remembers the (0-based) line it was written on."""

    line: int


class LocatedLoader(CfnYamlLoader):
    """CloudFormation YAML (``!Ref``, ``!Sub``...) whose strings carry their line numbers."""

    def construct_scalar(self, node: yaml.ScalarNode) -> Any:  # type: ignore[override]
        value = super().construct_scalar(node)
        if isinstance(value, str):
            located = Located(value)
            located.line = node.start_mark.line
            return located
        return value


@dataclass(frozen=True)
class Source:
    """A template's text and its parsed document (strings located)."""

    text: str
    document: dict[str, Any]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


def read_source(text: str) -> Source:
    return Source(text, yaml.load(text, Loader=LocatedLoader))  # a SafeLoader subclass


def template_source() -> Source:
    return read_source(TEMPLATE.read_text(encoding="utf-8"))


def _placeholder_code(document: dict[str, Any]) -> dict[str, Any]:
    """Local code paths as `sam package` leaves them (S3 locations), so the transform accepts them."""
    document = copy.deepcopy(document)
    for logical_id, resource in document["Resources"].items():
        props = resource.get("Properties") or {}
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image":
                props.setdefault("ImageUri", f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{logical_id.lower()}:latest")
            elif isinstance(props.get("CodeUri"), str):
                props["CodeUri"] = {"Bucket": "artifacts", "Key": logical_id}
        elif kind == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = {"Bucket": "artifacts", "Key": logical_id}
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = {"Bucket": "artifacts", "Key": logical_id}
    return document


def translate(document: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of ``document`` (default parameters)."""
    plain = yaml.safe_load(yaml.safe_dump(_strip(document)))  # Located -> str, for the translator
    parameters = resolve_parameters(plain.get("Parameters") or {}, None)
    return transform_template(_placeholder_code(plain), parameters, region=REGION)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _strip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return str(value) if isinstance(value, str) else value


def render(value: Any) -> Any:
    """Intrinsics as text: ``{"Ref": "X"}`` -> ``${X}``, ``!GetAtt X.Arn`` -> ``${X.Arn}``, ``!Sub`` filled in."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, argument), = value.items()
        if key == "Ref":
            return f"${{{argument}}}"
        if key == "Fn::GetAtt":
            target = argument if isinstance(argument, str) else ".".join(argument)
            return f"${{{target}}}"
        if key == "Fn::Sub":
            if isinstance(argument, str):
                return str(argument)
            text, variables = argument
            text = str(text)
            for name, variable in variables.items():
                text = text.replace(f"${{{name}}}", str(render(variable)))
            return text
        if key == "Fn::Join":
            separator, parts = argument
            return str(separator).join(str(render(p)) for p in parts)
    return {k: render(v) for k, v in value.items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---- who has which policy ----------------------------------------------------------------------

POLICY_OWNERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


def owners(document: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every function and state machine of a SAM template, with its properties."""
    for logical_id, resource in document["Resources"].items():
        if resource.get("Type") in POLICY_OWNERS:
            yield str(logical_id), resource.get("Properties") or {}


def execution_roles(cfn: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Transformed template: owner logical id (function or state machine) -> its IAM role's properties."""
    resources = cfn["Resources"]
    roles: dict[str, dict[str, Any]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] not in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"):
            continue
        role = (resource["Properties"].get("Role") or resource["Properties"].get("RoleArn") or {})
        target = role.get("Fn::GetAtt") if isinstance(role, dict) else None
        if target:
            role_id = target[0] if isinstance(target, list) else str(target).split(".")[0]
            roles[logical_id] = resources[role_id]["Properties"]
    return roles


def role_statements(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies, intrinsics rendered."""
    out: list[dict[str, Any]] = []
    for policy in role.get("Policies") or []:
        out += [render(s) for s in as_list(policy["PolicyDocument"]["Statement"])]
    return out
