"""The step contracts: what each Task state of the self-healing state machine sends its function,
what the function answers, and the events the schedules and other services send.

One module, shared by the handlers (which parse their event with ``<Request>.from_event``), the
flows (which return the ``<Result>`` TypedDicts) and ``tests/unit/test_step_contracts.py``, which
checks every Task state's ``Parameters`` in ``state_machines/self_healing.asl.json`` against these
classes and every JSONPath the ASL reads against the results that produce it.

Every Task state invokes its function the same way: the function ARN as ``Resource`` and the event
built by ``Parameters`` (no ``arn:aws:states:::lambda:invoke`` wrapper, so no handler unwraps a
``Payload``). A malformed event raises ``StepInputError`` naming the field, before any work.

The execution input (``ExecutionInput``) carries the retraining lock's owner explicitly: whoever
takes the lock names itself in ``lock_owner`` and the Finish state releases exactly that owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, NotRequired, Self, TypedDict

from selfheal.exceptions import StepInputError


class BatchRef(TypedDict):
    """One uploaded CSV in S3."""

    bucket: str
    key: str


# ---- reading an event ------------------------------------------------------------------------------
def _field(event: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, default: Any = ...,
           where: str) -> Any:
    """``event[name]`` checked against ``kind``; a missing field takes ``default`` (required if none)."""
    if name not in event or event[name] is None:
        if default is ...:
            raise StepInputError(f"{where}: missing field {name!r}", details={"field": name})
        return default
    value = event[name]
    # JSON true/false are ints to Python: a bool is accepted only where a bool is expected.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)):
        expected = " or ".join(k.__name__ for k in _tuple(kind))
        raise StepInputError(f"{where}: field {name!r} must be {expected}, got {type(value).__name__}",
                             details={"field": name})
    return value


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _mapping(event: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(event, Mapping):
        raise StepInputError(f"{where}: the event must be a JSON object, got {type(event).__name__}")
    return event


def _batches(value: Any, where: str) -> list[BatchRef]:
    if not isinstance(value, list):
        raise StepInputError(f"{where}: field 'batches' must be a list of {{bucket, key}}", details={"field": "batches"})
    out: list[BatchRef] = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("bucket"), str) or not isinstance(item.get("key"), str):
            raise StepInputError(f"{where}: batches[{i}] must be an object with string 'bucket' and 'key'",
                                 details={"field": f"batches[{i}]"})
        out.append({"bucket": item["bucket"], "key": item["key"]})
    return out


@dataclass(frozen=True)
class StepError:
    """What a ``Catch`` puts at its ``ResultPath``: the error name and its cause (often a Lambda error JSON)."""

    error: str
    cause: str | None = None

    @classmethod
    def from_catch(cls, value: Any) -> StepError | None:
        if not isinstance(value, Mapping) or not value.get("Error"):
            return None
        cause = value.get("Cause")
        return cls(str(value["Error"]), cause if isinstance(cause, str) else None)


# ---- the execution input ---------------------------------------------------------------------------
class Trigger(StrEnum):
    """Why an execution runs (the execution input's ``trigger``; audited and in each model's manifest)."""

    BOOTSTRAP = "bootstrap"
    DRIFT = "drift"
    DEGRADATION = "degradation"
    DEFERRED = "deferred"  # batches deferred by the lock or the cooldown, started by the drain
    LIVE_DRIFT = "live_drift"  # MonitorFunction, on captured traffic
    LIVE_DEGRADATION = "live_degradation"
    MANUAL = "manual"


@dataclass(frozen=True)
class ExecutionInput:
    """The self-healing state machine's input (``StartExecution``'s ``input``).

    ``trigger`` is free text for executions started by hand (the ``Trigger`` values are what the
    pipeline itself starts). ``lock_owner`` names the holder of the retraining lock this execution
    runs under: the Finish state releases it. ``None``: the execution holds no lock (the bootstrap).
    ``schema_key``: a schema file in the data bucket to fix and train with (a bootstrap on the user's
    data, ``selfheal.lineage``); ``None``: production's schema.
    """

    trigger: str
    batches: list[BatchRef]
    include_reference: bool = False
    lock_owner: str | None = None
    schema_key: str | None = None

    @classmethod
    def from_event(cls, event: Any) -> Self:
        where = "execution input"
        e = _mapping(event, where)
        return cls(trigger=_field(e, "trigger", str, default=Trigger.MANUAL.value, where=where),
                   batches=_batches(e.get("batches") or [], where),
                   include_reference=_field(e, "include_reference", bool, default=False, where=where),
                   lock_owner=_field(e, "lock_owner", str, default=None, where=where),
                   schema_key=_field(e, "schema_key", str, default=None, where=where))

    def to_dict(self) -> dict[str, Any]:
        """The JSON input; optional fields that are unset are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}


