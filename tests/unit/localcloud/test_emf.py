"""The EMF extractor: CloudWatch Logs' embedded metric format, parsed from function log lines."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from infra.localcloud.emf import Datapoint, EmfError, EmfExtractor, parse_line
from infra.localcloud.logsink import LogSink
from infra.localcloud.runtime.spec import FunctionSpec

NOW_MS = 1_714_564_800_000  # 2024-05-01T12:00:00Z


def emf(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_aws": {"Timestamp": NOW_MS, "CloudWatchMetrics": [{
            "Namespace": "SelfHeal", "Dimensions": [["service", "model_version"]],
            "Metrics": [{"Name": "Predictions", "Unit": "Count"}, {"Name": "PredictionLatency", "Unit": "Milliseconds"}],
        }]},
        "service": "selfheal", "model_version": "v0001", "Predictions": [1.0], "PredictionLatency": 2.5,
        "requestId": "not a metric: ignored",
    }
    doc.update(overrides)
    return doc


class ListStore:
    def __init__(self) -> None:
        self.points: list[Datapoint] = []

    def put(self, points: Sequence[Datapoint]) -> None:
        self.points += points


def test_a_powertools_style_line_yields_one_datapoint_per_metric():
    points = parse_line(json.dumps(emf()), now_ms=NOW_MS)
    dims = (("service", "selfheal"), ("model_version", "v0001"))
    assert points == [
        Datapoint("SelfHeal", "Predictions", dims, "Count", (1.0,), NOW_MS),
        Datapoint("SelfHeal", "PredictionLatency", dims, "Milliseconds", (2.5,), NOW_MS),
    ]


def test_each_dimension_set_is_its_own_metric_and_values_arrays_are_kept():
    doc = emf(Predictions=[1, 1, 1])
    doc["_aws"]["CloudWatchMetrics"][0].update(Dimensions=[["service"], []], Metrics=[{"Name": "Predictions"}])
    points = parse_line(json.dumps(doc), now_ms=NOW_MS)
    assert [(p.dimensions, p.values, p.unit) for p in points] == [
        ((("service", "selfheal"),), (1.0, 1.0, 1.0), "None"),
        ((), (1.0, 1.0, 1.0), "None"),
    ]


def test_high_resolution_is_carried():
    doc = emf()
    doc["_aws"]["CloudWatchMetrics"][0]["Metrics"] = [{"Name": "Predictions", "StorageResolution": 1}]
    assert parse_line(json.dumps(doc), now_ms=NOW_MS)[0].storage_resolution == 1


@pytest.mark.parametrize("line", [
    "START RequestId: 1 Version: $LATEST",
    '{"level": "INFO", "message": "structured log, no metrics"}',
    "[INFO] the word _aws in plain text",
    "",
])
def test_ordinary_log_lines_are_not_metrics(line):
    assert parse_line(line, now_ms=NOW_MS) == []


def _broken(path: str, value: Any) -> str:
    doc = emf()
    target: Any = doc
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return json.dumps(doc)


@pytest.mark.parametrize(("line", "reason"), [
    ('{"_aws": {"CloudWatchMetrics": [', "not a JSON object"),
    (_broken("_aws", "x"), "_aws is not an object"),
    (_broken("_aws.CloudWatchMetrics", KeyError), "CloudWatchMetrics is missing"),
    (_broken("_aws.Timestamp", KeyError), "Timestamp is missing"),
    (_broken("_aws.Timestamp", "yesterday"), "Timestamp is missing or not a number"),
    (_broken("_aws.Timestamp", NOW_MS - 15 * 86_400_000), "more than 14 days in the past"),
    (_broken("_aws.Timestamp", NOW_MS + 3 * 3_600_000), "2 hours in the future"),
    (_broken("_aws.CloudWatchMetrics.0.Namespace", ""), "Namespace"),
    (_broken("_aws.CloudWatchMetrics.0.Dimensions", "service"), "Dimensions"),
    (_broken("_aws.CloudWatchMetrics.0.Dimensions", [[f"d{i}" for i in range(31)]]), "at most 30"),
    (_broken("model_version", KeyError), "dimension 'model_version' has no string value"),
    (_broken("model_version", 7), "dimension 'model_version' has no string value"),
    (_broken("Predictions", "one"), "metric 'Predictions' needs a number"),
    (_broken("Predictions", KeyError), "metric 'Predictions' needs a number"),
    (_broken("Predictions", []), "metric 'Predictions' needs a number"),
    (_broken("Predictions", [1.0] * 101), "metric 'Predictions' needs a number"),
    (_broken("Predictions", True), "metric 'Predictions' needs a number"),
    (json.dumps(emf(Predictions=float("nan"))), "metric 'Predictions' needs a number"),
    (_broken("_aws.CloudWatchMetrics.0.Metrics", [{"Name": "Predictions", "Unit": "Parsecs"}]), "unknown unit"),
    (_broken("_aws.CloudWatchMetrics.0.Metrics", [{"Name": "Predictions", "Unit": ["Count"]}]), "unknown unit"),
    (_broken("_aws.CloudWatchMetrics.0.Metrics", [{"Name": "Predictions", "StorageResolution": 5}]),
     "StorageResolution"),
    (_broken("_aws.CloudWatchMetrics.0.Metrics", [{"Unit": "Count"}]), "has no Name"),
])
def test_a_line_that_breaks_the_specification_says_why(line, reason):
    with pytest.raises(EmfError, match=reason):
        parse_line(line, now_ms=NOW_MS)


def test_the_extractor_drops_bad_lines_with_a_logged_reason_and_keeps_the_good_ones(caplog):
    store = ListStore()
    extract = EmfExtractor(store, clock=lambda: NOW_MS / 1000)
    events = [(NOW_MS, "START RequestId: 1"), (NOW_MS, _broken("Predictions", "one")), (NOW_MS, json.dumps(emf()))]
    with caplog.at_level(logging.WARNING, logger="localcloud.emf"):
        assert extract("/aws/lambda/predict", events) == 2
    assert [p.name for p in store.points] == ["Predictions", "PredictionLatency"]
    assert extract.dropped == 1
    (record,) = caplog.records
    assert "/aws/lambda/predict" in record.getMessage() and "needs a number" in record.getMessage()


def test_a_failing_metric_filter_never_stops_log_delivery(tmp_path, caplog):
    written: list[tuple[str, str, list[tuple[int, str]]]] = []
    delivered = threading.Event()

    def cloudwatch(group: str, stream: str, events: list[tuple[int, str]]) -> None:
        written.append((group, stream, events))
        delivered.set()

    def broken_filter(group: str, events: list[tuple[int, str]]) -> None:
        raise RuntimeError("store is down")

    spec = FunctionSpec(name="predict", arn="arn:aws:lambda:us-east-1:123456789012:function:predict",
                        handler="app.handler", runtime="python3.11", timeout=3, memory_mb=128, environment={},
                        code_dir=tmp_path)
    sink = LogSink(cloudwatch, flush_interval_s=0.01, metrics=broken_filter)
    try:
        with caplog.at_level(logging.ERROR, logger="localcloud"):
            sink.emit(spec, "stream-1", json.dumps(emf()))
            assert delivered.wait(5)
            sink.emit(spec, "stream-1", "second line")
            sink.flush()
    finally:
        sink.close()
    assert [line for _, _, events in written for _, line in events][-1] == "second line"
    assert any("could not extract metrics" in r.getMessage() for r in caplog.records)
