"""Time as a dependency: a ``Clock`` is any callable returning an aware UTC ``datetime``.

Library classes take ``clock=`` so tests can move time (lease expiry, cooldown windows) without
sleeping or monkeypatching; ``utc_now`` is the real default, used only at the edges.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is a bug (its zone is a guess), so refuse it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: clocks must return timezone-aware datetimes")
    return moment.astimezone(UTC)


def isoformat(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC with microseconds and a ``Z`` suffix, so strings sort by time."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
