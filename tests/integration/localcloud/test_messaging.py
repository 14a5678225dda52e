"""SNS delivery, EventBridge targets and emitted events, and CloudWatch alarms, through a real cloud process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.cli import free_port
from tests.integration.conftest import ROOT, RunningCloud, start_cloud, stop_cloud, wait_for

pytestmark = pytest.mark.integration

TEMPLATE = ROOT / "tests" / "fixtures" / "messaging_app" / "template.yaml"


class Webhook:
    """An HTTP endpoint that records every POST (path, headers, body) and answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for p, headers, body in self.posts if p == path]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, webhook: Webhook) -> Iterator[RunningCloud]:
    down = f"http://127.0.0.1:{free_port()}/down"  # nothing listens there
    running = start_cloud(tmp_path_factory.mktemp("messaging-cloud"), TEMPLATE, stack_name="messaging", extra=[
        "--parameter-overrides", f"WebhookUrl={webhook.url} DownWebhookUrl={down}",
        "--schedule-speedup", "10",  # a 10-second alarm period is evaluated every second
    ], env={"LOCALCLOUD_SNS_RETRY_DELAYS": "0.3,0.3,0.3"})
    yield running
    stop_cloud(running)


def received(cloud: RunningCloud, function: str = "RecorderFunction") -> list[dict[str, Any]]:
    """Every event the recorder function logged."""
    logs = cloud.client("logs")
    group = f"/aws/lambda/{cloud.physical(function)}"
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    out = []
    for e in events:
        if e["message"].startswith('{"received"'):
            out.append(json.loads(e["message"])["received"])
    return out


def sns_messages(cloud: RunningCloud) -> list[dict[str, Any]]:
    return [r["Sns"] for event in received(cloud) for r in event.get("Records", []) if r.get("EventSource") == "aws:sns"]


def drain(cloud: RunningCloud, queue_url: str) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", []):
        for message in batch:
            out.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return out


def outbox(cloud: RunningCloud) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, json.loads(p.read_text())) for p in sorted((cloud.state_dir / "outbox").glob("*.json"))]


def test_publish_reaches_every_subscriber_once_in_its_envelope(cloud, webhook):
    message = json.dumps({"text": "model v7 rolled back"})
    start = time.monotonic()
    message_id = cloud.client("sns").publish(
        TopicArn=cloud.output("AlertsTopicArn"), Message=message, Subject="Rollback",
        MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}})["MessageId"]
    assert time.monotonic() - start < 1.0

    # Lambda: the SNS event shape.
    (sns,) = wait_for(lambda: [m for m in sns_messages(cloud) if m["MessageId"] == message_id], timeout=30,
                      message="the recorder's SNS event")
    assert (sns["Type"], sns["TopicArn"], sns["Subject"], sns["Message"]) == (
        "Notification", cloud.output("AlertsTopicArn"), "Rollback", message)
    assert sns["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}

    # SQS: the notification JSON, and the bare message with RawMessageDelivery.
    copies = wait_for(lambda: drain(cloud, cloud.output("CopyQueueUrl")), message="the enveloped SQS copy")
    envelope = json.loads(copies[0]["Body"])
    assert (envelope["Type"], envelope["MessageId"], envelope["Message"]) == ("Notification", message_id, message)
    raws = wait_for(lambda: drain(cloud, cloud.output("RawQueueUrl")), message="the raw SQS copy")
    assert raws[0]["Body"] == message
    assert raws[0]["MessageAttributes"]["severity"]["StringValue"] == "high"

    # HTTP: the notification JSON with SNS's headers; raw delivery posts the message itself.
    (headers, body), = wait_for(lambda: webhook.to("/enveloped"), message="the enveloped POST")
    assert headers["x-amz-sns-message-type"] == "Notification" and headers["x-amz-sns-message-id"] == message_id
    assert headers["x-amz-sns-topic-arn"] == cloud.output("AlertsTopicArn")
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    posted = json.loads(body)
    assert {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion", "Signature",
            "SigningCertURL", "UnsubscribeURL"} <= set(posted) and posted["Message"] == message
    (_, raw_body), = wait_for(lambda: webhook.to("/raw"), message="the raw POST")
    assert json.loads(raw_body) == {"text": "model v7 rolled back"}  # what a Slack-style webhook reads

    # Email: a file in the outbox, never a mail server.
    (path, mail), = wait_for(lambda: [(p, m) for p, m in outbox(cloud) if m["to"] == "ops@example.com"],
                             message="the outbox file")
    assert path.name.endswith(f"-{message_id}.json")
    assert mail == {"to": "ops@example.com", "protocol": "email", "topic_arn": cloud.output("AlertsTopicArn"),
                    "message_id": message_id, "subject": "Rollback", "message": message,
                    "timestamp": sns["Timestamp"]}

    time.sleep(1.5)  # nothing is delivered twice (moto's own delivery is replaced, not doubled)
    assert len([m for m in sns_messages(cloud) if m["MessageId"] == message_id]) == 1
    assert drain(cloud, cloud.output("CopyQueueUrl")) == [] and drain(cloud, cloud.output("RawQueueUrl")) == []
    assert len(webhook.to("/enveloped")) == 1 and len(webhook.to("/raw")) == 1


def test_a_webhook_that_is_down_is_retried_without_blocking_publish(cloud):
    sns = cloud.client("sns")
    start = time.monotonic()
    message_id = sns.publish(TopicArn=cloud.output("DownTopicArn"), Message="anyone there?")["MessageId"]
    assert time.monotonic() - start < 1.0
    wait_for(lambda: f"SNS {message_id} to http" in cloud.terminal() and "FAILED after 4 attempt(s)" in cloud.terminal(),
             timeout=20, message="the given-up delivery in the log")
    retries = [line for line in cloud.terminal().splitlines() if f"SNS {message_id}" in line and "retrying in 0.3s" in line]
    assert len(retries) == 3  # SNS's default policy: 3 retries


def test_put_events_delivers_to_the_matching_rules_targets(cloud):
    events = cloud.client("events")
    answer = events.put_events(Entries=[
        {"Source": "fixture.shop", "DetailType": "Order Placed", "Detail": json.dumps({"total": 150, "channel": "web"})},
        {"Source": "fixture.shop", "DetailType": "Order Placed", "Detail": json.dumps({"total": 50, "channel": "web"})},
        {"Source": "fixture.shop", "DetailType": "Order Placed", "Detail": json.dumps({"total": 500, "channel": "test"})},
    ])
    assert answer["FailedEntryCount"] == 0  # moto alone answers 500 for a rule with a Lambda target
    big_id = answer["Entries"][0]["EventId"]

    orders = wait_for(lambda: [e for e in received(cloud) if e.get("source") == "fixture.shop"], timeout=30,
                      message="the matching order at the recorder")
    time.sleep(1.0)
    orders = [e for e in received(cloud) if e.get("source") == "fixture.shop"]
    assert [(e["id"], e["detail"]) for e in orders] == [(big_id, {"total": 150, "channel": "web"})]
    assert orders[0]["detail-type"] == "Order Placed" and orders[0]["time"].endswith("Z")

    # The SQS target's rule matches all three; its InputTransformer shapes each message.
    queued: list[dict[str, Any]] = []

    def three() -> bool:
        queued.extend(json.loads(m["Body"]) for m in drain(cloud, cloud.output("OrdersQueueUrl")))
        return len(queued) >= 3

    wait_for(three, message="three transformed messages")
    assert {"event": big_id, "total": 150, "text": "an order of 150"} in queued


def test_a_failed_execution_emits_an_event_that_reaches_its_target(cloud):
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=cloud.output("FailingStateMachineArn"), input='{"run": 1}')["executionArn"]
    (event,) = wait_for(lambda: [e for e in received(cloud) if e.get("source") == "aws.states"
                                 and e["detail"]["executionArn"] == arn], timeout=30, message="the FAILED event")
    assert event["detail-type"] == "Step Functions Execution Status Change" and event["resources"] == [arn]
    detail = event["detail"]
    assert (detail["status"], detail["error"], detail["cause"]) == ("FAILED", "FixtureError", "failing on purpose")
    assert detail["stateMachineArn"] == cloud.output("FailingStateMachineArn") and detail["input"] == '{"run": 1}'
    assert detail["stopDate"] >= detail["startDate"]


