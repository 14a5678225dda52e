"""The record of a deployed stack, saved as JSON so other local-cloud commands can read it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import StackNotFoundError

STACKS_FOLDER = "stacks"


@dataclass(frozen=True)
class StackResult:
    """What a deploy produced.

    `resources` maps each logical id of the *transformed* template to
    `{"type", "physical_id", "arn" (when the resource has one), "attributes", "fingerprint"}`
    plus `"source_path"` for Lambda functions and layers packaged from a local folder.
    `physical_id` is what `Ref` returns (a function name, a queue URL, a state machine ARN...).
    `changes` says what this deploy did to each resource: created, updated or unchanged.
    Each resource also has the CloudFormation `"status"` (CREATE_COMPLETE, UPDATE_COMPLETE, ...) and
    `"timestamp"` of its last change. The rest is what CloudFormation's DescribeStacks reports:
    `status` CREATE_COMPLETE / UPDATE_COMPLETE (CREATE_FAILED / UPDATE_FAILED: nothing is rolled
    back), `output_details` each output's Description and ExportName. Records written before these
    fields existed read with their defaults.
    """

    stack_name: str
    region: str
    endpoint_url: str
    template_path: str
    parameters: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, Any]
    exports: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)
    stack_id: str = ""
    account_id: str = ""
    status: str = ""
    status_reason: str = ""
    creation_time: str = ""
    last_updated_time: str = ""
    description: str = ""
    capabilities: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    output_details: dict[str, dict[str, str]] = field(default_factory=dict)

    def physical_id(self, logical_id: str) -> str:
        """The physical id (Ref value) of one resource; KeyError names the missing id."""
        return str(self.resources[logical_id]["physical_id"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one CloudFormation type, e.g. every `AWS::Lambda::Function`."""
        return {lid: r for lid, r in self.resources.items() if r["type"] == resource_type}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StackResult:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def stack_file(state_dir: Path, stack_name: str) -> Path:
    return state_dir / STACKS_FOLDER / f"{stack_name}.json"


def save_stack(state_dir: Path, result: StackResult) -> Path:
    """Write the stack record atomically (readers never see half a file)."""
    path = stack_file(state_dir, result.stack_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(result.to_dict(), out, indent=2, sort_keys=True, default=str)
        out.write("\n")
    os.replace(temporary, path)
    return path


def load_stack(state_dir: Path, stack_name: str) -> StackResult:
    """The last deploy of `stack_name` recorded under `state_dir`."""
    path = stack_file(state_dir, stack_name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StackNotFoundError(f"stack {stack_name!r} has not been deployed (no {path})") from exc
    return StackResult.from_dict(data)


def exports_of_other_stacks(state_dir: Path, stack_name: str) -> dict[str, Any]:
    """Every `Export` of the other stacks in `state_dir`, for `Fn::ImportValue`."""
    exports: dict[str, Any] = {}
    folder = state_dir / STACKS_FOLDER
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if path.stem != stack_name:
            exports.update(json.loads(path.read_text(encoding="utf-8")).get("exports", {}))
    return exports
