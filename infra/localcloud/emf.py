"""Metrics from logs, as CloudWatch Logs extracts them: the embedded metric format (EMF).

AWS turns every log event whose message is a JSON object with an ``_aws.CloudWatchMetrics``
directive into CloudWatch metrics (no PutMetricData call by the function). The local cloud does the
same on its log pipeline: :class:`EmfExtractor` reads each batch of function log lines, keeps the
EMF ones, and stores their datapoints in moto's CloudWatch, where ``ListMetrics``,
``GetMetricStatistics`` and ``GetMetricData`` find them as on AWS.

Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
A line that claims to be EMF (it has ``"_aws"``) but breaks the specification is dropped with a
logged reason (AWS counts those as ``EMFValidationErrors``); it never stops the log pipeline.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

logger = logging.getLogger("localcloud.emf")

# Limits from the specification and CloudWatch's quotas.
MAX_DIMENSIONS = 30  # keys in one dimension set
MAX_METRICS = 100  # metric definitions in one directive
MAX_VALUES = 100  # values of one metric in one event
MAX_PAST_MS = 14 * 24 * 3600 * 1000  # CloudWatch drops EMF datapoints older than two weeks...
MAX_FUTURE_MS = 2 * 3600 * 1000  # ...or more than two hours in the future
UNITS = frozenset({
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
    "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
    "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
})


class EmfError(ValueError):
    """A line that claims to be EMF but breaks the specification; the message is the reason."""


@dataclass(frozen=True)
class Datapoint:
    """The values of one metric, for one dimension set, from one log event."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), in the directive's order
    unit: str  # "None" when the directive names no unit, as CloudWatch stores it
    values: tuple[float, ...]
    timestamp_ms: int
    storage_resolution: int = 60  # 60: standard (one-minute aggregates); 1: high resolution


def might_be_emf(line: str) -> bool:
    """Cheap pre-check, so ordinary log lines are never JSON-parsed."""
    return line.startswith("{") and '"_aws"' in line


def parse_line(line: str, *, now_ms: int) -> list[Datapoint]:
    """The datapoints an EMF log line carries; ``[]`` for a line that is not EMF at all.

    Raises :class:`EmfError` (with the reason) for a line that has ``_aws`` but is not valid EMF.
    """
    if not might_be_emf(line):
        return []
    try:
        root = json.loads(line)
    except ValueError as err:
        raise EmfError(f"not a JSON object: {err}") from err
    if not isinstance(root, dict) or "_aws" not in root:
        return []
    meta = root["_aws"]
    if not isinstance(meta, dict):
        raise EmfError("_aws is not an object")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfError("_aws.CloudWatchMetrics is missing or not an array")
    ts = meta.get("Timestamp")
    if not _is_number(ts):
        raise EmfError("_aws.Timestamp is missing or not a number (milliseconds since the epoch)")
    ts = int(ts)
    if ts < now_ms - MAX_PAST_MS or ts > now_ms + MAX_FUTURE_MS:
        raise EmfError(f"_aws.Timestamp {ts} is more than 14 days in the past or 2 hours in the future")
    points: list[Datapoint] = []
    for i, directive in enumerate(directives):
        points += _directive(root, directive, ts, f"CloudWatchMetrics[{i}]")
    return points


def _directive(root: dict[str, Any], directive: Any, ts: int, where: str) -> list[Datapoint]:
    if not isinstance(directive, dict):
        raise EmfError(f"{where} is not an object")
    namespace = directive.get("Namespace")
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 1024:
        raise EmfError(f"{where}.Namespace is missing or not a string of 1 to 1024 characters")
    dimension_sets = directive.get("Dimensions")
    if not isinstance(dimension_sets, list) or not all(isinstance(d, list) for d in dimension_sets):
        raise EmfError(f"{where}.Dimensions is not an array of dimension sets (arrays of strings)")
    metrics = directive.get("Metrics")
    if not isinstance(metrics, list) or len(metrics) > MAX_METRICS:
        raise EmfError(f"{where}.Metrics is not an array of at most {MAX_METRICS} metric definitions")

    resolved: list[tuple[tuple[str, str], ...]] = []
    for keys in dimension_sets or [[]]:  # no dimension set: the metrics have no dimensions
        if len(keys) > MAX_DIMENSIONS:
            raise EmfError(f"{where}: a dimension set has {len(keys)} keys (at most {MAX_DIMENSIONS})")
        dims = []
        for key in keys:
            value = root.get(key) if isinstance(key, str) else None
            if not isinstance(value, str) or not value:
                raise EmfError(f"{where}: dimension {key!r} has no string value in the root object")
            dims.append((key, value))
        resolved.append(tuple(dims))

    points = []
    for j, definition in enumerate(metrics):
        name = definition.get("Name") if isinstance(definition, dict) else None
        if not isinstance(name, str) or not name:
            raise EmfError(f"{where}.Metrics[{j}] has no Name")
        unit = definition.get("Unit", "None")
        if not isinstance(unit, str) or unit not in UNITS:
            raise EmfError(f"{where}: metric {name!r} has unknown unit {unit!r}")
        resolution = definition.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise EmfError(f"{where}: metric {name!r} has StorageResolution {resolution!r} (1 or 60)")
        values = _values(root.get(name), name, where)
        points += [Datapoint(namespace, name, dims, unit, values, ts, resolution) for dims in resolved]
    return points


def _values(raw: Any, name: str, where: str) -> tuple[float, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > MAX_VALUES or not all(_is_number(v) and math.isfinite(v) for v in values):
        raise EmfError(f"{where}: metric {name!r} needs a number or an array of 1 to {MAX_VALUES} numbers "
                       f"in the root object, found {raw!r}"[:300])
    return tuple(float(v) for v in values)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class MetricStore(Protocol):
    def put(self, points: Sequence[Datapoint]) -> None: ...


class EmfExtractor:
    """The log pipeline's metric filter: ``(log group, [(timestamp ms, line)])`` in, datapoints stored."""

    def __init__(self, store: MetricStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self.dropped = 0  # invalid EMF lines seen (AWS: the EMFValidationErrors metric)

    @classmethod
    def into_moto(cls, account_id: str, region: str) -> EmfExtractor:
        """An extractor storing into moto's CloudWatch (motoseam/cloudwatch.py's MotoMetricStore)."""
        from . import motoseam  # it imports this module's Datapoint

        return cls(motoseam.metric_store(account_id, region))

    def __call__(self, group: str, events: Iterable[tuple[int, str]]) -> int:
        """Store the metrics of every EMF line; return how many datapoints were stored."""
        now_ms = int(self._clock() * 1000)
        points: list[Datapoint] = []
        for _, line in events:
            try:
                points += parse_line(line, now_ms=now_ms)
            except EmfError as err:
                self.dropped += 1
                logger.warning("EMF line in %s dropped: %s", group, err)
        if points:
            self._store.put(points)
        return len(points)
