"""Load CloudFormation/SAM templates, turning YAML short-form tags into long-form intrinsics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .exceptions import TemplateError

# Short-form tag -> long-form key. `!GetAtt A.B` and `!Condition X` need their own shapes.
_SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
    "Cidr": "Fn::Cidr",
    "Transform": "Fn::Transform",
    "Length": "Fn::Length",
    "ToJsonString": "Fn::ToJsonString",
}


class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that knows CloudFormation's `!Tag` short forms.

    Like CloudFormation it keeps unquoted dates (`2010-09-09`) as strings.
    """

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _construct_short_form(loader: CfnYamlLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = _SHORT_FORMS.get(tag_suffix)
    if key is None:
        raise TemplateError(f"unknown YAML tag !{tag_suffix} at line {node.start_mark.line + 1}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if key == "Fn::GetAtt" and isinstance(value, str):
        # `!GetAtt Res.Attr.Sub` splits at the first dot, as CloudFormation does.
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    if key == "Fn::GetAZs" and value is None:
        value = ""
    return {key: value}


CfnYamlLoader.add_multi_constructor("!", _construct_short_form)


def loads_template(text: str, *, source: str = "<template>") -> dict[str, Any]:
    """Parse template text (YAML or JSON) into a dict with long-form intrinsics."""
    try:
        document = yaml.load(text, Loader=CfnYamlLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML/JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{source}: a template is a mapping with a Resources section")
    return document


def load_template(path: Path) -> dict[str, Any]:
    """Read a template file; see `loads_template`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from exc
    return loads_template(text, source=str(path))
