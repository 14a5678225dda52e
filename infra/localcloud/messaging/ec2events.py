"""EC2's "EC2 Instance State-change Notification" events, from the answers of the EC2 API.

AWS puts one event on the default bus each time an instance changes state (`pending`, `running`,
`stopping`, `stopped`, `shutting-down`, `terminated`); moto emits none, and moves an instance to its
final state at once. The API server shows this module each successful EC2 answer (`observe`), and
the states an action passes through are emitted in order: RunInstances and StartInstances `pending`
then `running`, StopInstances `stopping` then `stopped`, TerminateInstances `shutting-down` then
`terminated` (a state the instance was already in is not emitted again).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from typing import Any

logger = logging.getLogger("localcloud.ec2events")

SOURCE = "aws.ec2"
STATE_CHANGE = "EC2 Instance State-change Notification"
# Each action's states, in the order AWS passes through them.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "RunInstances": ("pending", "running"),
    "StartInstances": ("pending", "running"),
    "StopInstances": ("stopping", "stopped"),
    "TerminateInstances": ("shutting-down", "terminated"),
}

Emit = Callable[[str, str, Mapping[str, Any], Sequence[str]], None]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def instance_changes(action: str, body: bytes) -> list[tuple[str, str | None]]:
    """(instance id, previous state or None) of each instance an EC2 action's XML answer names."""
    if action not in TRANSITIONS:
        return []
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return []
    changes = []
    for item in root.iter():
        if _local(item.tag) != "item":
            continue
        fields = {_local(child.tag): child for child in item}
        instance_id = fields.get("instanceId")
        if instance_id is None or not (instance_id.text or "").startswith("i-"):
            continue
        previous = None
        if "previousState" in fields:
            names = [c.text for c in fields["previousState"] if _local(c.tag) == "name"]
            previous = names[0] if names else None
        changes.append((instance_id.text or "", previous))
    return changes


def state_changes(action: str, body: bytes) -> list[tuple[str, str]]:
    """(instance id, state) of every state-change event an EC2 answer stands for, in order."""
    events: list[tuple[str, str]] = []
    for instance_id, previous in instance_changes(action, body):
        states = TRANSITIONS[action]
        if previous == states[-1]:
            continue  # stopping a stopped instance changes nothing
        events.extend((instance_id, state) for state in states if state != previous)
    return events


class Ec2StateEvents:
    """Emits an instance's state changes to EventBridge, through the cloud's event emitter."""

    def __init__(self, emit: Emit, *, account_id: str):
        self._emit = emit
        self._account_id = account_id

    def observe(self, action: str, params: Mapping[str, str], region: str, body: bytes) -> None:
        for instance_id, state in state_changes(action, body):
            arn = f"arn:aws:ec2:{region}:{self._account_id}:instance/{instance_id}"
            self._emit(SOURCE, STATE_CHANGE, {"instance-id": instance_id, "state": state}, [arn])
