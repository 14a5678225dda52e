"""The Validate gate decides at its thresholds: each check just inside and just outside its limit.

``selfheal.gate.decide`` is what ValidateFunction runs on the measured numbers; a passed verdict is
what sends the state machine to Promote. Each case moves one number across one threshold from a
challenger that passes everything, so a wrong comparison or a scaled threshold fails here.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from selfheal.config import Settings
from selfheal.gate import ChampionScore, GateCheck, Measured, Thresholds, decide, median_latency_ms

EPS = 1e-6  # relative: far above float rounding, far below any threshold we would choose

# The template's defaults (MinR2, ParityTolerance, MaxPredictLatencyMs), with a non-zero margin:
# at margin 0 a scaled margin is still 0 and would go unnoticed.
THRESHOLDS = Thresholds(min_r2=0.70, parity_tolerance=1e-3, max_latency_ms=50.0, challenger_margin=0.05)
GOOD = Measured(r2=0.85, rmse=0.50, parity=1e-5, latency_ms=2.0)
CHAMPION = ChampionScore(version="v0001", rmse=0.50)


def failed_names(candidate: Measured, champion: ChampionScore | None = CHAMPION,
                 thresholds: Thresholds = THRESHOLDS) -> list[str]:
    return [c.name.value for c in decide(candidate, champion, thresholds).failed]


def test_a_challenger_that_meets_every_check_is_promoted():
    verdict = decide(GOOD, CHAMPION, THRESHOLDS)
    assert verdict.passed
    # The lineage check runs only for a challenger whose schema differs from production's.
    assert [c.name for c in verdict.checks] == [g for g in GateCheck if g is not GateCheck.SCHEMA_LINEAGE]
    assert verdict.reasons == []
    assert all(c.to_dict()["reason"] == "" for c in verdict.checks)


def test_a_challenger_with_another_schema_is_refused_unless_schema_changes_are_allowed():
    other = dataclasses.replace(GOOD, schema_change="columns added: zipcode")
    verdict = decide(other, None, THRESHOLDS)
    assert [c.name for c in verdict.failed] == [GateCheck.SCHEMA_LINEAGE]
    assert "columns added: zipcode" in verdict.reasons[0] and "AllowSchemaChange" in verdict.reasons[0]
    assert decide(other, None, dataclasses.replace(THRESHOLDS, allow_schema_change=True)).passed
    assert Settings.from_env({"MODEL_BUCKET": "m", "DATA_BUCKET": "d", "STATE_TABLE": "t",
                              "ALLOW_SCHEMA_CHANGE": "true"}).allow_schema_change is True


def test_the_default_settings_are_the_documented_thresholds():
    settings = Settings(data_bucket="d", model_bucket="m", state_table="t")
    assert Thresholds.from_settings(settings) == Thresholds(
        min_r2=0.70, parity_tolerance=1e-3, max_latency_ms=50.0, challenger_margin=0.0)


def test_thresholds_come_from_the_template_parameters_environment():
    env = {"DATA_BUCKET": "d", "MODEL_BUCKET": "m", "STATE_TABLE": "t", "MIN_R2": "0.8",
           "PARITY_TOLERANCE": "0.002", "MAX_PREDICT_LATENCY_MS": "20", "CHALLENGER_MARGIN": "0.1"}
    assert Thresholds.from_settings(Settings.from_env(env)) == Thresholds(
        min_r2=0.8, parity_tolerance=0.002, max_latency_ms=20.0, challenger_margin=0.1)


# ---- absolute checks, each at its boundary --------------------------------------------------------


@pytest.mark.parametrize(("r2", "failed"), [
    (0.70 * (1 + EPS), []),
    (0.70, []),  # R² equal to MinR2 passes
    (0.70 * (1 - EPS), ["min_r2"]),
])
def test_r2_at_the_minimum(r2, failed):
    assert failed_names(dataclasses.replace(GOOD, r2=r2)) == failed


@pytest.mark.parametrize(("parity", "failed"), [
    (1e-3 * (1 - EPS), []),
    (1e-3, []),  # a difference equal to the tolerance passes
    (1e-3 * (1 + EPS), ["onnx_parity"]),
    (math.nan, ["onnx_parity"]),
    (math.inf, ["onnx_parity"]),  # what Validate reads when Train recorded no parity
])
def test_parity_at_the_tolerance(parity, failed):
    assert failed_names(dataclasses.replace(GOOD, parity=parity)) == failed


@pytest.mark.parametrize(("latency", "failed"), [
    (50.0 * (1 - EPS), []),
    (50.0, []),
    (50.0 * (1 + EPS), ["latency_ms"]),
])
def test_latency_at_the_limit(latency, failed):
    assert failed_names(dataclasses.replace(GOOD, latency_ms=latency)) == failed


def test_the_default_parity_tolerance_rejects_a_difference_just_above_a_thousandth():
    defaults = Thresholds.from_settings(Settings(data_bucket="d", model_bucket="m", state_table="t"))
    assert failed_names(dataclasses.replace(GOOD, parity=1.001e-3), thresholds=defaults) == ["onnx_parity"]
    assert failed_names(dataclasses.replace(GOOD, parity=0.999e-3), thresholds=defaults) == []


def test_each_failed_check_says_what_was_measured_and_the_limit():
    verdict = decide(Measured(r2=0.5, rmse=0.9, parity=0.02, latency_ms=80.0), CHAMPION, THRESHOLDS)
    assert not verdict.passed
    by_name = {c.name: c for c in verdict.checks}
    assert by_name[GateCheck.MIN_R2].reason == "holdout R² 0.500 below the minimum 0.70"
    assert by_name[GateCheck.ONNX_PARITY].reason == "ONNX differs from scikit-learn by 2.00e-02, above the tolerance 1.0e-03"
    assert by_name[GateCheck.LATENCY_MS].reason == "single-row latency 80.00 ms above 50.0 ms"
    assert by_name[GateCheck.ONNX_PARITY].to_dict() == {
        "name": "onnx_parity", "passed": False, "value": 0.02, "threshold": 1e-3, "reason": verdict.reasons[1]}


# ---- champion / challenger ------------------------------------------------------------------------

LIMIT = CHAMPION.rmse * (1 + THRESHOLDS.challenger_margin)  # 0.525


def test_a_challenger_losing_by_more_than_the_margin_is_rejected_by_the_champion_check_alone():
    loser = dataclasses.replace(GOOD, rmse=LIMIT * (1 + EPS))
    verdict = decide(loser, CHAMPION, THRESHOLDS)
    assert not verdict.passed
    (failed,) = verdict.failed
    assert failed.name is GateCheck.CHAMPION_RMSE
    assert failed.threshold == pytest.approx(0.525)
    assert verdict.reasons == ["challenger RMSE 0.5250 worse than champion v0001 RMSE 0.5000 (margin 5%)"]
    # Without a champion to compare with, the same challenger passes: the champion check decided.
    assert decide(loser, None, THRESHOLDS).passed


@pytest.mark.parametrize("rmse", [
    LIMIT * (1 - EPS),  # loses, within the margin
    LIMIT,  # loses by exactly the margin
    CHAMPION.rmse,  # a tie
    0.45,  # wins
])
def test_a_challenger_within_the_margin_or_better_is_promoted(rmse):
    verdict = decide(dataclasses.replace(GOOD, rmse=rmse), CHAMPION, THRESHOLDS)
    assert verdict.passed, verdict.reasons
    assert verdict.checks[-1].name is GateCheck.CHAMPION_RMSE and verdict.checks[-1].passed


def test_with_no_margin_any_loss_to_the_champion_is_rejected():
    strict = dataclasses.replace(THRESHOLDS, challenger_margin=0.0)
    assert failed_names(dataclasses.replace(GOOD, rmse=CHAMPION.rmse * (1 + EPS)), thresholds=strict) == ["champion_rmse"]
    assert failed_names(dataclasses.replace(GOOD, rmse=CHAMPION.rmse), thresholds=strict) == []


def test_without_a_champion_only_the_absolute_checks_run():
    verdict = decide(GOOD, None, THRESHOLDS)
    assert verdict.passed
    assert GateCheck.CHAMPION_RMSE not in {c.name for c in verdict.checks}


# ---- latency measurement ---------------------------------------------------------------------------


def test_latency_is_the_median_of_the_timed_runs_after_an_untimed_warm_up():
    durations_s = iter([5.0, 0.001, 0.004, 0.002])  # warm-up (slow, not counted), then three runs
    now = [0.0]  # a fake perf_counter that each call advances by its duration

    def call() -> None:
        now[0] += next(durations_s)

    assert median_latency_ms(call, runs=3, timer=lambda: now[0]) == pytest.approx(2.0)
    assert next(durations_s, None) is None  # one warm-up and three timed calls, no more


def test_latency_needs_at_least_one_run():
    with pytest.raises(ValueError):
        median_latency_ms(lambda: None, runs=0)
