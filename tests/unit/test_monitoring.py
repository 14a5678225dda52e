"""Performance monitoring: RMSE on a labelled batch against the RMSE recorded at promotion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfheal.monitoring import degradation_check, degradation_check_predictions, rmse


def test_rmse_matches_the_definition() -> None:
    assert rmse([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.0
    assert rmse([0.0, 0.0], [3.0, 4.0]) == pytest.approx(math.sqrt(12.5))
    assert rmse(np.array([[1.0], [2.0]]), np.array([1.5, 2.5])) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([], []), ([1.0, 2.0], [1.0]), ([1.0, float("nan")], [1.0, 2.0])],
)
def test_rmse_refuses_input_it_cannot_judge(y_true: list[float], y_pred: list[float]) -> None:
    with pytest.raises(ValueError):
        rmse(y_true, y_pred)


def test_error_growth_beyond_the_allowed_ratio_is_degradation() -> None:
    result = degradation_check(0.75, 0.5, max_ratio=1.25)
    assert result.degraded is True
    assert result.ratio == pytest.approx(1.5)
    assert result.reason.startswith("rmse_degraded")
    assert "1.50x" in result.reason


def test_error_within_the_allowed_ratio_is_fine() -> None:
    assert degradation_check(0.6, 0.5, max_ratio=1.25).degraded is False
    assert degradation_check(0.625, 0.5, max_ratio=1.25).degraded is False  # the boundary is allowed
    better = degradation_check(0.4, 0.5, max_ratio=1.25)
    assert better.degraded is False
    assert better.reason.startswith("rmse_within_tolerance")


def test_perfect_reference_makes_any_error_degradation() -> None:
    assert degradation_check(0.01, 0.0, max_ratio=1.25).ratio == math.inf
    assert degradation_check(0.01, 0.0, max_ratio=1.25).degraded is True
    assert degradation_check(0.0, 0.0, max_ratio=1.25).degraded is False


def test_check_from_predictions() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.uniform(0.5, 5.0, 1000)
    good = degradation_check_predictions(y_true, y_true + rng.normal(0, 0.5, 1000), 0.5, max_ratio=1.25)
    bad = degradation_check_predictions(y_true, y_true + rng.normal(0, 1.0, 1000), 0.5, max_ratio=1.25)
    assert good.degraded is False
    assert bad.degraded is True
    assert bad.to_dict()["batch_rmse"] == pytest.approx(1.0, rel=0.1)


@pytest.mark.parametrize(
    ("batch", "reference", "max_ratio"),
    [(-1.0, 0.5, 1.25), (0.5, float("nan"), 1.25), (0.5, 0.5, 0.0), (0.5, 0.5, math.inf)],
)
def test_invalid_numbers_are_refused(batch: float, reference: float, max_ratio: float) -> None:
    with pytest.raises(ValueError):
        degradation_check(batch, reference, max_ratio=max_ratio)