# ---- FixDataFunction -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FixRequest:
    """FixData: ``{"action": "fix", "execution_arn", "execution": <the execution input>}``."""

    execution_arn: str | None
    execution: ExecutionInput

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where="FixData"),
                   execution=ExecutionInput.from_event(event.get("execution") or {}))


class FixedBatch(TypedDict):
    key: str
    curated_key: str
    rows_in: int
    rows_out: int


class FixResult(TypedDict):
    """FixData's answer, at ``$.fix``: Train reads ``training_key``, ``fingerprint`` and ``schema_key``
    (the schema it fixed with, stored next to the training set), Promote ``training_key``."""

    training_key: str
    schema_key: str
    rows: int
    batches: list[FixedBatch]
    quarantined: list[str]
    fingerprint: str


@dataclass(frozen=True)
class QuarantineRequest:
    """Quarantine, after FixData raised a data error: ``{"action": "quarantine", "execution_arn",
    "state": <the whole state>}``; from the state it takes the execution input's ``batches`` and the
    ``error`` the Catch recorded."""

    execution_arn: str | None
    batches: list[BatchRef]
    error: StepError

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Quarantine"
        state = _field(event, "state", Mapping, where=where)
        error = StepError.from_catch(state.get("error"))
        if error is None:
            raise StepInputError(f"{where}: missing field 'error' in the state (the Catch's Error and Cause)",
                                 details={"field": "error"})
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   batches=ExecutionInput.from_event(state).batches, error=error)


class QuarantineResult(TypedDict):
    quarantined: list[str]


class FixAction(StrEnum):
    FIX = "fix"
    QUARANTINE = "quarantine"


# ---- TrainFunction / ValidateFunction --------------------------------------------------------------
@dataclass(frozen=True)
class TrainRequest:
    """Train: ``{"execution_arn", "training_key", "schema_key"?, "fingerprint", "trigger", "params"?}``;
    without ``schema_key``, production's schema."""

    execution_arn: str | None
    training_key: str
    fingerprint: str = ""
    trigger: str = Trigger.MANUAL.value
    params: dict[str, Any] | None = None
    schema_key: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Train"
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   training_key=_field(event, "training_key", str, where=where),
                   fingerprint=_field(event, "fingerprint", str, default="", where=where),
                   trigger=_field(event, "trigger", str, default=Trigger.MANUAL.value, where=where),
                   params=_field(event, "params", dict, default=None, where=where),
                   schema_key=_field(event, "schema_key", str, default=None, where=where))


class TrainResult(TypedDict):
    """Train's answer, at ``$.train``: Validate reads ``version`` and ``holdout_key``."""

    version: str
    metrics: dict[str, float]
    parity: float
    holdout_key: str
    parent_version: str | None


@dataclass(frozen=True)
class ValidateRequest:
    """Validate: ``{"execution_arn", "version", "holdout_key"}``."""

    execution_arn: str | None
    version: str
    holdout_key: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Validate"
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   version=_field(event, "version", str, where=where),
                   holdout_key=_field(event, "holdout_key", str, where=where))


