"""EventBridge routing: which rules match, what each target service receives, the Step Functions event."""

from __future__ import annotations

import json
from typing import Any

from infra.localcloud.messaging.eventbus import (
    EventEmitter,
    EventRouter,
    ExecutionSnapshot,
    Rule,
    event_time,
    execution_status_change,
)
from infra.localcloud.messaging.workqueue import WorkQueue

ACCOUNT = "123456789012"
EVENT = {"version": "0", "id": "e-1", "detail-type": "Order Placed", "source": "shop.orders", "account": ACCOUNT,
         "time": "2026-01-01T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {"total": 150}}
FN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:recorder"


class Recorder:
    """Stands in for the SNS, SQS and Step Functions clients and the Lambda async path."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def submit(self, arn: str, payload: bytes, source: str) -> None:
        self.calls.append(("lambda", {"arn": arn, "payload": json.loads(payload), "source": source}))

    def publish(self, **kw: Any) -> None:
        self.calls.append(("sns", kw))

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict[str, str]:
        return {"QueueUrl": f"http://q/{QueueOwnerAWSAccountId}/{QueueName}"}

    def send_message(self, **kw: Any) -> None:
        self.calls.append(("sqs", kw))

    def start_execution(self, **kw: Any) -> None:
        self.calls.append(("states", kw))

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(("events", Entries[0]))
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]}


def router() -> tuple[EventRouter, WorkQueue, Recorder]:
    work, rec = WorkQueue(threads=0), Recorder()
    return EventRouter(work, submit_lambda=rec.submit, sns=rec, sqs=rec, stepfunctions=rec), work, rec


def rule(pattern: dict[str, Any] | None, *targets: dict[str, Any], enabled: bool = True) -> Rule:
    return Rule("orders", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders", pattern, list(targets), enabled)


def test_a_matching_rule_delivers_to_each_target_service_with_its_input():
    r, work, rec = router()
    left = r.route(rule({"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}},
                        {"Id": "fn", "Arn": FN},
                        {"Id": "topic", "Arn": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts", "InputPath": "$.detail"},
                        {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders.fifo",
                         "SqsParameters": {"MessageGroupId": "g1"},
                         "InputTransformer": {"InputPathsMap": {"t": "$.detail.total"}, "InputTemplate": '{"t": <t>}'}},
                        {"Id": "sm", "Arn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:flow", "Input": '{"go": 1}'}),
                   EVENT, ingestion_time="2026-01-01T12:00:00Z")
    assert left == [] and rec.calls == []  # queued, not run on the PutEvents request
    assert work.run_due() == 4
    calls = dict(rec.calls)
    assert calls["lambda"] == {"arn": FN, "payload": EVENT, "source": "events"}
    assert calls["sns"] == {"TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts", "Message": '{"total": 150}'}
    assert calls["sqs"] == {"QueueUrl": f"http://q/{ACCOUNT}/orders.fifo", "MessageBody": '{"t": 150}',
                            "MessageGroupId": "g1"}
    assert calls["states"] == {"stateMachineArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:flow",
                               "input": '{"go": 1}'}


def test_rules_that_do_not_match_are_disabled_or_are_schedules_deliver_nothing():
    r, work, rec = router()
    target = {"Id": "fn", "Arn": FN}
    assert r.route(rule({"source": ["other"]}, target), EVENT, ingestion_time="") == []
    assert r.route(rule({"source": ["shop.orders"]}, target, enabled=False), EVENT, ingestion_time="") == []
    assert r.route(rule(None, target), EVENT, ingestion_time="") == []  # a schedule rule matches no event
    assert work.run_due() == 0 and rec.calls == []


def test_targets_of_other_services_are_left_to_moto():
    r, work, _ = router()
    logs = {"Id": "logs", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/events"}
    assert r.route(rule({"source": ["shop.orders"]}, logs, {"Id": "fn", "Arn": FN}), EVENT, ingestion_time="") == [logs]
    assert work.run_due() == 1


def test_a_broken_pattern_or_transformer_is_logged_not_raised(caplog):
    r, work, _ = router()
    assert r.route(rule({"source": "shop.orders"}, {"Id": "fn", "Arn": FN}), EVENT, ingestion_time="") == []
    assert "cannot be evaluated" in caplog.text
    r.route(rule({"source": ["shop.orders"]}, {"Id": "fn", "Arn": FN, "InputPath": "$.detail[*]"}), EVENT,
            ingestion_time="")
    assert work.run_due() == 0 and "target fn not delivered" in caplog.text


def test_event_time_is_iso_8601_utc():
    assert event_time(1_767_268_800) == "2026-01-01T12:00:00Z"
    assert event_time("2026-01-01T12:00:00Z") == "2026-01-01T12:00:00Z"


def test_the_step_functions_status_change_event():
    failed = ExecutionSnapshot(
        execution_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:flow:run-1",
        state_machine_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:flow", name="run-1", status="FAILED",
        start_ms=1_767_268_800_000, stop_ms=1_767_268_801_500, input='{"a": 1}', output=None,
        error="DataQualityError", cause="too many bad rows")
    source, detail_type, detail, resources = execution_status_change(failed)
    assert (source, detail_type, resources) == ("aws.states", "Step Functions Execution Status Change",
                                                [failed.execution_arn])
    assert detail == {
        "executionArn": failed.execution_arn, "stateMachineArn": failed.state_machine_arn, "name": "run-1",
        "status": "FAILED", "startDate": 1_767_268_800_000, "stopDate": 1_767_268_801_500, "input": '{"a": 1}',
        "output": None, "inputDetails": {"included": True}, "outputDetails": None, "error": "DataQualityError",
        "cause": "too many bad rows", "redriveCount": 0, "redriveStatus": "REDRIVABLE"}


def test_the_emitter_puts_events_from_the_work_queue():
    work, rec = WorkQueue(threads=0), Recorder()
    EventEmitter(work, rec).emit("aws.cloudwatch", "CloudWatch Alarm State Change", {"alarmName": "a"}, ["arn:a"])
    assert rec.calls == []
    work.run_due()
    assert rec.calls == [("events", {"Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
                                     "Detail": '{"alarmName": "a"}', "Resources": ["arn:a"]})]
