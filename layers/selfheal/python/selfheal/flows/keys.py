"""S3 key layout of the data bucket (part of the user-facing contract, see docs/ARCHITECTURE.md)."""

from __future__ import annotations

import posixpath

REFERENCE_KEY = "reference/current.csv"
REFERENCE_META_KEY = "reference/current.json"
REFERENCE_VERSIONS_PREFIX = "reference/versions/"


def execution_name(execution_arn: str | None) -> str:
    """The name part of an execution ARN (``arn:aws:states:r:a:execution:<machine>:<name>``)."""
    if not execution_arn:
        return "manual"
    return execution_arn.rsplit(":", 1)[-1]


def execution_arn_for(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of a state machine, known before it starts:
    ``arn:<partition>:states:<region>:<account>:execution:<machine name>:<name>``."""
    parts = state_machine_arn.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "stateMachine":
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return ":".join([*parts[:5], "execution", parts[6], name])


def batch_name(key: str) -> str:
    return posixpath.basename(key) or "batch.csv"


def curated_key(execution_arn: str | None, key: str) -> str:
    return f"curated/{execution_name(execution_arn)}/{batch_name(key)}"


def training_key(execution_arn: str | None) -> str:
    return f"curated/{execution_name(execution_arn)}/training.csv"


def schema_key_for(execution_arn: str | None) -> str:
    """The schema an execution fixed its batches with, next to its training set."""
    return f"curated/{execution_name(execution_arn)}/schema.json"


def quarantine_key(key: str) -> str:
    rel = key.removeprefix("incoming/")
    return f"quarantine/{rel}"


def holdout_key(model_name: str, version: str) -> str:
    return f"holdouts/{model_name}/{version}.csv"


def reference_version_key(version: str) -> str:
    """The reference a promoted version was trained on, kept so that a rollback can restore it."""
    return f"{REFERENCE_VERSIONS_PREFIX}{version}.csv"
