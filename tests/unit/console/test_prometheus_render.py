"""CloudWatch series -> Prometheus text format (no I/O), read back with prometheus-client's parser."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from console.metrics import Series, registry

SVC = ("service", "selfheal")


def _scrape(series: list[Series], namespace: str = "SelfHeal") -> dict[str, dict]:
    text = generate_latest(registry(series, namespace)).decode()
    return {f.name: {"type": f.type, "help": f.documentation,
                     "samples": {(s.name, tuple(sorted(s.labels.items()))): s.value for s in f.samples}}
            for f in text_string_to_metric_families(text)}


def test_counts_are_counters_with_totals_per_model_version():
    out = _scrape([
        Series("Predictions", (("model_version", "v0001"), SVC), sample_count=7, total=7, latest=1),
        Series("Predictions", (("model_version", "v0002"), SVC), sample_count=3, total=3, latest=1),
        Series("PredictedRows", (("model_version", "v0002"), SVC), sample_count=3, total=120, latest=40),
    ])
    fam = out["selfheal_predictions"]
    assert fam["type"] == "counter"
    assert fam["samples"] == {
        ("selfheal_predictions_total", (("model_version", "v0001"), SVC)): 7.0,
        ("selfheal_predictions_total", (("model_version", "v0002"), SVC)): 3.0,
    }
    assert out["selfheal_predicted_rows"]["samples"] == {
        ("selfheal_predicted_rows_total", (("model_version", "v0002"), SVC)): 120.0}


def test_latency_is_a_summary_in_seconds():
    out = _scrape([Series("PredictionLatency", (("model_version", "v0001"), SVC), sample_count=4, total=10.0,
                          latest=2.0)])
    fam = out["selfheal_prediction_latency_seconds"]
    labels = (("model_version", "v0001"), SVC)
    assert fam["type"] == "summary"
    assert fam["samples"] == {("selfheal_prediction_latency_seconds_count", labels): 4.0,
                              ("selfheal_prediction_latency_seconds_sum", labels): 0.01}


def test_gauges_show_the_latest_value():
    out = _scrape([
        Series("DriftShare", (SVC,), sample_count=3, total=1.2, latest=0.625),
        Series("ModelR2", (("model_version", "v0002"), SVC, ("stage", "train")), 1, 0.85, 0.85),
        Series("ModelR2", (("model_version", "v0002"), SVC, ("stage", "validate")), 1, 0.83, 0.83),
    ])
    assert out["selfheal_drift_share"] == {"type": "gauge", "help": out["selfheal_drift_share"]["help"],
                                           "samples": {("selfheal_drift_share", (SVC,)): 0.625}}
    assert out["selfheal_model_r2"]["samples"] == {
        ("selfheal_model_r2", (("model_version", "v0002"), SVC, ("stage", "train"))): 0.85,
        ("selfheal_model_r2", (("model_version", "v0002"), SVC, ("stage", "validate"))): 0.83,
    }


def test_healing_actions_are_one_counter_labelled_by_action():
    out = _scrape([Series("HealingActions", (("action", a), SVC), n, n, 1) for a, n in
                   (("promote", 2), ("rollback", 1), ("deferred_cooldown", 4))])
    assert {dict(k[1])["action"]: v for k, v in out["selfheal_healing_actions"]["samples"].items()} == {
        "promote": 2.0, "rollback": 1.0, "deferred_cooldown": 4.0}


def test_unknown_metrics_become_gauges_and_odd_dimension_names_become_valid_labels():
    out = _scrape([Series("QueueDepthMax", (("Function-Name", "a"),), 2, 9, 5),
                   Series("QueueDepthMax", (), 1, 1, 1)], namespace="My App")
    fam = out["my_app_queue_depth_max"]
    assert fam["type"] == "gauge"
    # The series without the dimension has it empty, which Prometheus reads as absent.
    assert fam["samples"] == {("my_app_queue_depth_max", (("Function_Name", "a"),)): 5.0,
                              ("my_app_queue_depth_max", (("Function_Name", ""),)): 1.0}


def test_no_series_is_an_empty_but_valid_exposition():
    assert generate_latest(registry([], "SelfHeal")) == b""


def test_the_pusher_pushes_the_registry_and_keeps_going_after_a_failed_push(caplog):
    import threading

    from console.metrics import Pusher

    calls: list[tuple[str, str, bytes]] = []
    two = threading.Event()

    def push(url: str, *, job: str, registry, timeout: float) -> None:
        if not calls:
            calls.append((url, job, b""))
            raise OSError("connection refused")
        calls.append((url, job, generate_latest(registry)))
        two.set()

    series = [Series("Predictions", (("model_version", "v0001"),), 3, 3, 1)]
    pusher = Pusher("http://gateway:9091", lambda: registry(series, "SelfHeal"), interval_s=0.01, push=push).start()
    try:
        assert two.wait(5)
    finally:
        pusher.stop()
    assert calls[1][:2] == ("http://gateway:9091", "selfheal")
    assert b'selfheal_predictions_total{model_version="v0001"} 3.0' in calls[1][2]
    assert any("push to http://gateway:9091 failed: OSError" in r.getMessage() for r in caplog.records)


def test_pushgateway_credentials_are_redacted_in_logs() -> None:
    from console.metrics import redacted

    assert redacted("https://user:s3cret@push.example:9091/") == "https://***@push.example:9091/"
    assert redacted("http://push.example:9091") == "http://push.example:9091"
