"""Typed settings from the environment, checked once at cold start.

Every threshold is a template ``Parameter`` passed as an environment variable, so changing one needs
no code change. A missing or malformed value raises ``ConfigError`` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields

from selfheal.exceptions import ConfigError
from selfheal.schema import DEFAULT_SCHEMA, Schema


@dataclass(frozen=True)
class Settings:
    data_bucket: str
    model_bucket: str
    state_table: str
    model_name: str = "house-prices"
    state_machine_arn: str = ""
    predict_function_name: str = ""
    predict_function_alias: str = ""  # the alias the HTTP API invokes (AutoPublishAlias); "" = $LATEST
    model_type: str = "hist_gradient_boosting"
    min_r2: float = 0.70
    challenger_margin: float = 0.0
    parity_tolerance: float = 1e-3
    max_predict_latency_ms: float = 50.0
    drift_share_threshold: float = 0.5
    degradation_ratio: float = 1.2
    cooldown_hours: float = 24.0
    lock_lease_seconds: float = 1800.0
    iqr_factor: float = 3.0
    max_bad_row_fraction: float = 0.2
    max_recovery_attempts: int = 3
    max_batch_rows: int = 10_000
    max_upload_bytes: int = 100 * 1024 * 1024
    alias_check_seconds: float = 1.0
    capture_sampling_rate: float = 1.0  # share of answered predictions recorded (selfheal/capture.py)
    capture_max_records: int = 1000  # a capture flush is due at this many buffered records...
    capture_max_age_seconds: float = 60.0  # ...or when the oldest is this old (checked on each request)
    schema_json: str = ""
    allow_schema_change: bool = False  # Validate may promote a challenger with another schema (selfheal.lineage)
    alert_topic_arn: str = ""  # the AlertTopic (selfheal.alerts); "" = alerts are audited and logged only
    console_url: str = ""  # the execution console, linked from every alert
    reference_max_rows: int = 50_000  # the drift reference keeps its newest rows (selfheal.flows.reference)
    min_labelled_rows: int = 500  # the monitor retrains on live traffic only with this many labelled rows
    capture_retention_days: float = 30.0  # how far back the monitor joins labels to captured predictions

    @property
    def schema(self) -> Schema:
        return Schema.from_json(self.schema_json) if self.schema_json else DEFAULT_SCHEMA

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require: tuple[str, ...] = ()) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                if f.default is MISSING:
                    raise ConfigError(f"environment variable {name} is required", details={"variable": name})
                continue
            kind = f.type if isinstance(f.type, type) else {"str": str, "float": float, "int": int,
                                                            "bool": bool}[str(f.type)]
            try:
                values[f.name] = kind(float(raw)) if kind is int else _flag(raw) if kind is bool else kind(raw)
            except ValueError as err:
                raise ConfigError(f"environment variable {name}={raw!r} is not a valid {kind.__name__}",
                                  details={"variable": name}) from err
        settings = cls(**values)  # type: ignore[arg-type]
        for name in require:
            if not getattr(settings, name):
                raise ConfigError(f"environment variable {name.upper()} is required", details={"variable": name.upper()})
        settings.validate()
        return settings

    def validate(self) -> None:
        checks = {
            "MIN_R2": -1.0 <= self.min_r2 <= 1.0,
            "CHALLENGER_MARGIN": self.challenger_margin >= 0,
            "PARITY_TOLERANCE": self.parity_tolerance > 0,
            "DRIFT_SHARE_THRESHOLD": 0 < self.drift_share_threshold <= 1,
            "DEGRADATION_RATIO": self.degradation_ratio >= 1,
            "COOLDOWN_HOURS": self.cooldown_hours >= 0,
            "IQR_FACTOR": self.iqr_factor > 0,
            "MAX_BAD_ROW_FRACTION": 0 <= self.max_bad_row_fraction <= 1,
            "MAX_RECOVERY_ATTEMPTS": self.max_recovery_attempts >= 1,
            "MAX_BATCH_ROWS": self.max_batch_rows >= 1,
            "CAPTURE_SAMPLING_RATE": 0 <= self.capture_sampling_rate <= 1,
            "CAPTURE_MAX_RECORDS": self.capture_max_records >= 1,
            "CAPTURE_MAX_AGE_SECONDS": self.capture_max_age_seconds >= 0,
            "REFERENCE_MAX_ROWS": self.reference_max_rows >= 1,
            "MIN_LABELLED_ROWS": self.min_labelled_rows >= 1,
            "CAPTURE_RETENTION_DAYS": self.capture_retention_days > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"invalid setting(s): {', '.join(bad)}", details={"variables": bad})


def _flag(raw: str) -> bool:
    """A boolean environment variable: true/false (any case), as CloudFormation passes them, or 1/0."""
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(raw)
