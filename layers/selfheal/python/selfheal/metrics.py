"""Regression metrics with numpy only, so the serving and validation sides need no scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Targets closer to zero than this are left out of MAPE: a percentage of (almost) nothing is
# unbounded and would let one row dominate the mean. House values in $100k are never that small.
MAPE_MIN_DENOMINATOR = 1e-6


def regression_metrics(
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[float] | np.ndarray,
) -> dict[str, float]:
    """``mae``, ``rmse``, ``r2`` and ``mape`` of predictions, as plain floats (JSON-able).

    - ``mae``/``rmse`` are in the target's units ($100k for house values);
    - ``r2`` follows scikit-learn: 1.0 for a perfect fit; when the targets are constant it is 1.0
      if the predictions are exact and 0.0 otherwise (never ±inf);
    - ``mape`` is a fraction (0.18 means 18%) over the rows whose ``|y_true|`` is at least
      :data:`MAPE_MIN_DENOMINATOR`; rows with a (near-)zero target are skipped, and it is NaN if
      every row was skipped.

    Raises ValueError for empty, mismatched or non-finite inputs.
    """
    true = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} values, y_pred has {pred.size}")
    if true.size == 0:
        raise ValueError("cannot compute metrics on zero rows")
    if not (np.isfinite(true).all() and np.isfinite(pred).all()):
        raise ValueError("y_true and y_pred must be finite")

    error = pred - true
    sse = float(np.sum(error**2))
    sst = float(np.sum((true - true.mean()) ** 2))
    if sst > 0:
        r2 = 1.0 - sse / sst
    else:
        r2 = 1.0 if sse == 0 else 0.0

    usable = np.abs(true) >= MAPE_MIN_DENOMINATOR
    mape = float(np.mean(np.abs(error[usable]) / np.abs(true[usable]))) if usable.any() else float("nan")
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(sse / true.size)),
        "r2": float(r2),
        "mape": mape,
    }
