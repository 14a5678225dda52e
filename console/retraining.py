"""A self-healing execution started by hand, under the drift function's lock and cooldown.

The drift function (``selfheal.flows.monitor.start_retraining``) takes the retraining lock, claims the
cooldown, starts the state machine and audits ``retrain_started``. A person starting one from the
console goes through the same layer classes in the same order, so the execution's Finish state
releases the lock as it does for any run, and the audit trail says who started what and why.

The cooldown may be overridden, with a reason that is audited; the override restarts the window, as
any start does. The lock may not: two retrainings at once would race for the production alias.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from selfheal.audit import AuditAction, AuditTrail
from selfheal.clock import Clock, isoformat, utc_now
from selfheal.config import Settings
from selfheal.contracts import ExecutionInput
from selfheal.exceptions import CooldownActiveError, LockHeldError
from selfheal.flows.keys import execution_arn_for
from selfheal.locks import Cooldown, RetrainingLock

AwsClient = Any  # botocore builds client classes at runtime


@dataclass(frozen=True)
class RetrainingLimits:
    """The cooldown and lock lease the drift function runs with (template parameters)."""

    cooldown_hours: float = Settings.cooldown_hours
    lock_lease_seconds: float = Settings.lock_lease_seconds

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RetrainingLimits:
        """From the drift function's ``COOLDOWN_HOURS``/``LOCK_LEASE_SECONDS``; the layer's defaults otherwise."""
        return cls(cooldown_hours=float(env.get("COOLDOWN_HOURS") or cls.cooldown_hours),
                   lock_lease_seconds=float(env.get("LOCK_LEASE_SECONDS") or cls.lock_lease_seconds))


def cooldown_end(err: CooldownActiveError) -> str | None:
    """When the active cooldown lets the next retraining start (ISO-8601 UTC)."""
    last, hours = err.details.get("last_started"), err.details.get("cooldown_hours")
    if not last or hours is None:
        return None
    return isoformat(datetime.fromisoformat(last) + timedelta(hours=float(hours)))


@dataclass(frozen=True)
class ManualStart:
    """One start from the console: what it runs, and what the audit item says about it."""

    machine_arn: str
    name: str  # the execution's name, also the lock's owner (the input's lock_owner; Finish releases it)
    input: str
    why: str  # "started again from the console (same input as ...)"
    override_reason: str | None = None  # set: start even inside the cooldown, and say why
    details: Mapping[str, Any] | None = None


class ManualRetraining:
    """Start the self-healing state machine as the drift function does: lock, cooldown, start, audit.

    ``LockHeldError`` and ``CooldownActiveError`` (the latter only without an override) propagate
    with nothing started and the lock released; each refusal is audited (``retrain_skipped_*``).
    """

    def __init__(self, dynamodb: AwsClient, stepfunctions: AwsClient, table: str, *,
                 clock: Clock = utc_now) -> None:
        self._sfn = stepfunctions
        self.lock = RetrainingLock(dynamodb, table, clock=clock)
        self.cooldown = Cooldown(dynamodb, table, clock=clock)
        self.audit = AuditTrail(dynamodb, table, clock=clock)

    def start(self, run: ManualStart, limits: RetrainingLimits) -> dict[str, Any]:
        """``run.input`` must be an execution input (``selfheal.contracts.ExecutionInput``; raises
        ``StepInputError`` naming the field otherwise); it is started with ``lock_owner`` set to the
        execution's name, so its Finish state releases this lock."""
        execution = dataclasses.replace(ExecutionInput.from_event(json.loads(run.input)), lock_owner=run.name)
        try:
            self.lock.acquire(run.name, limits.lock_lease_seconds,
                              execution_arn=execution_arn_for(run.machine_arn, run.name))
        except LockHeldError as err:
            self.audit.record(AuditAction.RETRAIN_SKIPPED_LOCK, f"{run.why}: refused, another retraining is "
                              f"running: {err}", details={**(run.details or {}), "manual": True})
            raise
        overridden: CooldownActiveError | None = None
        try:
            try:
                self.cooldown.claim(limits.cooldown_hours, reason=run.why)
            except CooldownActiveError as err:
                if not run.override_reason:
                    # A refusal is a decision too: audited, as the drift function audits its own.
                    self.audit.record(AuditAction.RETRAIN_SKIPPED_COOLDOWN,
                                      f"{run.why}: refused, the cooldown ({limits.cooldown_hours:g} h) is active "
                                      f"until {cooldown_end(err)}",
                                      details={**(run.details or {}), "manual": True, **err.details})
                    raise
                overridden = err
                # The overriding start is the latest start: the next automatic one waits a full window.
                self.cooldown.claim(0, reason=f"{run.why}; cooldown overridden: {run.override_reason}")
            # The caller's other fields are kept (a restart repeats an earlier input as it was).
            arn = self._sfn.start_execution(stateMachineArn=run.machine_arn, name=run.name,
                                            input=json.dumps({**json.loads(run.input), **execution.to_dict()}))["executionArn"]
        except Exception:
            self.lock.release(run.name)  # never leave the lock behind a start that did not happen
            raise
        reason, details = run.why, {**(run.details or {}), "cooldown_overridden": overridden is not None}
        if overridden is not None:
            end = cooldown_end(overridden)
            reason += (f"; the cooldown ({limits.cooldown_hours:g} h, active until {end}) was overridden: "
                       f"{run.override_reason}")
            details.update(override_reason=run.override_reason, cooldown_ends=end,
                           cooldown_last_started=overridden.details.get("last_started"))
        item = self.audit.record(AuditAction.RETRAIN_STARTED, reason, execution_arn=arn, details=details)
        return {"arn": arn, "audit": item}
