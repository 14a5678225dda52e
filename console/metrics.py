"""The pipeline's CloudWatch metrics as Prometheus metrics: read, render, and (optionally) push.

The functions emit CloudWatch metrics in the embedded metric format (``selfheal/telemetry.py``).
This module reads them back through the CloudWatch API only (``ListMetrics`` and
``GetMetricStatistics``), so it works the same against the local cloud, LocalStack or AWS, and
turns each metric into a Prometheus family:

- ``Count`` metrics are counters: the total since the first datapoint CloudWatch still keeps (on
  the local cloud, since it started; on AWS, up to 15 months), so they only ever rise;
- gauges are the average of the most recent minute that has data;
- ``PredictionLatency`` is a summary (``_count`` and ``_sum``, in seconds).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("console.metrics")

DEFAULT_NAMESPACE = "SelfHeal"
LOOKBACK = timedelta(days=455)  # CloudWatch keeps one-hour aggregates for 455 days (15 months)
DAY = 86_400  # seconds; the totals' period (455 periods: under GetMetricStatistics' 1,440 datapoints)

Kind = Literal["counter", "gauge", "summary"]
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


@dataclass(frozen=True)
class Family:
    """How one CloudWatch metric is shown to Prometheus."""

    suffix: str  # the Prometheus name after "<namespace>_"
    kind: Kind
    help: str
    scale: float = 1.0  # CloudWatch unit -> Prometheus base unit (milliseconds -> seconds)


# CloudWatch metric name -> Prometheus family. Metrics not listed here are shown as gauges.
FAMILIES: dict[str, Family] = {
    "Predictions": Family("predictions", "counter", "Prediction requests answered, by served model version."),
    "PredictedRows": Family("predicted_rows", "counter", "Records predicted, by served model version."),
    "PredictionLatency": Family("prediction_latency_seconds", "summary",
                                "Time to answer a prediction inside the function (model lookup and ONNX "
                                "inference), by served model version.", scale=0.001),
    "DriftChecks": Family("drift_checks", "counter", "Incoming batches checked for drift."),
    "DriftDetected": Family("drift_detected", "counter", "Drift checks that found dataset drift."),
    "DriftShare": Family("drift_share", "gauge", "Share of drifted columns in the latest drift check."),
    "ModelR2": Family("model_r2", "gauge", "Holdout R² of a model version, measured at train or validate."),
    "ModelRMSE": Family("model_rmse", "gauge", "Holdout RMSE of a model version (the target's unit), at train or validate."),
    "HealingActions": Family("healing_actions", "counter",
                             "Self-healing actions taken: retrain, fix, quarantine, promote, reject, rollback, "
                             "recycle, deferred_cooldown, deferred_lock."),
}


@dataclass(frozen=True)
class Series:
    """One CloudWatch metric (name and dimension set) with its statistics."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    sample_count: float  # since the start of the lookback
    total: float  # sum since the start of the lookback
    latest: float  # average of the most recent minute (or period) with data


# ---- reading CloudWatch ------------------------------------------------------------------------
def read_series(cloudwatch: Any, namespace: str, *, now: datetime | None = None, mapper: Mapper = map,
                lookback: timedelta = LOOKBACK) -> list[Series]:
    """Every metric of ``namespace`` with its totals and latest value (CloudWatch API calls only)."""
    now = now or datetime.now(UTC)
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], None] = {}
    for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace):
        for m in page.get("Metrics", []):
            dims = tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
            metrics[(m["MetricName"], dims)] = None  # dict as an ordered set: AWS lists each once

    def one(key: tuple[str, tuple[tuple[str, str], ...]]) -> Series | None:
        name, dims = key
        return _statistics(cloudwatch, namespace, name, dims, now=now, lookback=lookback,
                           refine=_family(name).kind == "gauge")

    return [s for s in mapper(one, list(metrics)) if s is not None]


