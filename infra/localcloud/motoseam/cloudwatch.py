"""CloudWatch: ListMetrics, alarm states, and the metric store and source the rest of the cloud uses."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend, MetricAggregatedDatum, MetricDatum, cloudwatch_backends

from ..alarms import Aggregate
from ..emf import Datapoint
from .patching import is_patched, replace

_FIX = "_localcloud_cloudwatch_fix"
_HOOK = "_localcloud_hook"


# ---- ListMetrics -----------------------------------------------------------------------------------
def get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> list[Any]:
    """``CloudWatchBackend.get_filtered_metrics`` (ListMetrics): each metric once.

    AWS ListMetrics returns each metric (namespace, name, dimension set) once. moto 5.2.5 compares
    dimension sets pairwise per dimension, so a metric with two or more dimensions is listed once per
    datapoint (and the comparison is quadratic in them). Guarded by
    tests/unit/test_moto_seam.py::test_cloudwatch_names_the_local_cloud_uses_exist.
    """
    seen: set[tuple[Any, ...]] = set()
    found = []
    for datum in self.get_all_metrics():
        if not datum.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
            continue
        key = (datum.namespace, datum.name, tuple(sorted((d.name, d.value) for d in datum.dimensions)))
        if key not in seen:
            seen.add(key)
            found.append(datum)
    return found


def install_list_metrics() -> None:
    """ListMetrics lists each metric once (see `get_filtered_metrics`).

    Guarded by tests/unit/test_moto_seam.py::test_cloudwatch_names_the_local_cloud_uses_exist.
    """
    replace(CloudWatchBackend, "get_filtered_metrics", get_filtered_metrics, mark=_FIX)


# ---- alarm states ----------------------------------------------------------------------------------
_ALARM_STATE = ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "history")


def _install_alarm_states() -> None:
    original = CloudWatchBackend.put_metric_alarm

    @functools.wraps(original)
    def put_metric_alarm(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        previous = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if previous is not None:
            # AWS: an update "completely overwrites the previous configuration" but leaves the state alone.
            for attribute in _ALARM_STATE:
                setattr(alarm, attribute, getattr(previous, attribute))
        else:
            alarm.state_value = "INSUFFICIENT_DATA"  # AWS: every new alarm starts here, not in OK
        return alarm

    replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm, mark=_HOOK)


def install_alarm_states() -> None:
    """PutMetricAlarm: a new alarm starts in INSUFFICIENT_DATA, an updated one keeps its state.

    AWS does both; moto 5.2.5 starts every alarm, new or updated, in OK. Guarded by
    tests/unit/test_moto_seam.py::test_cloudwatch_metric_data_the_alarms_read.
    """
    if not is_patched(CloudWatchBackend.put_metric_alarm, _HOOK):
        _install_alarm_states()


#: The moto attributes `install_alarm_states` replaces (a test that installs it restores them).
HOOKED: tuple[tuple[type, str], ...] = ((CloudWatchBackend, "put_metric_alarm"),)


# ---- reading and writing datapoints ----------------------------------------------------------------
class MotoMetricSource:
    """Metric aggregates from moto's CloudWatch, matched on the exact dimension set (alarms.MetricSource).

    AWS alarms read the metric with exactly the alarm's dimensions; moto's GetMetricStatistics
    matches any metric that has the dimensions asked for, among others, so the datapoints are read
    from the backend. Guarded by tests/unit/test_moto_seam.py::test_cloudwatch_metric_data_the_alarms_read.
    """

    def __init__(self, account_id: str, region: str):
        self._account_id = account_id
        self._region = region

    def aggregates(self, namespace: str, name: str, dimensions: tuple[tuple[str, str], ...], start: float,
                   end: float, unit: str | None) -> list[Aggregate]:
        wanted = sorted(dimensions)
        found = []
        for datum in list(cloudwatch_backends[self._account_id][self._region].get_all_metrics()):
            if datum.namespace != namespace or datum.name != name or (unit and datum.unit != unit):
                continue
            moment = datum.timestamp if datum.timestamp.tzinfo else datum.timestamp.replace(tzinfo=UTC)
            at = moment.timestamp()
            if not start <= at < end or sorted((d.name, d.value) for d in datum.dimensions) != wanted:
                continue
            if isinstance(datum, MetricAggregatedDatum):
                found.append(Aggregate(at, float(datum.sample_count), float(datum.sum), float(datum.min),
                                       float(datum.max)))
            elif isinstance(datum, MetricDatum):
                value = float(datum.value)
                found.append(Aggregate(at, 1.0, value, value, value))
        return found


class MotoMetricStore:
    """Datapoints into moto's CloudWatch, aggregated as CloudWatch stores them (emf.MetricStore).

    CloudWatch keeps standard-resolution metrics as one aggregate (sample count, sum, minimum,
    maximum) per metric, dimension set and minute (per second for high resolution); so does this
    store, by updating the open aggregate in place in the backend's ``metric_data`` list. moto would
    otherwise keep every value, and its queries scan them all: one object per request would make
    every scrape slower as traffic grows. Guarded by
    tests/unit/test_moto_seam.py::test_cloudwatch_names_the_local_cloud_uses_exist.
    """

    KEEP_OPEN_S = 300  # aggregates this far back still take late values; later ones start a new aggregate

    def __init__(self, account_id: str, region: str) -> None:
        self._account_id = account_id
        self._region = region
        self._open: dict[tuple[Any, ...], Any] = {}
        self._data: list[Any] | None = None
        self._lock = threading.Lock()  # several threads may put (the Lambda runtime's invocations do)

    def put(self, points: Sequence[Datapoint]) -> None:
        with self._lock:
            self._put(points)

    def _put(self, points: Sequence[Datapoint]) -> None:
        backend = cloudwatch_backends[self._account_id][self._region]
        if backend.metric_data is not self._data:  # first use, or moto was reset: nothing is open
            self._data = backend.metric_data
            self._open.clear()
        data: list[Any] = backend.metric_data
        newest = 0
        for p in points:
            start = p.timestamp_ms // 1000 // p.storage_resolution * p.storage_resolution
            newest = max(newest, start)
            key = (p.namespace, p.name, p.dimensions, p.unit, start)
            datum = self._open.get(key)
            if datum is None:
                datum = MetricAggregatedDatum(
                    namespace=p.namespace, name=p.name, min_stat=min(p.values), max_stat=max(p.values),
                    sample_count=float(len(p.values)), sum_stat=sum(p.values),
                    dimensions=[{"Name": k, "Value": v} for k, v in p.dimensions],
                    timestamp=datetime.fromtimestamp(start, UTC).replace(tzinfo=None),  # moto keeps naive UTC
                    unit=p.unit)
                data.append(datum)
                self._open[key] = datum
            else:
                datum.min = min(datum.min, *p.values)
                datum.max = max(datum.max, *p.values)
                datum.sum += sum(p.values)
                datum.sample_count += len(p.values)
        if newest:
            self._open = {k: d for k, d in self._open.items() if k[-1] >= newest - self.KEEP_OPEN_S}
