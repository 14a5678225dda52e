"""The validation gate's decision: measured numbers and thresholds in, a verdict out. No IO.

``flows/validate.py`` measures a challenger (holdout metrics, the parity Train recorded, single-row
latency, the champion's RMSE on the same holdout) and hands the numbers to :func:`decide`. Keeping
the decision pure means every check can be tested at its boundary without a model, a bucket or a
clock, and a change to a comparison or a threshold fails a unit test.

Every check passes *at* its threshold (``>=`` for R², ``<=`` for the others). A NaN measurement
fails every check: each comparison is written so that NaN is false.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from selfheal.config import Settings


class GateCheck(StrEnum):
    """The gate's checks; their values are the ``name`` of each check in Validate's output."""

    MIN_R2 = "min_r2"
    ONNX_PARITY = "onnx_parity"
    LATENCY_MS = "latency_ms"
    CHAMPION_RMSE = "champion_rmse"
    SCHEMA_LINEAGE = "schema_lineage"  # only when the challenger's schema differs from production's


@dataclass(frozen=True)
class Thresholds:
    """What a challenger must meet; the template's Parameters, through ``Settings``."""

    min_r2: float
    parity_tolerance: float
    max_latency_ms: float
    challenger_margin: float  # the champion may be at most this fraction better (RMSE)
    allow_schema_change: bool = False  # AllowSchemaChange: a challenger may start a new lineage

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(min_r2=settings.min_r2, parity_tolerance=settings.parity_tolerance,
                   max_latency_ms=settings.max_predict_latency_ms, challenger_margin=settings.challenger_margin,
                   allow_schema_change=settings.allow_schema_change)


@dataclass(frozen=True)
class Measured:
    """The challenger's numbers, all on its seeded holdout."""

    r2: float
    rmse: float
    parity: float  # largest |ONNX - scikit-learn| Train recorded (target units)
    latency_ms: float  # median single-row ONNX latency
    schema_change: str | None = None  # how its schema differs from production's (None: the same lineage)


@dataclass(frozen=True)
class ChampionScore:
    """The production model's RMSE on the challenger's holdout."""

    version: str
    rmse: float


@dataclass(frozen=True)
class Check:
    name: GateCheck
    passed: bool
    value: float
    threshold: float
    reason: str  # why it failed; "" when it passed

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name.value, "passed": self.passed, "value": float(self.value),
                "threshold": float(self.threshold), "reason": self.reason}


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.failed]


def _check(name: GateCheck, passed: bool, value: float, threshold: float, reason: str) -> Check:
    return Check(name, bool(passed), float(value), float(threshold), "" if passed else reason)


def decide(candidate: Measured, champion: ChampionScore | None, thresholds: Thresholds) -> Verdict:
    """Run every check on a challenger; the champion check only when a champion could be scored.

    The champion check allows the challenger an RMSE up to ``champion.rmse * (1 + margin)``: a
    margin of 0 means "no worse than the champion", 0.05 "at most 5 % worse".
    """
    t = thresholds
    checks = [
        _check(GateCheck.MIN_R2, candidate.r2 >= t.min_r2, candidate.r2, t.min_r2,
               f"holdout R² {candidate.r2:.3f} below the minimum {t.min_r2:.2f}"),
        _check(GateCheck.ONNX_PARITY, candidate.parity <= t.parity_tolerance, candidate.parity, t.parity_tolerance,
               f"ONNX differs from scikit-learn by {candidate.parity:.2e}, above the tolerance "
               f"{t.parity_tolerance:.1e}"),
        _check(GateCheck.LATENCY_MS, candidate.latency_ms <= t.max_latency_ms, candidate.latency_ms, t.max_latency_ms,
               f"single-row latency {candidate.latency_ms:.2f} ms above {t.max_latency_ms} ms"),
    ]
    if candidate.schema_change is not None:
        checks.append(_check(GateCheck.SCHEMA_LINEAGE, t.allow_schema_change, 1.0, float(t.allow_schema_change),
                             f"the challenger's schema differs from production's ({candidate.schema_change}): a new "
                             "model lineage is promoted only with AllowSchemaChange=true"))
    if champion is not None:
        limit = champion.rmse * (1 + t.challenger_margin)
        checks.append(_check(GateCheck.CHAMPION_RMSE, candidate.rmse <= limit, candidate.rmse, limit,
                             f"challenger RMSE {candidate.rmse:.4f} worse than champion {champion.version} "
                             f"RMSE {champion.rmse:.4f} (margin {t.challenger_margin:.0%})"))
    return Verdict(tuple(checks))


def median_latency_ms(call: Callable[[], object], *, runs: int = 50,
                      timer: Callable[[], float] = time.perf_counter) -> float:
    """Median wall time of ``call()`` in milliseconds over ``runs`` calls, after one warm-up call.

    The median, not the mean: one garbage collection or scheduler hiccup must not reject a model.
    """
    if runs < 1:
        raise ValueError("runs must be >= 1")
    call()  # warm-up: the first run pays for lazy allocations in onnxruntime
    samples = []
    for _ in range(runs):
        start = timer()
        call()
        samples.append((timer() - start) * 1000)
    return statistics.median(samples)
