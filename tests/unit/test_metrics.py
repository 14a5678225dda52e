"""Regression metrics: the numbers the validation gate and the model registry report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfheal.metrics import regression_metrics


def test_known_values():
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.0])
    assert m["mae"] == pytest.approx(0.375)
    assert m["rmse"] == pytest.approx(math.sqrt((0.25 + 0 + 1 + 0) / 4))
    assert m["r2"] == pytest.approx(1 - 1.25 / 5.0)
    assert m["mape"] == pytest.approx((0.5 + 0 + 1 / 3 + 0) / 4)


def test_perfect_predictions():
    assert regression_metrics([0.5, 1.5, 5.0], [0.5, 1.5, 5.0]) == {"mae": 0.0, "rmse": 0.0, "r2": 1.0, "mape": 0.0}


def test_predicting_the_mean_scores_zero_r2_and_worse_is_negative():
    y = np.array([1.0, 2.0, 3.0])
    assert regression_metrics(y, np.full(3, 2.0))["r2"] == pytest.approx(0.0)
    assert regression_metrics(y, y[::-1])["r2"] < 0


def test_constant_targets_never_give_infinite_r2():
    assert regression_metrics([2.0, 2.0], [2.0, 2.0])["r2"] == 1.0
    assert regression_metrics([2.0, 2.0], [2.0, 3.0])["r2"] == 0.0


def test_mape_skips_zero_targets():
    m = regression_metrics([0.0, 2.0], [1.0, 3.0])
    assert m["mape"] == pytest.approx(0.5)
    assert math.isfinite(m["mae"])
    assert math.isnan(regression_metrics([0.0, 0.0], [1.0, 1.0])["mape"])


def test_values_are_plain_floats():
    m = regression_metrics(np.array([[1.0], [2.0]]), np.array([1.0, 2.5]))
    assert all(type(v) is float for v in m.values())


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([], []), ([1.0, 2.0], [1.0]), ([1.0, float("nan")], [1.0, 2.0]), ([1.0], [float("inf")])],
)
def test_bad_inputs_raise(y_true, y_pred):
    with pytest.raises(ValueError):
        regression_metrics(y_true, y_pred)
