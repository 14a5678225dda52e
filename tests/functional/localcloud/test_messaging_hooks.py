"""The messaging hooks in moto (motoseam: sns, events, stepfunctions, cloudwatch), in-process: each message is handed over once, moto delivers none.

The hooks are installed for each test only (moto is restored afterwards), with recorders in place of
the local cloud's delivery, so what moto would have done by itself is visible.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

from infra.localcloud import motoseam
from infra.localcloud.messaging.eventbus import EventRouter, Rule
from infra.localcloud.messaging.sns import Notification, Subscriber
from infra.localcloud.messaging.workqueue import WorkQueue

ACCOUNT = "123456789012"


class Sinks:
    def __init__(self) -> None:
        self.deliveries: list[tuple[Notification, Subscriber]] = []
        self.routed: list[tuple[Rule, dict[str, Any]]] = []
        self.lambda_invokes: list[tuple[str, dict[str, Any]]] = []
        self.work = WorkQueue(threads=0)
        self.router = EventRouter(self.work, submit_lambda=self.invoke, sns=None, sqs=None, stepfunctions=None)

    def invoke(self, arn: str, payload: bytes, source: str) -> None:
        self.lambda_invokes.append((arn, json.loads(payload)))

    def route(self, rule: Rule, event: dict[str, Any], **kwargs: Any) -> list[Any]:
        self.routed.append((rule, event))
        return self.router.route(rule, event, **kwargs)


@pytest.fixture
def hooked(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sinks]:
    for cls, name in motoseam.hooked_attributes():
        monkeypatch.setattr(cls, name, getattr(cls, name))  # restored after the test
    sinks = Sinks()
    motoseam.install_hooks(deliver=lambda n, s: sinks.deliveries.append((n, s)), route=sinks.route,
                      on_execution=lambda ex: None)

    def no_http(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("moto posted to an HTTP endpoint itself")

    monkeypatch.setattr(requests, "post", no_http)
    with mock_aws():
        yield sinks


def test_publish_hands_each_subscription_over_once_and_moto_delivers_nothing(hooked):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://hooks.example/x")
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:absent")
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")

    message_id = sns.publish(TopicArn=topic, Message="hello", Subject="Hi",
                             MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})["MessageId"]

    assert sorted(s.protocol for _, s in hooked.deliveries) == ["email", "https", "lambda", "sqs"]
    n = hooked.deliveries[0][0]
    assert all(other == n for other, _ in hooked.deliveries)  # one message, one publish time for every subscription
    assert (n.message_id, n.topic_arn, n.message, n.subject) == (message_id, topic, "hello", "Hi")
    assert n.attributes == {"k": {"Type": "String", "Value": "v"}}
    assert datetime.strptime(n.timestamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) <= datetime.now(UTC)
    assert {s.protocol: s.raw for _, s in hooked.deliveries}["sqs"] is True
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []  # moto's in-process copy is gone


def test_filter_policies_and_message_structure_still_apply(hooked):
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="high@example.com",
                  Attributes={"FilterPolicy": json.dumps({"severity": ["high"]})})
    sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://hooks.example/x")
    sns.publish(TopicArn=topic, Message=json.dumps({"default": "plain", "https": "for webhooks"}),
                MessageStructure="json", MessageAttributes={"severity": {"DataType": "String", "StringValue": "low"}})
    assert [(s.protocol, n.message) for n, s in hooked.deliveries] == [("https", "for webhooks")]


def test_publish_batch_goes_through_the_same_hook(hooked):
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "one"}, {"Id": "2", "Message": "two"}])
    assert [n.message for n, _ in hooked.deliveries] == ["one", "two"]


def test_put_events_with_a_lambda_target_is_routed_instead_of_failing(hooked):
    events, logs = boto3.client("events"), boto3.client("logs")
    fn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:recorder"
    logs.create_log_group(logGroupName="/events/orders")
    events.put_rule(Name="orders", EventPattern=json.dumps({"source": ["shop"], "detail": {"n": [{"numeric": [">", 1]}]}}))
    events.put_targets(Rule="orders", Targets=[
        {"Id": "fn", "Arn": fn},
        {"Id": "logs", "Arn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/events/orders"}])
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "fn", "Arn": fn}])
    events.put_rule(Name="off", EventPattern=json.dumps({"source": ["shop"]}), State="DISABLED")
    events.put_targets(Rule="off", Targets=[{"Id": "fn", "Arn": fn}])

    answer = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"n": 2})},
        {"Source": "shop", "DetailType": "Order", "Detail": json.dumps({"n": 0})},
    ])
    assert answer["FailedEntryCount"] == 0
    hooked.work.run_due()
    assert [(arn, event["detail"]) for arn, event in hooked.lambda_invokes] == [(fn, {"n": 2})]
    (_, event), *_ = hooked.lambda_invokes
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    # moto still delivers the target type it supports itself (a log group), once, for the matching event.
    stored = logs.filter_log_events(logGroupName="/events/orders")["events"]
    assert [json.loads(e["message"])["detail"] for e in stored] == [{"n": 2}]


def test_the_metric_source_matches_the_exact_dimension_set(hooked):
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    for dims, value in (([("FunctionName", "f")], 1.0), ([("FunctionName", "f"), ("Resource", "f:live")], 5.0)):
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
            "MetricName": "Errors", "Value": value, "Timestamp": now,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}])
    source = motoseam.metric_source(ACCOUNT, "us-east-1")
    t = now.timestamp()
    (only,) = source.aggregates("AWS/Lambda", "Errors", (("FunctionName", "f"),), t - 60, t + 60, None)
    assert only.total == 1.0  # moto's GetMetricStatistics would add the Resource datapoint too
    (live,) = source.aggregates("AWS/Lambda", "Errors", (("Resource", "f:live"), ("FunctionName", "f")), t - 60,
                                t + 60, None)
    assert live.total == 5.0
    assert source.aggregates("AWS/Lambda", "Errors", (("FunctionName", "f"),), t + 60, t + 120, None) == []


def test_a_new_alarm_is_insufficient_data_and_an_update_keeps_its_state(hooked):
    cloudwatch = boto3.client("cloudwatch")
    alarm = {"AlarmName": "errors", "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
             "Period": 60, "EvaluationPeriods": 1, "Threshold": 0.0, "ComparisonOperator": "GreaterThanThreshold"}
    cloudwatch.put_metric_alarm(**alarm)
    (created,) = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert (created["StateValue"], created["StateReason"]) == ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation")
    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="testing")
    cloudwatch.put_metric_alarm(**{**alarm, "Threshold": 5.0})
    (updated,) = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert (updated["StateValue"], updated["StateReason"], updated["Threshold"]) == ("ALARM", "testing", 5.0)
