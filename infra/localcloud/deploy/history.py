"""What CloudFormation keeps of a stack besides its resources: its templates and its events.

Stored beside the stack record, in `state_dir/stacks/<stack>/` (`template` as deployed,
`processed.json` after the SAM transform, `events.json` oldest first), so the local cloud's
CloudFormation API (cloudformation.py) answers GetTemplate and DescribeStackEvents, after a restart
too. Every write is atomic: a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .stack import STACKS_FOLDER, StackResult

#: The CloudFormation type of a stack's own events.
STACK_TYPE = "AWS::CloudFormation::Stack"
# AWS keeps a stack's events for its lifetime; the local record keeps the newest ones.
MAX_EVENTS = 5000

ORIGINAL, PROCESSED = "Original", "Processed"

# IAM types that need CAPABILITY_IAM, and the property that names each (then CAPABILITY_NAMED_IAM).
_IAM_NAMES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::UserToGroupAddition": None,
}


def now() -> str:
    """A CloudFormation timestamp (UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history_dir(state_dir: Path, stack_name: str) -> Path:
    return state_dir / STACKS_FOLDER / stack_name


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)


def save_templates(state_dir: Path, stack_name: str, original: str, processed: Mapping[str, Any]) -> None:
    """The template as deployed (its text, verbatim) and after the transform (JSON)."""
    folder = history_dir(state_dir, stack_name)
    _write_atomically(folder / "template", original)
    _write_atomically(folder / "processed.json", json.dumps(processed, indent=2, default=str) + "\n")


def read_template(state_dir: Path, stack_name: str, stage: str = ORIGINAL) -> str | None:
    """The stored template text of one stage, or None when none was stored."""
    name = "template" if stage == ORIGINAL else "processed.json"
    try:
        return (history_dir(state_dir, stack_name) / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def read_events(state_dir: Path, stack_name: str) -> list[dict[str, Any]]:
    """Every recorded event of the stack, oldest first."""
    try:
        events = json.loads((history_dir(state_dir, stack_name) / "events.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    return list(events)


def append_events(state_dir: Path, stack_name: str, events: list[dict[str, Any]]) -> None:
    kept = (read_events(state_dir, stack_name) + events)[-MAX_EVENTS:]
    _write_atomically(history_dir(state_dir, stack_name) / "events.json", json.dumps(kept, indent=1) + "\n")


def event(logical_id: str, physical_id: str, resource_type: str, status: str, reason: str | None = None
          ) -> dict[str, Any]:
    """One stack event as DescribeStackEvents lists it (StackId and StackName are added when answered)."""
    record: dict[str, Any] = {
        "EventId": str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": resource_type,
        "ResourceStatus": status,
        "Timestamp": now(),
    }
    if reason:
        record["ResourceStatusReason"] = reason
    return record


def required_capabilities(original: Mapping[str, Any], processed: Mapping[str, Any]) -> list[str]:
    """The capabilities CloudFormation asks for to deploy this template (as `sam deploy` passes them)."""
    capabilities: list[str] = []
    iam = [r for r in (processed.get("Resources") or {}).values()
           if isinstance(r, dict) and r.get("Type") in _IAM_NAMES]
    named = [r for r in iam if _IAM_NAMES[r["Type"]] and _IAM_NAMES[r["Type"]] in (r.get("Properties") or {})]
    if named:
        capabilities.append("CAPABILITY_NAMED_IAM")
    elif iam:
        capabilities.append("CAPABILITY_IAM")
    if original.get("Transform"):
        capabilities.append("CAPABILITY_AUTO_EXPAND")
    return capabilities


def list_stacks(state_dir: Path) -> list[StackResult]:
    """Every stack recorded under `state_dir`, in name order."""
    folder = state_dir / STACKS_FOLDER
    stacks = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            stacks.append(StackResult.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue  # half-written by an older deployer, or not a stack record
    return stacks
