"""The console's pure parts: ASL layout, history folding, and log statistics (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console.asl import layout
from console.history import summarise
from console.logstats import percentile, stats

ASL = json.loads((Path(__file__).resolve().parents[3] / "state_machines" / "self_healing.asl.json").read_text())
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(i: int, etype: str, **details) -> dict:
    key = etype[0].lower() + etype[1:] + "EventDetails"
    if etype.endswith("StateEntered"):
        key = "stateEnteredEventDetails"
    elif etype.endswith("StateExited"):
        key = "stateExitedEventDetails"
    return {"id": i, "type": etype, "timestamp": T0 + timedelta(milliseconds=100 * i), key: details}


def test_layout_draws_every_state_below_its_predecessors() -> None:
    g = layout(ASL)
    pos = {n["name"]: n for n in g["nodes"]}
    assert set(pos) == set(ASL["States"])
    assert pos["FixData"]["y"] < pos["Train"]["y"] < pos["Validate"]["y"] < pos["ChallengerPassed"]["y"]
    catch = [e for e in g["edges"] if e["kind"] == "catch"]
    assert {"source": "FixData", "target": "Quarantine"} in [{k: e[k] for k in ("source", "target")} for e in catch]
    # No two nodes overlap, and everything fits in the canvas.
    for n in g["nodes"]:
        assert 0 <= n["x"] and n["x"] + n["w"] <= g["width"] and n["y"] + n["h"] <= g["height"]
        assert not any(m is not n and m["y"] == n["y"] and abs(m["x"] - n["x"]) < n["w"] for m in g["nodes"])


def test_layout_survives_a_loop() -> None:
    g = layout({"StartAt": "A", "States": {"A": {"Type": "Task", "Next": "B"},
                                           "B": {"Type": "Choice", "Choices": [{"Next": "A"}], "Default": "C"},
                                           "C": {"Type": "Succeed"}}})
    ys = {n["name"]: n["y"] for n in g["nodes"]}
    assert ys["A"] < ys["B"] < ys["C"]


def test_history_marks_retried_caught_and_failed_states() -> None:
    events = [
        ev(1, "ExecutionStarted", input="{}"),
        ev(2, "TaskStateEntered", name="Train", input='{"a": 1}'),
        ev(3, "LambdaFunctionScheduled", resource="fn"),
        ev(4, "LambdaFunctionFailed", error="Lambda.ServiceException", cause="boom"),
        ev(5, "LambdaFunctionScheduled", resource="fn"),
        ev(6, "LambdaFunctionSucceeded", output="{}"),
        ev(7, "TaskStateExited", name="Train", output='{"v": 2}'),
        ev(8, "TaskStateEntered", name="FixData", input="{}"),
        ev(9, "TaskScheduled", resource="invoke"),
        ev(10, "TaskFailed", error="DataQualityError", cause='{"errorMessage": "bad"}'),
        ev(11, "TaskStateExited", name="FixData", output="{}"),
        ev(12, "TaskStateEntered", name="Promote", input="{}"),
        ev(13, "TaskScheduled", resource="invoke"),
        ev(14, "TaskFailed", error="States.TaskFailed", cause="no"),
        ev(15, "ExecutionFailed", error="States.TaskFailed", cause="no"),
    ]
    s = summarise(events, "FAILED")
    assert s["states"]["Train"]["status"] == "retried" and s["states"]["Train"]["retries"] == 1
    assert s["states"]["Train"]["duration_ms"] == 500.0
    assert s["states"]["FixData"]["status"] == "caught" and s["states"]["FixData"]["error"] == "DataQualityError"
    assert s["states"]["Promote"]["status"] == "failed" and s["states"]["Promote"]["error"] == "States.TaskFailed"
    assert s["path"] == ["Train", "FixData", "Promote"]
    assert s["taken"] == [{"source": "Train", "target": "FixData", "via": "next"},
                          {"source": "FixData", "target": "Promote", "via": "catch"}]
    assert (s["error"], len(s["events"])) == ("States.TaskFailed", 15)


def test_history_of_a_running_execution_keeps_the_current_state_running() -> None:
    s = summarise([ev(1, "ExecutionStarted"), ev(2, "TaskStateEntered", name="Train"),
                   ev(3, "LambdaFunctionScheduled")], "RUNNING")
    assert s["states"]["Train"]["status"] == "running"


def _log(stream: str, ts: int, message: str) -> dict:
    return {"logStreamName": stream, "timestamp": ts, "message": message}


def test_stats_count_invocations_errors_and_cold_starts() -> None:
    events = [
        _log("w1", 1, "START RequestId: a Version: $LATEST"),
        _log("w1", 2, "REPORT RequestId: a\tDuration: 100.00 ms\tBilled Duration: 100 ms\tInit Duration: 900.00 ms"),
        _log("w1", 3, "START RequestId: b Version: $LATEST"),
        _log("w1", 4, "[ERROR] DataQualityError: no usable batch"),
        _log("w1", 5, "REPORT RequestId: b\tDuration: 20.00 ms\tBilled Duration: 20 ms"),
        _log("w2", 6, "START RequestId: c Version: $LATEST"),
        _log("w2", 7, "[ERROR]\t2026-01-01T00:00:00Z\tc\ta logged error is not a failed invocation"),
        _log("w2", 8, "REPORT RequestId: c\tDuration: 300.00 ms\tBilled Duration: 300 ms\tInit Duration: 700.00 ms"),
    ]
    st = stats(events)
    assert (st["invocations"], st["errors"], st["cold_starts"]) == (3, 1, 2)
    assert (st["p50_ms"], st["p99_ms"], st["mean_init_ms"], st["last_invoked"]) == (100.0, 300.0, 800.0, 8)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
