"""Template parameters: parse `--parameter-overrides`, apply defaults and check constraints."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import ParameterError

ParameterValue = str | list[str]

_CFN_STYLE = re.compile(r"^ParameterKey=(?P<key>[^,]+),ParameterValue=(?P<value>.*)$", re.DOTALL)
_LIST_TYPES = {"CommaDelimitedList", "List<Number>"}


def parse_parameter_overrides(overrides: str | Sequence[str] | None) -> dict[str, str]:
    """Parse overrides as `sam deploy --parameter-overrides` accepts them.

    Both `A=1 B='two words'` and `ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=2`
    work, as a single string or as a sequence of tokens (argparse `nargs="+"`).
    """
    if not overrides:
        return {}
    tokens = (
        shlex.split(overrides)
        if isinstance(overrides, str)
        else [t for o in overrides for t in shlex.split(o)]
    )
    parsed: dict[str, str] = {}
    for token in tokens:
        match = _CFN_STYLE.match(token)
        if match:
            key, value = match["key"], match["value"]
        elif "=" in token:
            key, _, value = token.partition("=")
        else:
            raise ParameterError(f"parameter override {token!r} is not Key=Value")
        if not key:
            raise ParameterError(f"parameter override {token!r} has an empty key")
        parsed[key] = value
    return parsed


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_string(v) for v in value)
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_one(name: str, spec: Mapping[str, Any], value: str) -> None:
    kind = spec.get("Type", "String")
    if kind in {"Number", "List<Number>"} and not _is_number(value):
        raise ParameterError(f"parameter {name} must be a number, got {value!r}")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [_as_string(a) for a in allowed]:
        raise ParameterError(
            f"parameter {name} must be one of {[_as_string(a) for a in allowed]}, got {value!r}"
        )
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise ParameterError(f"parameter {name} must match pattern {pattern}, got {value!r}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise ParameterError(f"parameter {name} must be at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise ParameterError(f"parameter {name} must be at most {spec['MaxLength']} characters")
    if "MinValue" in spec and _is_number(value) and float(value) < float(spec["MinValue"]):
        raise ParameterError(f"parameter {name} must be >= {spec['MinValue']}, got {value}")
    if "MaxValue" in spec and _is_number(value) and float(value) > float(spec["MaxValue"]):
        raise ParameterError(f"parameter {name} must be <= {spec['MaxValue']}, got {value}")


def resolve_parameters(
    declared: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any] | None = None
) -> dict[str, ParameterValue]:
    """Values for every declared parameter: override, else Default, checked against the constraints.

    Values are strings, as CloudFormation passes them; list types become lists of strings.
    `NoEcho` is ignored: the local cloud has no console to hide values from.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ParameterError(f"parameter overrides {unknown} are not declared in the template's Parameters")
    values: dict[str, ParameterValue] = {}
    for name, spec in declared.items():
        kind = spec.get("Type", "String")
        if kind.startswith("AWS::SSM::Parameter") or kind.startswith("List<AWS::"):
            raise ParameterError(f"parameter {name}: type {kind} is not supported by the local cloud")
        if name in overrides:
            raw = _as_string(overrides[name])
        elif "Default" in spec:
            raw = _as_string(spec["Default"])
        else:
            raise ParameterError(f"parameter {name} has no Default and no override was given")
        if kind in _LIST_TYPES:
            items = [item.strip() for item in raw.split(",")] if raw else []
            for item in items:
                _check_one(name, spec, item)
            values[name] = items
        else:
            _check_one(name, spec, raw)
            values[name] = raw
    return values
