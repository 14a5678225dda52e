"""Retraining lock and cooldown against moto's DynamoDB, including concurrent callers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.dynamodb.models.table import Table

from selfheal.exceptions import CooldownActiveError, LockHeldError
from selfheal.locks import Cooldown, RetrainingLock
from tests.functional.conftest import STATE_TABLE as TABLE
from tests.functional.conftest import FakeClock
from tests.functional.race import race


@pytest.fixture
def atomic_moto_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's conditional writes atomic per table, as DynamoDB's are per item.

    moto reads the current item, evaluates the condition and stores the new item in separate
    Python steps, so two threads could in principle both pass. Serialising those steps models the
    AWS guarantee; code that did its own read-then-write would still let two callers win.
    """
    lock = threading.Lock()
    for name in ("put_item", "delete_item"):
        original = getattr(Table, name)

        def serialised(
            self: Table, *args: Any, _original: Callable[..., Any] = original, **kwargs: Any
        ) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(Table, name, serialised)


# ---- lock ---------------------------------------------------------------------------------------


def test_second_owner_is_refused_and_told_who_holds_the_lock(ddb: Any, clock: FakeClock) -> None:
    lock = RetrainingLock(ddb, TABLE, clock=clock)
    lease = lock.acquire("arn:exec:1", lease_seconds=900)
    assert lease["owner"] == "arn:exec:1"
    assert lease["expires_at"] == "2024-05-01T12:15:00.000000Z"

    with pytest.raises(LockHeldError, match="arn:exec:1") as err:
        lock.acquire("arn:exec:2", lease_seconds=900)
    assert err.value.details["holder"]["owner"] == "arn:exec:1"
    assert lock.holder()["owner"] == "arn:exec:1"


def test_holder_can_renew_its_lease(ddb: Any, clock: FakeClock) -> None:
    lock = RetrainingLock(ddb, TABLE, clock=clock)
    lock.acquire("arn:exec:1", lease_seconds=60)
    clock.advance(seconds=50)
    renewed = lock.acquire("arn:exec:1", lease_seconds=60)
    assert renewed["expires_at"] == "2024-05-01T12:01:50.000000Z"


def test_expired_lease_can_be_taken_over(ddb: Any, clock: FakeClock) -> None:
    lock = RetrainingLock(ddb, TABLE, clock=clock)
    lock.acquire("arn:exec:crashed", lease_seconds=600)
    clock.advance(seconds=599)
    with pytest.raises(LockHeldError):
        lock.acquire("arn:exec:2", lease_seconds=600)

    clock.advance(seconds=1)
    assert lock.holder() is None
    assert lock.acquire("arn:exec:2", lease_seconds=600)["owner"] == "arn:exec:2"
    # The crashed owner, coming back, cannot release what is no longer its lock.
    assert lock.release("arn:exec:crashed") is False
    assert lock.holder()["owner"] == "arn:exec:2"


def test_release_only_by_the_owner(ddb: Any, clock: FakeClock) -> None:
    lock = RetrainingLock(ddb, TABLE, clock=clock)
    assert lock.release("nobody") is False
    lock.acquire("arn:exec:1", lease_seconds=600)
    assert lock.release("arn:exec:2") is False
    assert lock.holder()["owner"] == "arn:exec:1"
    assert lock.release("arn:exec:1") is True
    assert lock.holder() is None
    lock.acquire("arn:exec:2", lease_seconds=600)


@pytest.mark.usefixtures("atomic_moto_writes")
def test_concurrent_acquires_have_exactly_one_winner(ddb: Any, clock: FakeClock) -> None:
    locks = [RetrainingLock(boto3.client("dynamodb"), TABLE, clock=clock) for _ in range(8)]
    winners, errors = race(8, lambda i: locks[i].acquire(f"arn:exec:{i}", lease_seconds=600))
    assert len(winners) == 1
    assert len(errors) == 7 and all(isinstance(e, LockHeldError) for e in errors)
    assert locks[0].holder()["owner"] == f"arn:exec:{next(iter(winners))}"


# ---- cooldown -----------------------------------------------------------------------------------


def test_cooldown_blocks_within_the_window_and_allows_after(ddb: Any, clock: FakeClock) -> None:
    cooldown = Cooldown(ddb, TABLE, clock=clock)
    assert cooldown.last_started() is None  # bootstrap training never claims
    cooldown.claim(6, reason="drift", execution_arn="arn:exec:1")
    assert cooldown.last_started() == clock.now

    clock.advance(hours=5)
    with pytest.raises(CooldownActiveError) as err:
        cooldown.claim(6, reason="drift again")
    assert err.value.details["remaining_seconds"] == pytest.approx(3600)
    assert cooldown.remaining_seconds(6) == pytest.approx(3600)
    assert cooldown.last_started() == clock.now - timedelta(hours=5)

    clock.advance(hours=1)
    assert cooldown.remaining_seconds(6) == 0
    cooldown.claim(6, reason="drift again")
    assert cooldown.last_started() == clock.now


def test_zero_hour_cooldown_never_blocks(ddb: Any, clock: FakeClock) -> None:
    cooldown = Cooldown(ddb, TABLE, clock=clock)
    cooldown.claim(0)
    cooldown.claim(0)


@pytest.mark.usefixtures("atomic_moto_writes")
def test_concurrent_claims_have_exactly_one_winner(ddb: Any, clock: FakeClock) -> None:
    cooldowns = [Cooldown(boto3.client("dynamodb"), TABLE, clock=clock) for _ in range(8)]
    winners, errors = race(8, lambda i: cooldowns[i].claim(6, reason=f"batch {i}"))
    assert len(winners) == 1
    assert len(errors) == 7 and all(isinstance(e, CooldownActiveError) for e in errors)
