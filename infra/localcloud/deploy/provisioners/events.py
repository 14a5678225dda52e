"""EventBridge rules (schedules and event patterns) and EventBridge Scheduler schedules.

moto stores both; it fires neither. The local cloud's scheduler reads them back through
`events:ListRules`/`ListTargetsByRule` and `scheduler:ListSchedules`/`GetSchedule`; PutEvents
reaches the targets of event-pattern rules through the local cloud's router (`messaging/eventbus.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_json_text,
    pick,
    unless_not_found,
)

_RULE_SETTINGS = ("Description", "ScheduleExpression", "RoleArn")


def _bus_name(props: Mapping[str, Any]) -> str:
    bus = str(props.get("EventBusName", "default"))
    return bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus


class RuleProvisioner(Provisioner):
    resource_type = "AWS::Events::Rule"
    attributes = frozenset({"Arn"})
    handled_properties = frozenset(
        {"Name", "EventBusName", "EventPattern", "State", "Targets", *_RULE_SETTINGS}
    )
    naming = NameRule("Name", 64)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "rule": pick(properties, ("EventBusName", "EventPattern", "State", *_RULE_SETTINGS)),
            "targets": properties.get("Targets", []),
        }

    def _provisioned(self, request: ResourceRequest, rule: Mapping[str, Any]) -> Provisioned:
        bus = _bus_name(request.properties)
        # CloudFormation's Ref is the rule name on the default bus and `bus|name` elsewhere.
        ref = rule["Name"] if bus == "default" else f"{bus}|{rule['Name']}"
        return Provisioned(ref, {"Arn": rule["Arn"]})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        rule = unless_not_found(
            lambda: self.clients("events").describe_rule(
                Name=self.physical_name(request), EventBusName=_bus_name(request.properties)
            )
        )
        if rule is None:
            return None
        return self._provisioned(request, rule)

    def create(self, request: ResourceRequest) -> Provisioned:
        props, events = request.properties, self.clients("events")
        name, bus = self.physical_name(request), _bus_name(props)
        arguments: dict[str, Any] = {
            "Name": name,
            "EventBusName": bus,
            "State": props.get("State", "ENABLED"),
            **pick(props, _RULE_SETTINGS),
        }
        if "EventPattern" in props:
            arguments["EventPattern"] = as_json_text(props["EventPattern"])
        arn = events.put_rule(**arguments)["RuleArn"]
        self._sync_targets(name, bus, props.get("Targets", []))
        return self._provisioned(request, {"Name": name, "Arn": arn})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        return self.create(request)  # PutRule overwrites; targets are reconciled by id

    def _sync_targets(self, name: str, bus: str, targets: list[Mapping[str, Any]]) -> None:
        events = self.clients("events")
        live = {t["Id"] for t in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]}
        stale = sorted(live - {t["Id"] for t in targets})
        if stale:
            events.remove_targets(Rule=name, EventBusName=bus, Ids=stale)
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=[dict(t) for t in targets])


_SCHEDULE_SETTINGS = (
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "State",
    "Description",
    "StartDate",
    "EndDate",
    "KmsKeyArn",
)


class ScheduleProvisioner(Provisioner):
    """EventBridge Scheduler (SAM `ScheduleV2` events)."""

    resource_type = "AWS::Scheduler::Schedule"
    attributes = frozenset({"Arn"})
    handled_properties = frozenset({"Name", "GroupName", *_SCHEDULE_SETTINGS})
    naming = NameRule("Name", 64)

    def _arguments(self, request: ResourceRequest) -> dict[str, Any]:
        props = request.properties
        arguments = {
            "Name": self.physical_name(request),
            "GroupName": props.get("GroupName", "default"),
            **pick(props, _SCHEDULE_SETTINGS),
        }
        arguments.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
        return arguments

    def find(self, request: ResourceRequest) -> Provisioned | None:
        arguments = self._arguments(request)
        schedule = unless_not_found(
            lambda: self.clients("scheduler").get_schedule(
                Name=arguments["Name"], GroupName=arguments["GroupName"]
            )
        )
        if schedule is None:
            return None
        return Provisioned(arguments["Name"], {"Arn": schedule["Arn"]})

    def create(self, request: ResourceRequest) -> Provisioned:
        arguments = self._arguments(request)
        arn = self.clients("scheduler").create_schedule(**arguments)["ScheduleArn"]
        return Provisioned(arguments["Name"], {"Arn": arn})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        arguments = self._arguments(request)
        arn = self.clients("scheduler").update_schedule(**arguments)["ScheduleArn"]
        return Provisioned(arguments["Name"], {"Arn": arn})
