"""What an EventBridge target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer``.

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html

- no setting: the whole event, as JSON;
- ``Input``: that constant text, as is;
- ``InputPath``: the part of the event the JSONPath names, as JSON;
- ``InputTransformer``: ``InputPathsMap`` names values by JSONPath; ``InputTemplate`` uses them as
  ``<name>``. Inside a JSON string a value is inserted as text (escaped for JSON); elsewhere as JSON
  (so strings get their quotes). A path that names nothing gives ``null`` (an empty string inside
  quotes). The predefined ``<aws.events.rule-arn>``, ``<aws.events.rule-name>``,
  ``<aws.events.event.ingestion-time>``, ``<aws.events.event>`` (the event without ``detail``) and
  ``<aws.events.event.json>`` (the whole event) are available too.

JSONPath here covers what EventBridge paths use: ``$``, ``.name``, ``['name']`` and ``[index]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_STEP = re.compile(r"\.([^.\[\]]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[\s*(-?\d+)\s*\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class TransformError(ValueError):
    """A target setting EventBridge would refuse (an unsupported path, a malformed transformer)."""


def target_input(target: Mapping[str, Any], event: Mapping[str, Any], *, rule_arn: str, rule_name: str,
                 ingestion_time: str) -> str:
    """The text a target of ``rule`` receives for ``event``."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath"):
        return json.dumps(resolve(str(target["InputPath"]), event))
    transformer = target.get("InputTransformer")
    if transformer:
        if not isinstance(transformer, Mapping) or "InputTemplate" not in transformer:
            raise TransformError("InputTransformer needs an InputTemplate")
        values: dict[str, Any] = {name: resolve(str(path), event)
                                  for name, path in (transformer.get("InputPathsMap") or {}).items()}
        values.update({
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": ingestion_time,
            "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            "aws.events.event.json": dict(event),
        })
        return render(str(transformer["InputTemplate"]), values)
    return json.dumps(event)


def resolve(path: str, document: Any) -> Any:
    """The value ``path`` names in ``document``; None when it names nothing."""
    path = path.strip()
    if not path.startswith("$"):
        raise TransformError(f"a path starts with $: {path!r}")
    position, value = 1, document
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None or "*" in step.group(0):
            raise TransformError(f"unsupported JSONPath (only $.name, ['name'] and [index]): {path!r}")
        position = step.end()
        key = next(g for g in step.groups() if g is not None)
        if step.group(4) is not None:
            index = int(key)
            value = value[index] if isinstance(value, list) and -len(value) <= index < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with each ``<name>`` of ``values`` replaced, as text inside strings, as JSON outside."""
    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and in_string:
            out.append(template[i:i + 2])
            i += 2
            continue
        if ch == '"':
            in_string = not in_string
        elif ch == "<":
            found = _PLACEHOLDER.match(template, i)
            if found and found.group(1) in values:
                out.append(_inside_string(values[found.group(1)]) if in_string else json.dumps(values[found.group(1)]))
                i = found.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _inside_string(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]