def _statistics(cloudwatch: Any, namespace: str, name: str, dims: tuple[tuple[str, str], ...], *,
                now: datetime, lookback: timedelta, refine: bool) -> Series | None:
    query = {"Namespace": namespace, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}
    end = now + timedelta(minutes=1)
    points = cloudwatch.get_metric_statistics(**query, StartTime=now - lookback, EndTime=end, Period=DAY,
                                              Statistics=["SampleCount", "Sum", "Average"])["Datapoints"]
    if not points:
        return None
    points.sort(key=lambda p: p["Timestamp"])
    last = points[-1]
    latest = last["Average"]
    if refine and last["SampleCount"] > 1:
        # The last day holds several values: a gauge shows the most recent one (minute), not their mean.
        start = last["Timestamp"]
        age = now - start
        # AWS keeps one-minute data for 15 days, five-minute data for 63 days, then hourly.
        period = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
        recent = cloudwatch.get_metric_statistics(**query, StartTime=start, EndTime=min(end, start + timedelta(days=1)),
                                                  Period=period, Statistics=["Average"])["Datapoints"]
        if recent:
            latest = max(recent, key=lambda p: p["Timestamp"])["Average"]
    return Series(name, dims, sample_count=sum(p["SampleCount"] for p in points),
                  total=sum(p["Sum"] for p in points), latest=latest)


# ---- rendering ---------------------------------------------------------------------------------
def _family(name: str) -> Family:
    return FAMILIES.get(name) or Family(_snake(name), "gauge", f"CloudWatch metric {name} (latest value).")


def _snake(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-zA-Z0-9_]", "_", words).lower()


def _label(name: str) -> str:
    label = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return label if not label[:1].isdigit() else f"_{label}"


def families(series: Sequence[Series], namespace: str) -> list[Metric]:
    """The Prometheus metric families for ``series`` (no I/O)."""
    grouped: dict[str, list[Series]] = {}
    for s in series:
        grouped.setdefault(s.name, []).append(s)
    prefix = re.sub(r"[^a-z0-9_]", "_", namespace.lower())  # SelfHeal -> selfheal
    out: list[Metric] = []
    for name in sorted(grouped):
        fam = _family(name)
        members = sorted(grouped[name], key=lambda s: s.dimensions)
        # One label set for the family: a dimension a series lacks is an empty label (absent, to Prometheus).
        labels = sorted({_label(k) for s in members for k, _ in s.dimensions})
        make, add = _KINDS[fam.kind]
        metric = make(f"{prefix}_{fam.suffix}", fam.help, labels=labels)
        for s in members:
            values = {_label(k): v for k, v in s.dimensions}
            add(metric, [values.get(label, "") for label in labels], s, fam.scale)
        out.append(metric)
    return out


# kind -> (family class, how one series becomes its sample(s))
_KINDS: dict[str, tuple[Callable[..., Any], Callable[[Any, list[str], Series, float], None]]] = {
    "counter": (CounterMetricFamily, lambda m, labels, s, scale: m.add_metric(labels, s.total * scale)),
    "summary": (SummaryMetricFamily, lambda m, labels, s, scale: m.add_metric(
        labels, count_value=int(s.sample_count), sum_value=s.total * scale)),
    "gauge": (GaugeMetricFamily, lambda m, labels, s, scale: m.add_metric(labels, s.latest * scale)),
}


class _Snapshot(Collector):
    """A registry member that serves families computed beforehand."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


def registry(series: Sequence[Series], namespace: str) -> CollectorRegistry:
    """A fresh registry holding ``series``, for ``generate_latest`` or ``push_to_gateway``."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_Snapshot(families(series, namespace)))
    return reg


# ---- push mode ---------------------------------------------------------------------------------
def redacted(url: str) -> str:
    """The URL without its user:password part (a Pushgateway behind basic auth), for logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = f"***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class Pusher:
    """Pushes the same registry ``/metrics`` serves to a Prometheus Pushgateway, every ``interval_s``."""

    def __init__(self, url: str, collect: Callable[[], CollectorRegistry], *, job: str = "selfheal",
                 interval_s: float = 15.0, push: Callable[..., None] = push_to_gateway) -> None:
        self.url = url
        self._collect = collect
        self._job = job
        self._interval = interval_s
        self._push = push
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pushgateway", daemon=True)
        self.pushes = 0

    def start(self) -> Pusher:
        self._thread.start()
        return self

    def push_once(self) -> None:
        self._push(self.url, job=self._job, registry=self._collect(), timeout=10)
        self.pushes += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.push_once()
            except Exception as exc:  # noqa: BLE001 - a push that fails is retried next round; say why
                message = str(exc).replace(self.url, redacted(self.url))
                log.warning("push to %s failed: %s: %s", redacted(self.url), type(exc).__name__, message)
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
