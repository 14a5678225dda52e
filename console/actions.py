"""The audit actions and alert kinds as the console presents them, from the layer's own enums.

``selfheal.audit.AuditAction`` and ``selfheal.alerts.AlertKind`` document each value with a comment
on its line; the console reads those comments from the source rather than keeping a second list
that would drift from the first. What is the console's own is the tone of each value's pill.
"""

from __future__ import annotations

import functools
import inspect
import re
from enum import Enum, StrEnum

from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction


class Tone(StrEnum):
    """How a value is coloured on the page (the front end maps a tone to a pill style)."""

    GOOD = "good"
    BAD = "bad"
    WARN = "warn"
    ACTIVE = "active"
    NEUTRAL = "neutral"


# Anything not listed is neutral: a new action shows up grey, never breaks the page.
ACTION_TONES: dict[AuditAction, Tone] = {
    AuditAction.FIXED: Tone.GOOD, AuditAction.NO_DRIFT: Tone.GOOD, AuditAction.TRAINED: Tone.GOOD,
    AuditAction.VALIDATED: Tone.GOOD, AuditAction.PROMOTED: Tone.GOOD, AuditAction.RECOVERED: Tone.GOOD,
    AuditAction.HEALTH_OK: Tone.GOOD,
    AuditAction.QUARANTINED: Tone.BAD, AuditAction.REJECTED: Tone.BAD, AuditAction.ROLLED_BACK: Tone.BAD,
    AuditAction.RECOVERY_FAILED: Tone.BAD, AuditAction.HEALTH_FAILED: Tone.BAD, AuditAction.EXECUTION_FAILED: Tone.BAD,
    AuditAction.DRIFT_DETECTED: Tone.WARN, AuditAction.DEGRADATION_DETECTED: Tone.WARN,
    AuditAction.RETRAIN_SKIPPED_COOLDOWN: Tone.WARN, AuditAction.RETRAIN_SKIPPED_LOCK: Tone.WARN,
    AuditAction.BATCH_DEFERRED: Tone.WARN, AuditAction.LOCK_RECLAIMED: Tone.WARN, AuditAction.ALERT_SENT: Tone.WARN,
    AuditAction.RETRAIN_STARTED: Tone.ACTIVE,
}
ALERT_TONES: dict[AlertKind, Tone] = {
    AlertKind.ROLLBACK: Tone.BAD, AlertKind.QUARANTINE: Tone.BAD, AlertKind.VALIDATION_REJECTED: Tone.BAD,
    AlertKind.RECOVERY_FAILED: Tone.BAD, AlertKind.EXECUTION_FAILED: Tone.BAD,
    AlertKind.DRIFT_DETECTED: Tone.WARN, AlertKind.DEGRADATION: Tone.WARN, AlertKind.CANARY_ALARM: Tone.WARN,
}
_MEMBER = re.compile(r'^\s*([A-Z][A-Z0-9_]*)\s*=\s*"[^"]*"\s*#\s*(.+?)\s*$')


def member_comments(enum: type[Enum]) -> dict[str, str]:
    """``{member name: the comment on its line}`` from the enum's source; ``{}`` when there is no source."""
    try:
        lines, _ = inspect.getsourcelines(enum)
    except (OSError, TypeError):  # a layer shipped without its .py files
        return {}
    return {m.group(1): m.group(2) for line in lines if (m := _MEMBER.match(line))}


def _catalog(enum: type[StrEnum], tones: dict[str, Tone], field: str) -> list[dict[str, str]]:
    comments = member_comments(enum)
    return [{field: member.value, "description": comments.get(member.name, ""),
             "tone": tones.get(member.value, Tone.NEUTRAL).value} for member in enum]


@functools.cache
def audit_actions() -> list[dict[str, str]]:
    """Every ``AuditAction``: ``action``, ``description`` and ``tone``, in the enum's order."""
    return _catalog(AuditAction, {a.value: t for a, t in ACTION_TONES.items()}, "action")


@functools.cache
def alert_kinds() -> list[dict[str, str]]:
    """Every ``AlertKind``: ``kind``, ``description`` and ``tone``, in the enum's order."""
    return _catalog(AlertKind, {k.value: t for k, t in ALERT_TONES.items()}, "kind")