class ValidateResult(TypedDict):
    """Validate's answer, at ``$.validation``: the ChallengerPassed choice reads ``passed``,
    RecordRejection ``reasons``."""

    passed: bool
    version: str
    metrics: dict[str, float]
    checks: list[dict[str, Any]]
    reasons: list[str]
    champion: dict[str, Any]


# ---- PromoteFunction -------------------------------------------------------------------------------
class PromoteAction(StrEnum):
    """PromoteFunction's actions: the only code that moves the production alias, and Finish."""

    PROMOTE = "promote"
    REJECT = "reject"
    ROLLBACK = "rollback"
    FINISH = "finish"


@dataclass(frozen=True)
class PromoteRequest:
    """Promote: ``{"action": "promote", "execution_arn", "version", "training_key"?, "reason"}``."""

    execution_arn: str | None
    version: str
    training_key: str | None = None
    reason: str = "manual"

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Promote"
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   version=_field(event, "version", str, where=where),
                   training_key=_field(event, "training_key", str, default=None, where=where),
                   reason=_field(event, "reason", str, default="manual", where=where))


class PromoteResult(TypedDict):
    version: str
    previous_version: str | None


@dataclass(frozen=True)
class RejectRequest:
    """RecordRejection: ``{"action": "reject", "execution_arn", "version", "reasons"}``."""

    execution_arn: str | None
    version: str
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "RecordRejection"
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   version=_field(event, "version", str, where=where),
                   reasons=[str(r) for r in _field(event, "reasons", list, default=[], where=where)])


class RejectResult(TypedDict):
    version: str
    status: str
    champion: str | None


@dataclass(frozen=True)
class RollbackRequest:
    """Rollback: ``{"action": "rollback", "execution_arn", "reason", "from_version"?, "to_version"?}``."""

    execution_arn: str | None
    reason: str = "manual rollback"
    from_version: str | None = None
    to_version: str | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Rollback"
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   reason=_field(event, "reason", str, default="manual rollback", where=where),
                   from_version=_field(event, "from_version", str, default=None, where=where),
                   to_version=_field(event, "to_version", str, default=None, where=where))


class RollbackResult(TypedDict):
    version: str
    from_version: str | None
    reference: dict[str, Any]


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class FinishRequest:
    """Finish and ReleaseAfterFailure, every path's last Task: ``{"action": "finish", "execution_arn",
    "outcome", "state": <the whole state>}``.

    From the state it takes the execution input's ``lock_owner`` (the lock it releases), its
    ``trigger``, the ``error`` a Catch recorded and the ``rollback`` a failed smoke test caused.
    """

    execution_arn: str | None
    outcome: Outcome
    lock_owner: str | None = None
    trigger: str | None = None
    error: StepError | None = None
    rolled_back: Mapping[str, Any] | None = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Self:
        where = "Finish"
        outcome = _field(event, "outcome", str, default=Outcome.SUCCEEDED.value, where=where)
        if outcome not in tuple(Outcome):
            raise StepInputError(f"{where}: outcome must be one of {[o.value for o in Outcome]}, got {outcome!r}",
                                 details={"field": "outcome"})
        state = _field(event, "state", Mapping, default={}, where=where)
        rollback = state.get("rollback")
        return cls(execution_arn=_field(event, "execution_arn", str, default=None, where=where),
                   outcome=Outcome(outcome),
                   lock_owner=_field(state, "lock_owner", str, default=None, where=f"{where} state"),
                   trigger=_field(state, "trigger", str, default=None, where=f"{where} state"),
                   error=StepError.from_catch(state.get("error")),
                   rolled_back=rollback if isinstance(rollback, Mapping) else None)


