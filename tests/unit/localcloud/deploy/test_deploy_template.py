"""CloudFormation YAML short forms load as the long-form intrinsics CloudFormation itself sees."""

from __future__ import annotations

import pytest

from infra.localcloud.deploy import TemplateError, loads_template


def _properties(yaml_properties: str) -> dict:
    text = "Resources:\n  R:\n    Type: AWS::SQS::Queue\n    Properties:\n" + yaml_properties
    return loads_template(text)["Resources"]["R"]["Properties"]


def test_short_forms_become_long_forms() -> None:
    properties = _properties(
        "      A: !Ref Param\n"
        "      B: !GetAtt Fn.Arn\n"
        "      C: !GetAtt [Fn, Arn]\n"
        "      D: !Sub '${AWS::Region}-x'\n"
        "      E: !Sub ['${X}', {X: !Ref Y}]\n"
        "      F: !Join [',', [a, !Select [0, !Split ['-', 'b-c']]]]\n"
        "      G: !If [Cond, !FindInMap [M, K, V], !Ref AWS::NoValue]\n"
        "      H: !Base64 text\n"
        "      I: !GetAZs ''\n"
        "      J: !ImportValue shared\n"
    )

    assert properties == {
        "A": {"Ref": "Param"},
        "B": {"Fn::GetAtt": ["Fn", "Arn"]},
        "C": {"Fn::GetAtt": ["Fn", "Arn"]},
        "D": {"Fn::Sub": "${AWS::Region}-x"},
        "E": {"Fn::Sub": ["${X}", {"X": {"Ref": "Y"}}]},
        "F": {"Fn::Join": [",", ["a", {"Fn::Select": [0, {"Fn::Split": ["-", "b-c"]}]}]]},
        "G": {"Fn::If": ["Cond", {"Fn::FindInMap": ["M", "K", "V"]}, {"Ref": "AWS::NoValue"}]},
        "H": {"Fn::Base64": "text"},
        "I": {"Fn::GetAZs": ""},
        "J": {"Fn::ImportValue": "shared"},
    }


def test_condition_functions_and_condition_tag() -> None:
    text = (
        "Conditions:\n"
        "  A: !Equals [!Ref Stage, prod]\n"
        "  B: !And [!Condition A, !Not [!Or [!Condition A, !Equals [x, y]]]]\n"
        "Resources: {}\n"
    )

    conditions = loads_template(text)["Conditions"]

    assert conditions["B"] == {
        "Fn::And": [
            {"Condition": "A"},
            {"Fn::Not": [{"Fn::Or": [{"Condition": "A"}, {"Fn::Equals": ["x", "y"]}]}]},
        ]
    }


def test_unquoted_dates_stay_strings() -> None:
    assert loads_template("AWSTemplateFormatVersion: 2010-09-09\nResources: {}\n")[
        "AWSTemplateFormatVersion"
    ] == ("2010-09-09")


def test_get_att_splits_at_the_first_dot_only() -> None:
    assert _properties("      A: !GetAtt Nested.Outputs.Url\n")["A"] == {
        "Fn::GetAtt": ["Nested", "Outputs.Url"]
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Resources:\n  R: !Bogus x\n", "unknown YAML tag !Bogus"),
        ("Parameters: {}\n", "Resources section"),
        ("Resources: [\n", "not valid YAML"),
    ],
)
def test_malformed_templates_are_rejected(text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        loads_template(text)
