"""Evaluate CloudFormation intrinsic functions and conditions, and find what a value refers to."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .exceptions import TemplateError, UnsupportedIntrinsicError


class _NoValue:
    """`Ref: AWS::NoValue`: the enclosing property or list item disappears."""

    _instance: _NoValue | None = None

    def __new__(cls) -> _NoValue:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class ResolvedResource:
    """What other resources can read from a provisioned one: its Ref value and GetAtt attributes."""

    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)


def intrinsic_name(value: Any) -> str | None:
    """The function name if `value` is an intrinsic call (`{"Ref": ...}` or `{"Fn::X": ...}`)."""
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
            return key
    return None


def to_cfn_string(value: Any, where: str = "") -> str:
    """Stringify a scalar as CloudFormation does when it substitutes it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{where}: expected a string, got {type(value).__name__} {value!r}")


def _sub_parts(argument: Any, where: str) -> tuple[str, Mapping[str, Any]]:
    if isinstance(argument, str):
        return argument, {}
    if (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], dict)
    ):
        return argument[0], argument[1]
    raise TemplateError(f"{where}: Fn::Sub takes a string or [string, {{variables}}]")


def sub_variables(text: str) -> Iterator[str]:
    """Names a `Fn::Sub` string reads, skipping `${!Literal}` escapes."""
    for match in _SUB_VARIABLE.finditer(text):
        body = match.group(1)
        if not body.startswith("!"):
            yield body.strip()