def test_function_errors_drive_the_alarm_and_its_sns_action_delivers(cloud):
    function = cloud.physical("ErrorFunction")
    lam, cloudwatch = cloud.client("lambda"), cloud.client("cloudwatch")
    (alarm,) = cloudwatch.describe_alarms(AlarmNamePrefix=f"{cloud.stack_name}-ErrorsAlarm")["MetricAlarms"]
    answer = lam.invoke(FunctionName=function, Qualifier="live", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    errored = time.monotonic()

    def state() -> str | None:
        (a,) = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
        return a["StateValue"] if a["StateValue"] == "ALARM" else None

    wait_for(state, timeout=10, interval=0.2, message="the alarm in ALARM")
    assert time.monotonic() - errored < 5.0

    # Its SNS action: the alarm notification reaches the topic's subscribers (a function and an email).
    (note,) = wait_for(lambda: [json.loads(m["Message"]) for m in sns_messages(cloud)
                                if m["Subject"] and m["Subject"].startswith("ALARM:")], timeout=10,
                       message="the alarm notification at the recorder")
    assert (note["AlarmName"], note["NewStateValue"]) == (alarm["AlarmName"], "ALARM")
    assert note["OldStateValue"] in ("OK", "INSUFFICIENT_DATA")
    assert note["Trigger"]["MetricName"] == "Errors" and note["Trigger"]["Namespace"] == "AWS/Lambda"
    assert {"name": "Resource", "value": f"{function}:live"} in note["Trigger"]["Dimensions"]
    assert note["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [1.0")
    mails = wait_for(lambda: [m for _, m in outbox(cloud) if m["to"] == "oncall@example.com"], message="the alarm email")
    assert json.loads(mails[0]["message"])["NewStateValue"] == "ALARM"
    assert time.monotonic() - errored < 10.0

    # And the "CloudWatch Alarm State Change" event reached its rule's target.
    (change,) = wait_for(lambda: [e for e in received(cloud) if e.get("source") == "aws.cloudwatch"], timeout=10,
                         message="the alarm state change event")
    assert change["detail"]["alarmName"] == alarm["AlarmName"] and change["detail"]["state"]["value"] == "ALARM"

    # Lambda's own metrics, per function and per alias, as AWS publishes them.
    for dimensions in ([{"Name": "FunctionName", "Value": function}],
                       [{"Name": "FunctionName", "Value": function}, {"Name": "Resource", "Value": f"{function}:live"}]):
        listed = cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations", Dimensions=dimensions)
        assert listed["Metrics"], dimensions
