"""Telemetry: CloudWatch metrics in the embedded metric format (EMF), built with Powertools.

Each event is one JSON log line on stdout. On AWS, CloudWatch Logs extracts the metrics from the
function's log group (no PutMetricData call, no extra IAM permission, nothing on the request path
but a print); the local cloud's log pipeline does the same (``infra/localcloud/emf.py``), and the
console serves them to Prometheus at ``/metrics``.

Namespace ``$POWERTOOLS_METRICS_NAMESPACE`` (template Globals: ``SelfHeal``); every metric also
carries Powertools' ``service`` dimension (``$POWERTOOLS_SERVICE_NAME``). What is emitted:

========================  ============  ================================  ==============================
metric                    unit          dimensions (besides ``service``)  when
========================  ============  ================================  ==============================
``Predictions``           Count         ``model_version``                 each answered ``POST /predict``
``PredictedRows``         Count         ``model_version``                 rows in that request
``PredictionLatency``     Milliseconds  ``model_version``                 model lookup + ONNX inference
``CaptureRecords``        Count         ``model_version``                 records of that request captured
``CaptureFlushes``        Count         --                                capture objects written to S3
``CaptureFlushFailures``  Count         --                                capture writes that failed
``CaptureDropped``        Count         --                                records dropped past the cap
``DriftChecks``           Count         --                                each drift check of a batch
``DriftDetected``         Count         --                                1 when the batch drifted, else 0
``DriftShare``            None          --                                share of drifted columns
``ModelR2``/``ModelRMSE`` None          ``model_version``, ``stage``      after train and validate
``HealingActions``        Count         ``action``                        see :class:`HealingAction`
``AlertsFailed``          Count         ``action`` (the alert's kind)     an alert could not be published
========================  ============  ================================  ==============================
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

DEFAULT_NAMESPACE = "SelfHeal"  # used when POWERTOOLS_METRICS_NAMESPACE is not set (tests, scripts)

LineWriter = Callable[[str], None]


class HealingAction(StrEnum):
    """The ``action`` dimension of ``HealingActions``: what the pipeline did to heal itself."""

    RETRAIN = "retrain"  # the self-healing state machine was started
    FIX = "fix"  # a batch was repaired into curated/
    QUARANTINE = "quarantine"  # a batch could not be fixed and was set aside
    DEFERRED_COOLDOWN = "deferred_cooldown"  # a retrain was wanted inside the cooldown; batch kept for later
    DEFERRED_LOCK = "deferred_lock"  # a retrain was wanted while another held the lock; batch kept for later
    PROMOTE = "promote"  # the production alias moved forward
    REJECT = "reject"  # a challenger failed validation; the champion stays
    ROLLBACK = "rollback"  # the production alias moved back to the last known good version
    RECYCLE = "recycle"  # the predict function's workers were replaced


class Stage(StrEnum):
    """The ``stage`` dimension of the model-quality metrics: where the figure was measured."""

    TRAIN = "train"  # the trainer's holdout, scikit-learn pipeline
    VALIDATE = "validate"  # the validation gate's holdout, ONNX model


def _stdout(line: str) -> None:
    # sys.stdout looked up at each call: Lambda (and pytest) may replace it after import.
    sys.stdout.write(line + "\n")


class Telemetry:
    """Emits the pipeline's metrics, one EMF line per event.

    ``write`` receives each line (default: stdout, where Lambda sends it to CloudWatch Logs).
    ``POWERTOOLS_METRICS_DISABLED=true`` turns emission off, as it does for Powertools' ``Metrics``.
    Non-finite values are left out: EMF values must be JSON numbers.
    """

    def __init__(self, *, namespace: str | None = None, service: str | None = None,
                 write: LineWriter = _stdout) -> None:
        self._provider = AmazonCloudWatchEMFProvider(namespace=namespace, service=service)
        if self._provider.namespace is None:
            self._provider.namespace = DEFAULT_NAMESPACE
        self._write = write
        self._disabled = is_metrics_disabled()
        self._lock = threading.Lock()

    @property
    def namespace(self) -> str:
        return str(self._provider.namespace)

    def prediction(self, *, model_version: str, rows: int, latency_ms: float, captured: int | None = None) -> None:
        """One answered prediction request of ``rows`` records, served by ``model_version``.

        ``captured``: how many of its records the capture buffer kept (None when capture is off).
        """
        metrics: tuple[tuple[str, MetricUnit, float], ...] = (
            ("Predictions", MetricUnit.Count, 1),
            ("PredictedRows", MetricUnit.Count, rows),
            ("PredictionLatency", MetricUnit.Milliseconds, latency_ms),
        )
        if captured is not None:
            metrics += (("CaptureRecords", MetricUnit.Count, captured),)
        self._emit({"model_version": model_version}, metrics)

    def capture_flush(self, *, ok: bool) -> None:
        """One capture PutObject: written (``CaptureFlushes``) or failed (``CaptureFlushFailures``)."""
        self._emit({}, (("CaptureFlushes" if ok else "CaptureFlushFailures", MetricUnit.Count, 1),))

    def capture_dropped(self, records: int) -> None:
        """Captured records dropped unwritten: the buffer was full while S3 refused the flushes."""
        self._emit({}, (("CaptureDropped", MetricUnit.Count, records),))

    def drift_check(self, *, share: float, drifted: bool) -> None:
        """One drift check of an incoming batch: the share of drifted columns and the verdict."""
        self._emit({}, (
            ("DriftChecks", MetricUnit.Count, 1),
            ("DriftDetected", MetricUnit.Count, 1 if drifted else 0),
            ("DriftShare", MetricUnit.NoUnit, share),
        ))

    def model_quality(self, *, model_version: str, stage: Stage, r2: float, rmse: float) -> None:
        """A version's holdout R² and RMSE, as measured at ``stage``."""
        self._emit({"model_version": model_version, "stage": str(stage)}, (
            ("ModelR2", MetricUnit.NoUnit, r2),
            ("ModelRMSE", MetricUnit.NoUnit, rmse),
        ))

    def unknown_levels(self, *, model_version: str, column: str, count: int) -> None:
        """``count`` values of categorical ``column`` outside its levels, scored as its fold level."""
        self._emit({"model_version": model_version, "column": column}, (("UnknownLevels", MetricUnit.Count, count),))

    def healing_action(self, action: HealingAction) -> None:
        """One self-healing action taken (see :class:`HealingAction`)."""
        self._emit({"action": str(action)}, (("HealingActions", MetricUnit.Count, 1),))

    def alert_failed(self, kind: str) -> None:
        """An alert of ``kind`` (``selfheal.alerts.AlertKind``) that could not be published to its topic."""
        self._emit({"action": str(kind)}, (("AlertsFailed", MetricUnit.Count, 1),))

    def _emit(self, dimensions: Mapping[str, str], metrics: Iterable[tuple[str, MetricUnit, float]]) -> None:
        if self._disabled:
            return
        with self._lock:
            provider = self._provider
            for name, value in dimensions.items():
                provider.add_dimension(name=name, value=value)
            for name, unit, number in metrics:
                if math.isfinite(number):
                    provider.add_metric(name=name, unit=unit, value=number)
            try:
                if not provider.metric_set:
                    return
                line = json.dumps(provider.serialize_metric_set(), separators=(",", ":"))
            finally:
                provider.clear_metrics()
        self._write(line)