def iter_intrinsics(value: Any, where: str) -> Iterator[tuple[str, Any, str]]:
    """Every intrinsic call inside `value`, nested ones included, with where it sits."""
    name = intrinsic_name(value)
    if name is not None:
        yield name, value[name], where
        yield from iter_intrinsics(value[name], f"{where}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from iter_intrinsics(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_intrinsics(item, f"{where}[{index}]")


def references(value: Any, where: str = "") -> Iterator[tuple[str, str | None, str]]:
    """(logical id or parameter name, GetAtt attribute or None, where) for every Ref/GetAtt/Sub name."""
    for name, argument, at in iter_intrinsics(value, where):
        if name == "Ref" and isinstance(argument, str):
            yield argument, None, at
        elif name == "Fn::GetAtt":
            target = _split_get_att(argument, at)
            if isinstance(target[1], str):
                yield target[0], target[1], at
            else:
                yield target[0], None, at
        elif name == "Fn::Sub":
            text, variables = _sub_parts(argument, at)
            for variable in sub_variables(text):
                if variable in variables:
                    continue
                if "." in variable and not variable.startswith("AWS::"):
                    logical_id, _, attribute = variable.partition(".")
                    yield logical_id, attribute, at
                else:
                    yield variable, None, at


def _split_get_att(argument: Any, where: str) -> tuple[str, Any]:
    if isinstance(argument, str) and "." in argument:
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        return argument[0], argument[1]
    raise TemplateError(f"{where}: Fn::GetAtt takes [LogicalId, Attribute] or 'LogicalId.Attribute'")


def _expect_list(argument: Any, length: int, function: str, where: str) -> list[Any]:
    if not isinstance(argument, list) or len(argument) != length:
        raise TemplateError(f"{where}: {function} takes a list of {length} arguments, got {argument!r}")
    return argument


class IntrinsicResolver:
    """Evaluates intrinsics against parameters, pseudo parameters, mappings and provisioned resources.

    `resources` is read live, so the deployer fills it in as resources are provisioned.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        mappings: Mapping[str, Any],
        conditions: Mapping[str, Any],
        declared: Mapping[str, str],
        resources: Mapping[str, ResolvedResource],
        exports: Mapping[str, Any],
        region: str,
    ) -> None:
        self._parameters = parameters
        self._pseudo = pseudo
        self._mappings = mappings
        self._conditions = conditions
        self._declared = declared
        self._resources = resources
        self._exports = exports
        self._region = region
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # ---- public -------------------------------------------------------------------------------
    def resolve(self, value: Any, where: str = "") -> Any:
        """`value` with every intrinsic evaluated; `AWS::NoValue` items are dropped."""
        name = intrinsic_name(value)
        if name is not None:
            function = _FUNCTIONS.get(name)
            if function is None:
                raise UnsupportedIntrinsicError(f"intrinsic function {name} at {where} is not supported")
            return function(self, value[name], f"{where}.{name}")
        if isinstance(value, dict):
            resolved_map = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved_map.items() if item is not NO_VALUE}
        if isinstance(value, list):
            resolved_list = [self.resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in resolved_list if item is not NO_VALUE]
        return value

    def condition(self, name: str, where: str = "") -> bool:
        """The value of a named condition from the Conditions section (memoised)."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self._conditions:
            raise TemplateError(f"{where or 'template'}: condition {name!r} is not declared in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            result = self._condition_expression(self._conditions[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        self._condition_values[name] = result
        return result

    def has_condition(self, name: str) -> bool:
        return name in self._conditions

    def is_referenceable(self, name: str) -> bool:
        """Whether `Ref: name` can resolve: a parameter, a pseudo parameter or a declared resource."""
        return name in self._parameters or name in self._pseudo or name in self._declared

    # ---- conditions -----------------------------------------------------------------------------
    def _condition_expression(self, expression: Any, where: str) -> bool:
        if isinstance(expression, dict) and set(expression) == {"Condition"}:
            return self.condition(expression["Condition"], where)
        name = intrinsic_name(expression)
        if name not in _CONDITION_FUNCTIONS:
            raise TemplateError(
                f"{where}: a condition must be Fn::Equals/Not/And/Or or Condition, got {expression!r}"
            )
        result = self.resolve(expression, where)
        return bool(result)

    # ---- functions ------------------------------------------------------------------------------
    def _ref(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, str):
            raise TemplateError(f"{where}: Ref takes a name, got {argument!r}")
        if argument in self._parameters:
            return self._parameters[argument]
        if argument in self._pseudo:
            return self._pseudo[argument]
        return self._resource(argument, where).ref

    def _resource(self, logical_id: str, where: str) -> ResolvedResource:
        if logical_id in self._resources:
            return self._resources[logical_id]
        if logical_id in self._declared:
            raise TemplateError(
                f"{where}: resource {logical_id} is not created (its Condition is false) but is referenced"
            )
        raise TemplateError(f"{where}: {logical_id!r} is not a parameter, pseudo parameter or resource")

    def _get_att(self, argument: Any, where: str) -> Any:
        logical_id, attribute = _split_get_att(argument, where)
        attribute = self.resolve(attribute, where)
        attributes = self._resource(logical_id, where).attributes
        if attribute not in attributes:
            raise TemplateError(f"{where}: {logical_id} has no attribute {attribute!r}")
        return attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        text, variables = _sub_parts(argument, where)
        local = {key: self.resolve(item, f"{where}.{key}") for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            body = match.group(1)
            if body.startswith("!"):
                return "${" + body[1:] + "}"
            body = body.strip()
            if body in local:
                return to_cfn_string(local[body], where)
            if "." in body and not body.startswith("AWS::"):
                return to_cfn_string(self._get_att(body.split(".", 1), where), where)
            return to_cfn_string(self._ref(body, where), where)

        return _SUB_VARIABLE.sub(replace, text)

    def _join(self, argument: Any, where: str) -> str:
        delimiter, items = _expect_list(argument, 2, "Fn::Join", where)
        items = self.resolve(items, where)
        if not isinstance(items, list):
            raise TemplateError(f"{where}: Fn::Join needs a list of values, got {items!r}")
        return to_cfn_string(delimiter, where).join(to_cfn_string(item, where) for item in items)

    def _select(self, argument: Any, where: str) -> Any:
        index, items = _expect_list(argument, 2, "Fn::Select", where)
        index = self.resolve(index, where)
        items = self.resolve(items, where)
        try:
            return items[int(index)]
        except (IndexError, ValueError, TypeError) as exc:
            raise TemplateError(f"{where}: Fn::Select index {index!r} out of range for {items!r}") from exc

    def _split(self, argument: Any, where: str) -> list[str]:
        delimiter, source = _expect_list(argument, 2, "Fn::Split", where)
        return to_cfn_string(self.resolve(source, where), where).split(to_cfn_string(delimiter, where))

    def _if(self, argument: Any, where: str) -> Any:
        condition, when_true, when_false = _expect_list(argument, 3, "Fn::If", where)
        chosen = when_true if self.condition(condition, where) else when_false
        return self.resolve(chosen, where)

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top_key, second_key = (
            to_cfn_string(self.resolve(part, where), where)
            for part in _expect_list(argument, 3, "Fn::FindInMap", where)
        )
        try:
            return self._mappings[map_name][top_key][second_key]
        except (KeyError, TypeError) as exc:
            raise TemplateError(f"{where}: Mappings has no {map_name}.{top_key}.{second_key}") from exc

    def _base64(self, argument: Any, where: str) -> str:
        text = to_cfn_string(self.resolve(argument, where), where)
        return base64.b64encode(text.encode()).decode()

    def _get_azs(self, argument: Any, where: str) -> list[str]:
        region = self.resolve(argument, where) or self._region
        # moto's EC2 reports a, b, c for every region; a template only needs stable names.
        return [f"{region}{letter}" for letter in "abc"]

    def _import_value(self, argument: Any, where: str) -> Any:
        name = to_cfn_string(self.resolve(argument, where), where)
        if name not in self._exports:
            raise TemplateError(f"{where}: no deployed stack exports {name!r}")
        return self._exports[name]

    def _equals(self, argument: Any, where: str) -> bool:
        left, right = (self.resolve(a, where) for a in _expect_list(argument, 2, "Fn::Equals", where))
        # CloudFormation compares the string forms: `5` equals `"5"`.
        return _comparable(left) == _comparable(right)

    def _not(self, argument: Any, where: str) -> bool:
        (expression,) = _expect_list(argument, 1, "Fn::Not", where)
        return not self._condition_expression(expression, where)

    def _and(self, argument: Any, where: str) -> bool:
        if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
            raise TemplateError(f"{where}: Fn::And takes 2 to 10 conditions")
        return all(self._condition_expression(e, where) for e in argument)

    def _or(self, argument: Any, where: str) -> bool:
        if not isinstance(argument, list) or not 2 <= len(argument) <= 10:
            raise TemplateError(f"{where}: Fn::Or takes 2 to 10 conditions")
        return any(self._condition_expression(e, where) for e in argument)


def _comparable(value: Any) -> Any:
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return to_cfn_string(value)


_Function = Callable[[IntrinsicResolver, Any, str], Any]

# Intrinsic name -> evaluator. Anything else (Fn::Cidr, Fn::Transform, Fn::Length, Fn::ForEach...)
# is reported as unsupported rather than passed through unevaluated.
_FUNCTIONS: dict[str, _Function] = {
    "Ref": IntrinsicResolver._ref,
    "Fn::GetAtt": IntrinsicResolver._get_att,
    "Fn::Sub": IntrinsicResolver._sub,
    "Fn::Join": IntrinsicResolver._join,
    "Fn::Select": IntrinsicResolver._select,
    "Fn::Split": IntrinsicResolver._split,
    "Fn::If": IntrinsicResolver._if,
    "Fn::FindInMap": IntrinsicResolver._find_in_map,
    "Fn::Base64": IntrinsicResolver._base64,
    "Fn::GetAZs": IntrinsicResolver._get_azs,
    "Fn::ImportValue": IntrinsicResolver._import_value,
    "Fn::Equals": IntrinsicResolver._equals,
    "Fn::Not": IntrinsicResolver._not,
    "Fn::And": IntrinsicResolver._and,
    "Fn::Or": IntrinsicResolver._or,
}
_CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"})
SUPPORTED_FUNCTIONS = frozenset(_FUNCTIONS)