class FinishResult(TypedDict):
    """At ``$.finish``: the Failed state's ``ErrorPath``/``CausePath`` read ``error`` and ``cause``."""

    outcome: str
    error: str | None
    cause: str | None
    lock_released: bool


# ---- RecoverFunction -------------------------------------------------------------------------------
class RecoverMode(StrEnum):
    HEALTH_CHECK = "scheduled"  # RecoverSchedule's Input, and `make recover`
    SMOKE_TEST = "smoke_test"  # the SmokeTest state, right after Promote


@dataclass(frozen=True)
class HealthCheckEvent:
    """The scheduled health check: ``{"mode": "scheduled"}``; recycles, then rolls back, on failure."""

    execution_arn: str | None = None


@dataclass(frozen=True)
class SmokeTestEvent:
    """SmokeTest: ``{"mode": "smoke_test", "execution_arn", "expected_version"}``: serving must answer
    with the version just promoted."""

    expected_version: str
    execution_arn: str | None = None


def recover_event(event: Any) -> HealthCheckEvent | SmokeTestEvent:
    where = "RecoverFunction"
    e = _mapping(event or {}, where)
    mode = _field(e, "mode", str, default=RecoverMode.HEALTH_CHECK.value, where=where)
    arn = _field(e, "execution_arn", str, default=None, where=where)
    if mode == RecoverMode.SMOKE_TEST:
        return SmokeTestEvent(expected_version=_field(e, "expected_version", str, where=where), execution_arn=arn)
    if mode == RecoverMode.HEALTH_CHECK:
        return HealthCheckEvent(execution_arn=arn)
    raise StepInputError(f"{where}: unknown mode {mode!r}; expected one of {[m.value for m in RecoverMode]}",
                         details={"field": "mode"})


class HealthFailure(StrEnum):
    """Why a health check failed; recovery decides on it (a broken artifact is rolled back at once,
    anything else is recycled first)."""

    NO_MODEL = "no_model"
    BROKEN_ARTIFACT = "broken_artifact"
    PREDICT_ERROR = "predict_error"  # the function raised (FunctionError)
    BAD_STATUS = "bad_status"  # it answered, with a status other than 200
    NON_FINITE = "non_finite"  # a 200 with a prediction that is not a finite number
    WRONG_VERSION = "wrong_version"  # smoke test: serving answers with another version


class HealthResult(TypedDict):
    """RecoverFunction's answer (SmokeTest's at ``$.smoke``: the Healthy choice reads ``healthy``)."""

    healthy: bool
    reason: str
    failure: str | None
    alias_version: str | None
    served_version: str | None
    prediction: float | None
    latency_ms: float | None
    actions: NotRequired[list[dict[str, Any]]]


# ---- DriftFunction and MonitorFunction --------------------------------------------------------------
@dataclass(frozen=True)
class DrainEvent:
    """DrainSchedule's Input ``{"mode": "drain"}``: start a retraining for deferred batches."""

    MODE = "drain"

    @classmethod
    def matches(cls, event: Any) -> bool:
        return isinstance(event, Mapping) and event.get("mode") == cls.MODE


class MonitorMode(StrEnum):
    SCHEDULED = "scheduled"  # MonitorSchedule's Input
    ON_DEMAND = "on_demand"  # `make monitor`


@dataclass(frozen=True)
class MonitorEvent:
    """MonitorFunction: ``{"mode": "scheduled" | "on_demand"}`` (an empty event is a scheduled run)."""

    mode: MonitorMode = MonitorMode.SCHEDULED

    @classmethod
    def from_event(cls, event: Any) -> Self:
        where = "MonitorFunction"
        mode = _field(_mapping(event or {}, where), "mode", str, default=MonitorMode.SCHEDULED.value, where=where)
        if mode not in tuple(MonitorMode):
            raise StepInputError(f"{where}: unknown mode {mode!r}; expected one of {[m.value for m in MonitorMode]}",
                                 details={"field": "mode"})
        return cls(MonitorMode(mode))
