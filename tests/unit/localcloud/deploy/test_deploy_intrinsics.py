"""Intrinsic functions evaluate as CloudFormation evaluates them."""

from __future__ import annotations

from typing import Any

import pytest

from infra.localcloud.deploy import TemplateError, UnsupportedIntrinsicError
from infra.localcloud.deploy.deployer import pseudo_parameters
from infra.localcloud.deploy.intrinsics import IntrinsicResolver, ResolvedResource


def _resolver(**overrides: Any) -> IntrinsicResolver:
    settings: dict[str, Any] = {
        "parameters": {"Stage": "prod", "Count": "3", "Zones": ["a", "b"]},
        "pseudo": pseudo_parameters(stack_name="demo", region="eu-west-1", account_id="123456789012"),
        "mappings": {"Sizes": {"prod": {"Memory": 1024}}},
        "conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsThree": {"Fn::Equals": [{"Ref": "Count"}, 3]},
            "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "IsThree"}]},
            "Neither": {"Fn::Not": [{"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsThree"}]}]},
        },
        "declared": {"Fn": "AWS::Lambda::Function", "Off": "AWS::SQS::Queue"},
        "resources": {
            "Fn": ResolvedResource("demo-Fn-X", {"Arn": "arn:aws:lambda:eu-west-1:123456789012:function:f"})
        },
        "exports": {"shared-vpc": "vpc-1"},
        "region": "eu-west-1",
    }
    settings.update(overrides)
    return IntrinsicResolver(**settings)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Ref": "Stage"}, "prod"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "Fn"}, "demo-Fn-X"),
        ({"Fn::GetAtt": ["Fn", "Arn"]}, "arn:aws:lambda:eu-west-1:123456789012:function:f"),
        ({"Fn::Sub": "${AWS::StackName}-${AWS::Region}-${Fn}"}, "demo-eu-west-1-demo-Fn-X"),
        ({"Fn::Sub": "${Fn.Arn}/x"}, "arn:aws:lambda:eu-west-1:123456789012:function:f/x"),
        ({"Fn::Sub": ["${Name}-${!Literal}", {"Name": {"Ref": "Stage"}}]}, "prod-${Literal}"),
        ({"Fn::Join": ["/", [{"Ref": "Stage"}, 1, True]]}, "prod/1/true"),
        ({"Fn::Join": [",", {"Ref": "Zones"}]}, "a,b"),
        ({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}, "y"),
        ({"Fn::If": ["IsProd", "big", "small"]}, "big"),
        ({"Fn::If": ["Neither", "big", "small"]}, "small"),
        ({"Fn::If": ["Both", "yes", "no"]}, "yes"),
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}, 1024),
        ({"Fn::Base64": "hi"}, "aGk="),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::ImportValue": "shared-vpc"}, "vpc-1"),
    ],
)
def test_expressions(expression: dict[str, Any], expected: Any) -> None:
    assert _resolver().resolve(expression, "Test") == expected


def test_no_value_removes_the_property_or_item() -> None:
    value = {
        "Keep": 1,
        "Drop": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 2]},
        "List": [1, {"Ref": "AWS::NoValue"}],
    }

    assert _resolver().resolve(value, "Test") == {"Keep": 1, "List": [1]}


@pytest.mark.parametrize(
    ("expression", "error", "message"),
    [
        ({"Fn::Length": [1, 2]}, UnsupportedIntrinsicError, r"Fn::Length at Test is not supported"),
        ({"Fn::GetAtt": ["Fn", "Nope"]}, TemplateError, "Fn has no attribute 'Nope'"),
        ({"Ref": "Ghost"}, TemplateError, "'Ghost' is not a parameter"),
        ({"Ref": "Off"}, TemplateError, "Off is not created"),
        ({"Fn::If": ["Missing", 1, 2]}, TemplateError, "condition 'Missing' is not declared"),
        ({"Fn::FindInMap": ["Sizes", "dev", "Memory"]}, TemplateError, "Mappings has no Sizes.dev.Memory"),
        ({"Fn::ImportValue": "nope"}, TemplateError, "no deployed stack exports 'nope'"),
        ({"Fn::Select": [5, ["a"]]}, TemplateError, "out of range"),
    ],
)
def test_errors_name_the_problem(expression: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        _resolver().resolve(expression, "Test")


def test_condition_cycles_are_reported() -> None:
    resolver = _resolver(conditions={"A": {"Fn::Not": [{"Condition": "A"}]}})

    with pytest.raises(TemplateError, match="condition 'A' refers to itself"):
        resolver.condition("A")
