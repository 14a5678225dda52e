"""Validation catches what the local cloud cannot do, and resources are ordered by their references."""

from __future__ import annotations

from typing import Any

import pytest

from infra.localcloud.deploy import (
    DependencyCycleError,
    TemplateError,
    UnsupportedAttributeError,
    UnsupportedIntrinsicError,
    UnsupportedResourceError,
)
from infra.localcloud.deploy.intrinsics import IntrinsicResolver
from infra.localcloud.deploy.plan import plan_stack

ATTRIBUTES = {"AWS::SQS::Queue": frozenset({"Arn", "QueueUrl"}), "AWS::SNS::Topic": frozenset({"TopicArn"})}


def _plan(
    resources: dict[str, Any], outputs: dict[str, Any] | None = None, conditions: dict[str, Any] | None = None
):
    template = {"Resources": resources, "Outputs": outputs or {}, "Conditions": conditions or {}}
    resolver = IntrinsicResolver(
        parameters={"Flag": "off"},
        pseudo={"AWS::Region": "us-east-1"},
        mappings={},
        conditions=template["Conditions"],
        declared={lid: r["Type"] for lid, r in resources.items()},
        resources={},
        exports={},
        region="us-east-1",
    )
    return [p.logical_id for p in plan_stack(template, resolver, ATTRIBUTES)]


def _queue(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def test_references_and_depends_on_order_resources() -> None:
    resources = {
        "C": _queue(Name={"Fn::Sub": "${B.Arn}-x"}),
        "B": {**_queue(Name={"Fn::GetAtt": ["A", "Arn"]}), "DependsOn": "D"},
        "A": _queue(),
        "D": {"Type": "AWS::SNS::Topic", "Properties": {"Name": {"Ref": "AWS::Region"}}},
    }

    assert _plan(resources) == ["A", "D", "B", "C"]


def test_cycles_are_reported_with_their_path() -> None:
    resources = {
        "A": _queue(P={"Ref": "B"}),
        "B": _queue(P={"Fn::GetAtt": ["C", "Arn"]}),
        "C": _queue(P={"Ref": "A"}),
    }

    with pytest.raises(DependencyCycleError, match="A -> B -> C -> A"):
        _plan(resources)


def test_every_unsupported_type_is_listed() -> None:
    resources = {"Ok": _queue(), "Vpc": {"Type": "AWS::EC2::VPC"}, "Db": {"Type": "AWS::RDS::DBInstance"}}

    with pytest.raises(
        UnsupportedResourceError, match="AWS::EC2::VPC in resource Vpc; AWS::RDS::DBInstance in resource Db"
    ):
        _plan(resources)


def test_resources_with_a_false_condition_are_skipped_even_if_unsupported() -> None:
    resources = {"Ok": _queue(), "Vpc": {"Type": "AWS::EC2::VPC", "Condition": "On"}}

    assert _plan(resources, conditions={"On": {"Fn::Equals": [{"Ref": "Flag"}, "on"]}}) == ["Ok"]


def test_unknown_attribute_is_rejected_before_provisioning() -> None:
    with pytest.raises(UnsupportedAttributeError, match="Fn::GetAtt A.Nope: AWS::SQS::Queue exposes"):
        _plan({"A": _queue(), "B": _queue(P={"Fn::GetAtt": ["A", "Nope"]})})


def test_unknown_intrinsic_in_outputs_is_rejected() -> None:
    with pytest.raises(UnsupportedIntrinsicError, match=r"Fn::ToJsonString at Outputs\.X\.Value"):
        _plan({"A": _queue()}, outputs={"X": {"Value": {"Fn::ToJsonString": {"a": 1}}}})


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"A": _queue(P={"Ref": "Ghost"})}, "'Ghost' is not a parameter"),
        ({"A": {**_queue(), "DependsOn": ["Ghost"]}}, "'Ghost' is not a resource that is created"),
        ({"A": {**_queue(), "Propertys": {}}}, r"unknown keys \['Propertys'\]"),
    ],
)
def test_dangling_references_and_typos_are_rejected(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        _plan(resources)
