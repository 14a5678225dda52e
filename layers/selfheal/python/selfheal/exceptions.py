"""Domain errors. Their class names are the Step Functions contract.

The Lambda runtime reports an unhandled exception's class name as ``errorType``; the state machine's
``Retry``/``Catch`` blocks match on it (``ErrorEquals: ["DataQualityError"]``). Renaming a class here
is a breaking change to ``state_machines/self_healing.asl.json``.
"""

from __future__ import annotations

import json
from typing import Any


class SelfHealError(Exception):
    """Base class: every domain error carries a machine-readable ``reason`` code."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "reason": self.reason, "message": str(self), "details": self.details}


class DataQualityError(SelfHealError):
    """A batch cannot be fixed (missing columns, empty, unreadable, too many bad rows)."""

    reason = "data_quality"


class SchemaError(DataQualityError):
    """Columns or types do not match the declared schema."""

    reason = "schema_mismatch"


class TrainingError(SelfHealError):
    """Training or ONNX export failed."""

    reason = "training_failed"


class ModelNotFoundError(SelfHealError):
    """A model version or alias does not exist in the registry."""

    reason = "model_not_found"


class ModelVersionExistsError(SelfHealError):
    """A write would overwrite an immutable model version."""

    reason = "version_exists"


class ModelLoadError(SelfHealError):
    """A model object exists but cannot be loaded (corrupt, truncated)."""

    reason = "model_corrupt"


class NoHealthyModelError(SelfHealError):
    """Recovery found no last-known-good version to roll back to."""

    reason = "no_healthy_model"


class RecoveryFailedError(SelfHealError):
    """The health check still fails after the allowed recovery attempts."""

    reason = "recovery_failed"


class LockHeldError(SelfHealError):
    """Another retraining holds the lock."""

    reason = "lock_held"


class CooldownActiveError(SelfHealError):
    """A retraining ran less than the cooldown ago."""

    reason = "cooldown"


class DuplicateDeliveryError(SelfHealError):
    """An S3 event for an object version that was checked, or is being checked, already."""

    reason = "duplicate_delivery"


class ConfigError(SelfHealError):
    """Configuration (environment) is missing or invalid; raised once, at cold start."""

    reason = "config_invalid"


class StepInputError(SelfHealError):
    """A function's event does not match its step contract (``selfheal.contracts``); names the field."""

    reason = "invalid_step_input"


def error_message(exc: SelfHealError) -> str:
    """JSON body for errorMessage, so a Catch's ``Cause`` stays machine-readable."""
    return json.dumps(exc.to_dict(), default=str)
