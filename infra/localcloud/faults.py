"""Fault injection into the local Lambda service, set through the cloud's API (like a chaos API).

Faults are configuration of the platform, not code in the functions: the functions run unchanged
and the runtime misbehaves around them, the way AWS Fault Injection Service's Lambda actions do.

    POST   /_localcloud/faults   {"function": "TrainFunction", "fault": "error", "count": 1}  -> the rule
    GET    /_localcloud/faults   -> {"faults": [...rules with what is left of their count...]}
    DELETE /_localcloud/faults   -> removes every rule

Kinds:
    error             the invocation fails with ``error_type``/``message`` without running the handler
    delay             the event reaches the handler ``delay_ms`` late; the timeout clock is running
                      (a delay past the function's Timeout ends as Sandbox.Timedout)
    crash             the execution environment is killed (SIGKILL) ``after_ms`` after the handler got
                      the event, or when it answers if that comes first (so always mid-request):
                      Runtime.ExitError, the worker is replaced
    crash_after_call  the environment running ``function`` is killed right after the cloud has
                      applied an API request whose method is ``method`` and whose path contains
                      ``path_contains``, before the function sees the answer (dies between writing
                      and finishing)

``function`` is a function name or its logical ID (``<stack>-<LogicalId>-<suffix>`` names match).
``count`` (default: unlimited) is how many times the rule fires; ``probability`` (default 1) is
the chance it fires on each match. Every injection is logged by the cloud and in the function's log.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

LOG = logging.getLogger("localcloud.faults")


class FaultKind(StrEnum):
    """A rule's ``fault``: what goes wrong (see Kinds above)."""

    ERROR = "error"
    DELAY = "delay"
    CRASH = "crash"
    CRASH_AFTER_CALL = "crash_after_call"


KINDS = tuple(FaultKind)
# The kinds that act on one invocation; crash_after_call acts on an API request instead.
_INVOCATION_KINDS = (FaultKind.ERROR, FaultKind.DELAY, FaultKind.CRASH)


class FaultSpecError(ValueError):
    """A fault rule that cannot be applied; the message names the field."""


@dataclass
class FaultRule:
    id: str
    function: str
    fault: FaultKind
    count: int | None = None
    probability: float = 1.0
    error_type: str = "InjectedFault"
    message: str = "fault injected by the local cloud"
    delay_ms: int = 0
    after_ms: int = 0
    method: str | None = None
    path_contains: str | None = None
    fired: int = 0

    def matches(self, function_name: str) -> bool:
        return self.function == function_name or f"-{self.function}-" in function_name

    def describe(self) -> str:
        return f"fault {self.fault} (rule {self.id})"

    def to_dict(self) -> dict[str, Any]:
        """The rule as the API shows it (plain JSON values)."""
        return {**asdict(self), "fault": self.fault.value}


def _parse(body: Any, rule_id: str) -> FaultRule:
    if not isinstance(body, dict):
        raise FaultSpecError("a fault rule is a JSON object")
    known = {f for f in FaultRule.__dataclass_fields__ if f not in ("id", "fired")}
    unknown = sorted(set(body) - known)
    if unknown:
        raise FaultSpecError(f"unknown field(s): {', '.join(unknown)}")
    if not isinstance(body.get("function"), str) or not body["function"]:
        raise FaultSpecError("function: a function name or logical ID is required")
    if body.get("fault") not in KINDS:
        raise FaultSpecError(f"fault: one of {', '.join(KINDS)}")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise FaultSpecError("count: a positive integer, or omitted for every invocation")
    probability = body.get("probability", 1.0)
    if not isinstance(probability, (int, float)) or not 0 < probability <= 1:
        raise FaultSpecError("probability: a number in (0, 1]")
    for name in ("delay_ms", "after_ms"):
        value = body.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FaultSpecError(f"{name}: a non-negative integer")
    kind = FaultKind(body["fault"])
    if kind == FaultKind.DELAY and not body.get("delay_ms"):
        raise FaultSpecError("delay_ms: required for a delay fault")
    if kind == FaultKind.CRASH_AFTER_CALL and not body.get("path_contains"):
        raise FaultSpecError("path_contains: required for crash_after_call")
    return FaultRule(id=rule_id, **{**body, "fault": kind})


class FaultInjector:
    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._random = random.Random(seed)

    def add(self, body: Any) -> FaultRule:
        rule = _parse(body, f"fault-{next(self._ids)}")
        with self._lock:
            self._rules.append(rule)
        LOG.warning("fault rule %s added: %s", rule.id, rule.to_dict())
        return rule

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def clear(self) -> int:
        with self._lock:
            n, self._rules = len(self._rules), []
        if n:
            LOG.warning("%d fault rule(s) removed", n)
        return n

    def _take(self, function_name: str, kinds: tuple[FaultKind, ...], predicate: Any = None) -> FaultRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.fault not in kinds or not rule.matches(function_name):
                    continue
                if predicate is not None and not predicate(rule):
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.probability < 1 and self._random.random() >= rule.probability:
                    continue
                rule.fired += 1
                LOG.warning("injecting %s into %s", rule.describe(), function_name)
                return rule
        return None

    def for_invocation(self, function_name: str) -> FaultRule | None:
        """The fault (error, delay or crash) this invocation of `function_name` gets, if any."""
        return self._take(function_name, _INVOCATION_KINDS)

    def after_call(self, function_names: Callable[[], list[str]], method: str,
                   path: str) -> list[tuple[str, FaultRule]]:
        """crash_after_call rules that an API request fires, with the function each one targets.

        ``function_names`` is only called when such a rule exists: every write passes through here.
        """
        with self._lock:
            if not any(r.fault == FaultKind.CRASH_AFTER_CALL for r in self._rules):
                return []
        fired = []
        for name in function_names():
            rule = self._take(name, (FaultKind.CRASH_AFTER_CALL,), lambda r: (
                (r.method is None or r.method.upper() == method.upper()) and (r.path_contains or "") in path))
            if rule is not None:
                fired.append((name, rule))
        return fired
