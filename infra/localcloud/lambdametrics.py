"""The AWS/Lambda metrics Lambda publishes for every invocation: Invocations, Errors, Duration, Throttles.

https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html

Each invocation counts under the dimension set ``FunctionName``; one invoked through a qualifier
also under ``FunctionName`` + ``Resource`` (``function:alias`` or ``function:version``), and one
through an alias under ``FunctionName`` + ``Resource`` + ``ExecutedVersion`` too. ``Errors`` is 0 or 1
per invocation (function errors, timeouts and out-of-memory included), ``Duration`` the handler's
time in milliseconds (init excluded), ``Throttles`` 1 per refused invocation (which is no Invocation).

Difference from AWS: the datapoints are kept per second (AWS: per minute), so alarms with a
10-second period work locally.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .emf import Datapoint, MetricStore
from .runtime.spec import FunctionSpec
from .runtime.worker import InvokeResult

logger = logging.getLogger("localcloud.runtime")

NAMESPACE = "AWS/Lambda"
RESOLUTION_S = 1


@dataclass(frozen=True)
class Invocation:
    """One invocation as the metrics see it."""

    function_name: str
    invoked_arn: str  # the ARN the caller used (an alias or version ARN carries its qualifier)
    executed_version: str
    timestamp_ms: int
    duration_ms: float = 0.0
    error: bool = False
    throttled: bool = False


def dimension_sets(inv: Invocation) -> list[tuple[tuple[str, str], ...]]:
    function = (("FunctionName", inv.function_name),)
    parts = inv.invoked_arn.split(":")
    qualifier = parts[7] if len(parts) >= 8 and parts[7] and parts[7] != "$LATEST" else None
    if qualifier is None:
        return [function]
    resource = (*function, ("Resource", f"{inv.function_name}:{qualifier}"))
    if qualifier.isdigit():  # a version: it is the executed version
        return [function, resource]
    return [function, resource, (*resource, ("ExecutedVersion", inv.executed_version))]


def datapoints(inv: Invocation) -> list[Datapoint]:
    """The AWS/Lambda datapoints of one invocation (or throttle)."""
    values: list[tuple[str, str, float]] = (
        [("Throttles", "Count", 1.0)] if inv.throttled else
        [("Invocations", "Count", 1.0), ("Errors", "Count", 1.0 if inv.error else 0.0),
         ("Duration", "Milliseconds", float(inv.duration_ms))])
    return [Datapoint(NAMESPACE, name, dims, unit, (value,), inv.timestamp_ms, RESOLUTION_S)
            for dims in dimension_sets(inv) for name, unit, value in values]


class LambdaMetrics:
    """The runtime's invocation observer: stores each invocation's AWS/Lambda datapoints."""

    def __init__(self, store: MetricStore, *, clock: Callable[[], float] = time.time):
        self._store = store
        self._clock = clock

    def __call__(self, spec: FunctionSpec, invoked_arn: str, result: InvokeResult | None) -> None:
        """``result`` None: the invocation was throttled."""
        inv = Invocation(spec.name, invoked_arn, spec.version, int(self._clock() * 1000),
                         duration_ms=result.duration_ms if result else 0.0,
                         error=bool(result and result.function_error), throttled=result is None)
        self._store.put(datapoints(inv))
