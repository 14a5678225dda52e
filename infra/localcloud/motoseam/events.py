"""EventBridge: rules' targets are matched and delivered by the local cloud's router (messaging/eventbus.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.events.models import Rule as MotoRule

from ..messaging.eventbus import Rule, event_time
from .patching import is_patched, replace

Route = Callable[..., list[Any]]  # EventRouter.route: the targets it leaves to moto

_HOOK = "_localcloud_hook"


class _Sink:
    """Where rules send their events: the running cloud's router (set by every install)."""

    route: Route | None = None


_sink = _Sink()


def _install() -> None:
    original = MotoRule.send_to_targets

    def send_to_targets(self: MotoRule, original_event: Any, transform_input: bool = True) -> None:
        event = {k: v for k, v in original_event.items() if k != "ingestion-time"}
        event["time"] = event_time(event.get("time"))
        ingestion = event_time(original_event.get("ingestion-time", original_event.get("time")))
        raw_pattern = self.event_pattern.dump()
        rule = Rule(name=self.name, arn=self.arn, pattern=json.loads(raw_pattern) if raw_pattern else None,
                    targets=list(self.targets), enabled=self.state == "ENABLED")
        if _sink.route is None:
            original(self, original_event, transform_input)
            return
        left = _sink.route(rule, event, ingestion_time=ingestion, transform=transform_input)
        if left:
            # The targets moto delivers itself; a copy of the rule that has only those.
            only_left: Any = object.__new__(type(self))
            only_left.__dict__.update(self.__dict__, targets=left)
            original(only_left, original_event, transform_input)

    replace(MotoRule, "send_to_targets", send_to_targets, mark=_HOOK)


def install(route: Route) -> None:
    """Every event a rule receives goes to `route`; the targets it hands back are moto's to deliver.

    AWS invokes Lambda, SNS and Step Functions targets, honours a rule's state and matches a
    schedule rule to no event; moto raises NotImplementedError for those targets (PutEvents answers
    500), ignores the state and lets a schedule rule match every event. ``Rule.send_to_targets`` is
    replaced; the targets moto does handle (log groups, archives, other buses, API destinations)
    are still handed to moto, on a copy of the rule. Guarded by
    tests/unit/test_moto_seam.py::test_eventbridge_rules_deliver_through_send_to_targets.
    """
    _sink.route = route
    if not is_patched(MotoRule.send_to_targets, _HOOK):
        _install()


#: The moto attributes `install` replaces (a test that installs it restores them).
HOOKED: tuple[tuple[type, str], ...] = ((MotoRule, "send_to_targets"),)
