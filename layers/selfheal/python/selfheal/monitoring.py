"""Performance monitoring: has the production model's error on a labelled batch got worse?

Model-agnostic on purpose: it compares numbers (or true/predicted arrays), so it works the same
for whatever model the registry serves. The reference is the RMSE recorded when the production
version was promoted (its holdout RMSE in ``metrics.json``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

REASON_DEGRADED = "rmse_degraded"
REASON_OK = "rmse_within_tolerance"


@dataclass(frozen=True)
class DegradationResult:
    """``degraded`` when ``batch_rmse / reference_rmse`` exceeds ``max_ratio``."""

    degraded: bool
    ratio: float
    reason: str
    batch_rmse: float
    reference_rmse: float
    max_ratio: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error; ``ValueError`` on empty, mismatched or non-finite input."""
    true = np.asarray(y_true, dtype=float).ravel()
    pred = np.asarray(y_pred, dtype=float).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} values, y_pred {pred.size}")
    if true.size == 0:
        raise ValueError("cannot compute RMSE of zero rows")
    if not (np.isfinite(true).all() and np.isfinite(pred).all()):
        raise ValueError("y_true and y_pred must be finite")
    return float(np.sqrt(np.mean((true - pred) ** 2)))


def degradation_check(batch_rmse: float, reference_rmse: float, *, max_ratio: float) -> DegradationResult:
    """Compare a batch's RMSE with the reference RMSE.

    ``max_ratio`` is the tolerated growth (1.25 = up to 25 % worse is fine). A reference of 0
    (a perfect holdout fit) makes any positive batch error an infinite ratio, i.e. degraded.
    """
    if max_ratio <= 0 or not math.isfinite(max_ratio):
        raise ValueError("max_ratio must be a finite number > 0")
    for name, value in (("batch_rmse", batch_rmse), ("reference_rmse", reference_rmse)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
    if reference_rmse == 0:
        ratio = 0.0 if batch_rmse == 0 else math.inf
    else:
        ratio = batch_rmse / reference_rmse
    degraded = ratio > max_ratio
    relation = ">" if degraded else "<="
    reason = (
        f"{REASON_DEGRADED if degraded else REASON_OK}: batch RMSE {batch_rmse:.4f} is "
        f"{ratio:.2f}x the reference {reference_rmse:.4f} ({relation} {max_ratio:.2f}x allowed)"
    )
    return DegradationResult(
        degraded=degraded,
        ratio=ratio,
        reason=reason,
        batch_rmse=batch_rmse,
        reference_rmse=reference_rmse,
        max_ratio=max_ratio,
    )


def degradation_check_predictions(
    y_true: ArrayLike, y_pred: ArrayLike, reference_rmse: float, *, max_ratio: float
) -> DegradationResult:
    """``degradation_check`` on the RMSE of ``y_pred`` against ``y_true``."""
    return degradation_check(rmse(y_true, y_pred), reference_rmse, max_ratio=max_ratio)
