"""EventBridge on the local cloud: rules matched by event pattern, targets delivered, AWS events emitted.

:class:`EventRouter` decides, for one rule and one event, whether the rule matches (patterns.py)
and delivers its Lambda, SNS, SQS and Step Functions targets with their input (transform.py). It is
called for every rule of the bus an event is put on (PutEvents, and the events the local cloud
emits); targets of other services are handed back to moto, which delivers log groups, archives and
other buses itself.

:class:`EventEmitter` puts the events AWS services emit on the default bus, e.g. Step Functions'
"Step Functions Execution Status Change" (:func:`execution_status_change`) and CloudWatch's
"CloudWatch Alarm State Change" (alarms.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from .patterns import PatternError, matches
from .transform import TransformError, target_input
from .workqueue import WorkQueue

logger = logging.getLogger("localcloud.events")

SubmitLambda = Callable[[str, bytes, str], Any]  # (function arn, payload, source): queues an async invoke


@dataclass(frozen=True)
class Rule:
    """What routing needs to know of one rule."""

    name: str
    arn: str
    pattern: Mapping[str, Any] | None  # None: a schedule rule, which no event matches
    targets: Sequence[Mapping[str, Any]]
    enabled: bool = True


def event_time(value: Any) -> str:
    """EventBridge's ``time``: ISO 8601 in UTC to the second (moto keeps seconds since the epoch)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


class EventRouter:
    def __init__(self, work: WorkQueue, *, submit_lambda: SubmitLambda, sns: Any, sqs: Any, stepfunctions: Any):
        self._work = work
        self._submit_lambda = submit_lambda
        self._sns = sns
        self._sqs = sqs
        self._stepfunctions = stepfunctions
        self._senders: dict[str, Callable[[Mapping[str, Any], str], None]] = {
            "lambda": self._to_lambda, "sns": self._to_sns, "sqs": self._to_sqs, "states": self._to_state_machine,
        }

    def route(self, rule: Rule, event: Mapping[str, Any], *, ingestion_time: str,
              transform: bool = True) -> list[Mapping[str, Any]]:
        """Deliver ``event`` to the targets of ``rule`` if it matches; returns the targets left to moto."""
        if not rule.enabled or rule.pattern is None:
            return []
        try:
            if not matches(rule.pattern, event):
                return []
        except PatternError as err:
            logger.error("rule %s: its event pattern cannot be evaluated: %s", rule.name, err)
            return []
        left: list[Mapping[str, Any]] = []
        for target in rule.targets:
            arn = str(target.get("Arn", ""))
            send = self._senders.get(arn.split(":")[2] if arn.count(":") >= 5 else "")
            if send is None:
                left.append(target)
                continue
            try:
                payload = (target_input(target, event, rule_arn=rule.arn, rule_name=rule.name,
                                        ingestion_time=ingestion_time)
                           if transform else json.dumps(event))
            except TransformError as err:
                logger.error("rule %s: target %s not delivered: %s", rule.name, target.get("Id"), err)
                continue
            self._work.submit(partial(send, target, payload),
                              label=f"rule {rule.name}: delivery of event {event.get('id')} to {arn}")
        return left

    # ---- one sender per target service; each runs on the work queue -------------------------
    def _to_lambda(self, target: Mapping[str, Any], payload: str) -> None:
        self._submit_lambda(str(target["Arn"]), payload.encode(), "events")

    def _to_sns(self, target: Mapping[str, Any], payload: str) -> None:
        self._sns.publish(TopicArn=target["Arn"], Message=payload)

    def _to_sqs(self, target: Mapping[str, Any], payload: str) -> None:
        parts = str(target["Arn"]).split(":")
        url = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        arguments: dict[str, Any] = {"QueueUrl": url, "MessageBody": payload}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            arguments["MessageGroupId"] = group
        self._sqs.send_message(**arguments)

    def _to_state_machine(self, target: Mapping[str, Any], payload: str) -> None:
        self._stepfunctions.start_execution(stateMachineArn=target["Arn"], input=payload)


class EventEmitter:
    """Puts service events on the default bus, from a work-queue thread (never the caller's)."""

    def __init__(self, work: WorkQueue, events: Any):
        self._work = work
        self._events = events

    def emit(self, source: str, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]) -> None:
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail),
                 "Resources": list(resources)}
        self._work.submit(partial(self._put, entry), label=f"{detail_type} event for {', '.join(resources)}")

    def _put(self, entry: dict[str, Any]) -> None:
        answer = self._events.put_events(Entries=[entry])
        if answer.get("FailedEntryCount"):
            logger.error("%s event not accepted: %s", entry["DetailType"], answer.get("Entries"))


# ---- Step Functions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ExecutionSnapshot:
    """An execution as its status-change event describes it."""

    execution_arn: str
    state_machine_arn: str
    name: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    start_ms: int | None
    stop_ms: int | None
    input: str | None
    output: str | None
    error: str | None
    cause: str | None
    redrive_count: int = 0


EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
_REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")


def execution_status_change(execution: ExecutionSnapshot) -> tuple[str, str, dict[str, Any], list[str]]:
    """AWS's "Step Functions Execution Status Change" event: (source, detail type, detail, resources)."""
    return "aws.states", EXECUTION_STATUS_CHANGE, execution_status_detail(execution), [execution.execution_arn]


def execution_status_detail(execution: ExecutionSnapshot) -> dict[str, Any]:
    """The ``detail`` of the "Step Functions Execution Status Change" event."""
    ended = execution.status != "RUNNING"
    return {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": execution.start_ms,
        "stopDate": execution.stop_ms if ended else None,
        "input": execution.input,
        "output": execution.output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
        "redriveCount": execution.redrive_count,
        "redriveStatus": "REDRIVABLE" if execution.status in _REDRIVABLE else "NOT_REDRIVABLE",
    }
