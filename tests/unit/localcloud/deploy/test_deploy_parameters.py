"""Parameter overrides parse like `sam deploy`, and values are checked like CloudFormation checks them."""

from __future__ import annotations

import pytest

from infra.localcloud.deploy import ParameterError, parse_parameter_overrides
from infra.localcloud.deploy.parameters import resolve_parameters


@pytest.mark.parametrize(
    "overrides",
    [
        "Stage=prod Threshold=7 Note='two words'",
        "ParameterKey=Stage,ParameterValue=prod ParameterKey=Threshold,ParameterValue=7 "
        "ParameterKey=Note,ParameterValue='two words'",
        ["Stage=prod", "Threshold=7", "Note='two words'"],
    ],
)
def test_both_override_syntaxes_parse(overrides: str | list[str]) -> None:
    assert parse_parameter_overrides(overrides) == {"Stage": "prod", "Threshold": "7", "Note": "two words"}


def test_values_may_contain_equals_signs() -> None:
    assert parse_parameter_overrides("Filter=a=b") == {"Filter": "a=b"}


def test_token_without_equals_is_rejected() -> None:
    with pytest.raises(ParameterError, match="'Stage' is not Key=Value"):
        parse_parameter_overrides("Stage")


DECLARED = {
    "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
    "Threshold": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
    "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
    "Secret": {"Type": "String", "NoEcho": True, "Default": "s"},
}


def test_defaults_apply_and_values_are_strings() -> None:
    assert resolve_parameters(DECLARED) == {
        "Stage": "dev",
        "Threshold": "5",
        "Zones": ["a", "b"],
        "Secret": "s",
    }


def test_overrides_win_over_defaults() -> None:
    assert resolve_parameters(DECLARED, {"Stage": "prod", "Threshold": "9"})["Stage"] == "prod"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Stage": "qa"}, r"Stage must be one of \['dev', 'prod'\]"),
        ({"Threshold": "many"}, "Threshold must be a number"),
        ({"Threshold": "11"}, "Threshold must be <= 10"),
        ({"Unknown": "x"}, r"\['Unknown'\] are not declared"),
    ],
)
def test_invalid_values_are_rejected(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(DECLARED, overrides)


def test_parameter_without_default_needs_a_value() -> None:
    with pytest.raises(ParameterError, match="Bucket has no Default"):
        resolve_parameters({"Bucket": {"Type": "String"}})
