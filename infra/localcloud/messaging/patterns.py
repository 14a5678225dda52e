"""EventBridge event patterns: does an event match a rule's pattern (content filtering, as AWS documents).

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html

A pattern is a JSON object that mirrors the event: a field holds either a nested pattern (object)
or a list of conditions, any of which may match. A condition is a literal value (exact, type-strict
match; JSON numbers compare by value) or a one-key filter object:

- ``prefix`` / ``suffix`` (a string, or ``{"equals-ignore-case": s}``), ``equals-ignore-case``, ``wildcard``;
- ``anything-but`` (a value, a list of values, or a ``prefix``/``suffix``/``equals-ignore-case``/``wildcard``
  filter), which never matches a missing field;
- ``numeric`` (``[">", 0, "<=", 5]``), which only matches JSON numbers;
- ``exists`` (true: the field is present as a leaf; false: it is absent);
- ``cidr`` (an IPv4 or IPv6 network).

``"$or": [pattern, ...]`` at any level matches when one of its patterns does. When the event holds
an array, the condition matches if any element does. Every field of the pattern must match.
"""

from __future__ import annotations

import ipaddress
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

_MISSING = object()


class PatternError(ValueError):
    """An event pattern AWS would refuse; the message says what is wrong."""


_NUMERIC_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, "=": operator.eq, ">=": operator.ge, ">": operator.gt,
}


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when ``event`` (a dict as EventBridge delivers it) matches ``pattern``."""
    if not isinstance(pattern, Mapping):
        raise PatternError("an event pattern must be a JSON object")
    for key, rule in pattern.items():
        if key == "$or":
            if not isinstance(rule, list) or not rule:
                raise PatternError("$or needs a non-empty array of patterns")
            if not any(matches(p, event) for p in rule):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not _nested_matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not rule:
                raise PatternError(f"the conditions of {key!r} are an empty array")
            if not _leaf_matches(rule, value):
                return False
        else:
            raise PatternError(f"{key!r} must be an object or an array")
    return True


def _nested_matches(rule: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):
        return any(matches(rule, v) for v in value if isinstance(v, Mapping))
    # A missing or non-object field is matched as an empty object: only absence conditions hold.
    return matches(rule, value if isinstance(value, Mapping) else {})


def _leaf_matches(conditions: list[Any], value: Any) -> bool:
    present = value is not _MISSING and not isinstance(value, Mapping)
    values = value if isinstance(value, list) else [value]
    for condition in conditions:
        if isinstance(condition, Mapping):
            if _filter_matches(condition, present, values):
                return True
        elif isinstance(condition, list):
            raise PatternError("a condition cannot be an array")
        elif present and any(_same(condition, v) for v in values):
            return True
    return False


def _same(literal: Any, value: Any) -> bool:
    """Exact match: same JSON type and value (True is not 1; 5 and 5.0 are the same number)."""
    if isinstance(literal, bool) or isinstance(value, bool):
        return isinstance(literal, bool) and isinstance(value, bool) and literal is value
    if _is_number(literal):
        return _is_number(value) and float(literal) == float(value)
    return type(literal) is type(value) and literal == value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _filter_matches(condition: Mapping[str, Any], present: bool, values: list[Any]) -> bool:
    if len(condition) != 1:
        raise PatternError(f"a filter has exactly one key, not {sorted(condition)}")
    ((name, argument),) = condition.items()
    if name == "exists":
        if not isinstance(argument, bool):
            raise PatternError("exists takes true or false")
        return present is argument
    test = _VALUE_FILTERS.get(name)
    if test is None:
        raise PatternError(f"unknown filter {name!r}")
    return present and any(test(argument, v) for v in values)


def _text_filter(compare: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    """prefix / suffix: a string, a list of strings, or {"equals-ignore-case": string}."""

    def test(argument: Any, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if isinstance(argument, Mapping):
            target = argument.get("equals-ignore-case")
            if len(argument) != 1 or not isinstance(target, str):
                raise PatternError(f"unsupported option {dict(argument)}")
            return compare(value.lower(), target.lower())
        targets = argument if isinstance(argument, list) else [argument]
        if not all(isinstance(t, str) for t in targets):
            raise PatternError("prefix and suffix take strings")
        return any(compare(value, t) for t in targets)

    return test


def _equals_ignore_case(argument: Any, value: Any) -> bool:
    targets = argument if isinstance(argument, list) else [argument]
    return isinstance(value, str) and any(isinstance(t, str) and value.lower() == t.lower() for t in targets)


def _wildcard(argument: Any, value: Any) -> bool:
    targets = argument if isinstance(argument, list) else [argument]
    return isinstance(value, str) and any(_wildcard_regex(t).fullmatch(value) is not None for t in targets)


def _wildcard_regex(glob: Any) -> re.Pattern[str]:
    if not isinstance(glob, str):
        raise PatternError("wildcard takes a string")
    # '*' matches any run of characters; '\*' and '\\' are the literal characters.
    parts = re.split(r"(\\\*|\\\\|\*)", glob)
    return re.compile("".join(".*" if p == "*" else re.escape(p[-1] if p in ("\\*", "\\\\") else p) for p in parts))


def _numeric(argument: Any, value: Any) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise PatternError("numeric takes operator/number pairs, e.g. [\">\", 0, \"<=\", 5]")
    if not _is_number(value):
        return False
    for op, bound in zip(argument[::2], argument[1::2], strict=True):
        compare = _NUMERIC_OPERATORS.get(op)
        if compare is None or not _is_number(bound):
            raise PatternError(f"numeric: unknown operator {op!r} or a bound that is not a number")
        if not compare(float(value), float(bound)):
            return False
    return True


def _anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, Mapping):
        if len(argument) != 1:
            raise PatternError("anything-but takes one filter")
        ((name, inner),) = argument.items()
        test = _VALUE_FILTERS.get(name) if name in ("prefix", "suffix", "equals-ignore-case", "wildcard") else None
        if test is None:
            raise PatternError(f"anything-but does not take {name!r}")
        return isinstance(value, str) and not test(inner, value)
    excluded = argument if isinstance(argument, list) else [argument]
    return not any(_same(e, value) for e in excluded)


def _cidr(argument: Any, value: Any) -> bool:
    try:
        network = ipaddress.ip_network(str(argument), strict=False)
    except ValueError as err:
        raise PatternError(f"cidr: {err}") from err
    try:
        return isinstance(value, str) and ipaddress.ip_address(value) in network
    except ValueError:
        return False


_VALUE_FILTERS: dict[str, Callable[[Any, Any], bool]] = {
    "prefix": _text_filter(str.startswith),
    "suffix": _text_filter(str.endswith),
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "numeric": _numeric,
    "anything-but": _anything_but,
    "cidr": _cidr,
}
