"""SNS delivery: AWS's envelopes per protocol, the HTTP retry policy (fake clock), and the local outbox."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from infra.localcloud.messaging.outbox import Outbox
from infra.localcloud.messaging.sns import (
    DEFAULT_HTTP_RETRY_DELAYS_S,
    Notification,
    SnsDelivery,
    Subscriber,
    http_request,
    lambda_event,
    notification_document,
    sqs_message,
)
from infra.localcloud.messaging.workqueue import WorkQueue

ENDPOINT = "http://127.0.0.1:4566"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
N = Notification(message_id="m-1", topic_arn=TOPIC, message='{"text": "model v7 rolled back"}', subject="Rollback",
                 timestamp="2026-01-01T12:00:00.000Z", attributes={"severity": {"Type": "String", "Value": "high"}})


def sub(protocol: str, endpoint: str, *, raw: bool = False) -> Subscriber:
    return Subscriber(f"{TOPIC}:{protocol}-sub", protocol, endpoint, raw)


def test_the_notification_document_has_awss_fields():
    doc = notification_document(N, sub("https", "https://hooks.example/x"), endpoint_url=ENDPOINT)
    assert list(doc) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert doc["Type"] == "Notification" and doc["Message"] == N.message and doc["Subject"] == "Rollback"
    assert doc["SigningCertURL"].startswith("https://sns.us-east-1.amazonaws.com/")
    assert doc["UnsubscribeURL"] == (f"{ENDPOINT}/?Action=Unsubscribe&SubscriptionArn="
                                     "arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aalerts%3Ahttps-sub")
    assert doc["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}
    bare = notification_document(Notification("m-2", TOPIC, "hi", None, N.timestamp), sub("sqs", "q"),
                                 endpoint_url=ENDPOINT)
    assert "Subject" not in bare and "MessageAttributes" not in bare


def test_the_lambda_event_is_the_sns_event_shape():
    event = lambda_event(N, sub("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f"), endpoint_url=ENDPOINT)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == f"{TOPIC}:lambda-sub"
    sns = record["Sns"]
    assert (sns["Type"], sns["MessageId"], sns["TopicArn"], sns["Subject"], sns["Message"], sns["Timestamp"]) == (
        "Notification", "m-1", TOPIC, "Rollback", N.message, N.timestamp)
    assert {"SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(sns)  # "Url", as Lambda spells it
    assert sns["MessageAttributes"] == {"severity": {"Type": "String", "Value": "high"}}
    no_subject = lambda_event(Notification("m-2", TOPIC, "hi", None, N.timestamp), sub("lambda", "f"),
                              endpoint_url=ENDPOINT)
    assert no_subject["Records"][0]["Sns"]["Subject"] is None


def test_http_headers_and_bodies_enveloped_and_raw():
    headers, body = http_request(N, sub("http", "http://h/x"), endpoint_url=ENDPOINT)
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == "m-1" and headers["x-amz-sns-topic-arn"] == TOPIC
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert json.loads(body)["Message"] == N.message
    raw_headers, raw_body = http_request(N, sub("http", "http://h/x", raw=True), endpoint_url=ENDPOINT)
    assert raw_body == N.message.encode()  # a Slack-style webhook gets our JSON with its "text" as is
    assert raw_headers["x-amz-sns-rawdelivery"] == "true"


def test_sqs_bodies_enveloped_and_raw_with_attributes():
    enveloped = sqs_message(N, sub("sqs", "arn:aws:sqs:us-east-1:123456789012:q"), endpoint_url=ENDPOINT)
    assert json.loads(enveloped["MessageBody"])["TopicArn"] == TOPIC and "MessageAttributes" not in enveloped
    binary = Notification("m-3", TOPIC, "raw", None, N.timestamp, attributes={
        "n": {"Type": "Number", "Value": "5"}, "b": {"Type": "Binary", "Value": base64.b64encode(b"\x01").decode()}},
        group_id="g", deduplication_id="d")
    raw = sqs_message(binary, sub("sqs", "arn:aws:sqs:us-east-1:123456789012:q.fifo", raw=True), endpoint_url=ENDPOINT)
    assert raw["MessageBody"] == "raw"
    assert raw["MessageAttributes"] == {"n": {"DataType": "Number", "StringValue": "5"},
                                        "b": {"DataType": "Binary", "BinaryValue": b"\x01"}}
    assert (raw["MessageGroupId"], raw["MessageDeduplicationId"]) == ("g", "d")


# ---- delivery, with a fake clock and fake endpoints -------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_767_268_800.0

    def __call__(self) -> float:
        return self.now


class Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def get_queue_url(self, QueueName, QueueOwnerAWSAccountId):
        return {"QueueUrl": f"{ENDPOINT}/{QueueOwnerAWSAccountId}/{QueueName}"}

    def send_message(self, **arguments):
        self.sent.append(arguments)


@pytest.fixture
def rig(tmp_path):
    clock = Clock()
    work = WorkQueue(threads=0, clock=clock)
    answers: list[Any] = []
    posts: list[tuple[str, dict[str, str], bytes, float]] = []
    invoked: list[tuple[str, dict[str, Any], str]] = []

    def post(url, data, headers, timeout):
        posts.append((url, headers, data, timeout))
        answer = answers.pop(0) if answers else Answer(200)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sqs = FakeSqs()
    delivery = SnsDelivery(work, submit_lambda=lambda arn, payload, source: invoked.append((arn, json.loads(payload), source)),
                           sqs=sqs, outbox=Outbox(tmp_path / "outbox", clock=clock), endpoint_url=ENDPOINT, post=post)

    class Rig:
        pass

    r = Rig()
    r.clock, r.work, r.answers, r.posts, r.invoked, r.sqs, r.delivery, r.outbox = (
        clock, work, answers, posts, invoked, sqs, delivery, tmp_path / "outbox")
    return r


def test_delivery_is_queued_not_done_on_the_publishers_thread(rig):
    rig.delivery.deliver(N, sub("lambda", "arn:aws:lambda:us-east-1:123456789012:function:f"))
    rig.delivery.deliver(N, sub("sqs", "arn:aws:sqs:us-east-1:123456789012:q"))
    assert rig.invoked == [] and rig.sqs.sent == []
    assert rig.work.run_due() == 2
    ((arn, event, source),) = rig.invoked
    assert arn.endswith(":function:f") and source == "sns" and event["Records"][0]["Sns"]["MessageId"] == "m-1"
    (sent,) = rig.sqs.sent
    assert sent["QueueUrl"] == f"{ENDPOINT}/123456789012/q" and json.loads(sent["MessageBody"])["MessageId"] == "m-1"


def test_a_failing_webhook_is_retried_three_times_20_s_apart_then_given_up(rig, caplog):
    rig.answers.extend([requests.ConnectionError("refused"), Answer(500), Answer(503), requests.Timeout("slow")])
    rig.delivery.deliver(N, sub("https", "https://hooks.example/down"))
    assert rig.work.run_due() == 1
    for _ in range(3):
        assert rig.work.run_due() == 0  # nothing before the retry delay
        rig.clock.now += DEFAULT_HTTP_RETRY_DELAYS_S[0]
        assert rig.work.run_due() == 1
    rig.clock.now += 3600
    assert rig.work.run_due() == 0 and len(rig.posts) == 4  # 1 + numRetries 3
    assert all(timeout == 15.0 for *_, timeout in rig.posts)
    assert "FAILED after 4 attempt(s): no answer within 15s" in caplog.text
    assert "retrying in 20.0s: the endpoint answered HTTP 500" in caplog.text


def test_a_webhook_that_recovers_gets_the_message_once(rig):
    rig.answers.extend([Answer(502), Answer(200)])
    rig.delivery.deliver(N, sub("http", "http://hooks.example/flaky"))
    rig.work.run_due()
    rig.clock.now += 20
    rig.work.run_due()
    rig.clock.now += 3600
    rig.work.run_due()
    assert len(rig.posts) == 2 and rig.delivery.delivered == 1 and rig.delivery.failed == 0


def test_client_errors_are_not_retried_as_aws_counts_them_delivered(rig, caplog):
    rig.answers.append(Answer(404))
    rig.delivery.deliver(N, sub("http", "http://hooks.example/gone"))
    rig.work.run_due()
    rig.clock.now += 3600
    rig.work.run_due()
    assert len(rig.posts) == 1 and "answered HTTP 404" in caplog.text


def test_email_goes_to_the_outbox_one_file_per_recipient(rig):
    rig.delivery.deliver(N, sub("email", "ops@example.com"))
    rig.delivery.deliver(N, sub("email-json", "audit@example.com"))
    rig.work.run_due()
    files = sorted(rig.outbox.glob("*.json"))
    assert [f.name for f in files] == ["20260101T120000.000000Z-m-1.json", "20260101T120000.000001Z-m-1.json"]
    mails = Outbox(rig.outbox).messages()
    assert mails[0] == {"to": "ops@example.com", "protocol": "email", "topic_arn": TOPIC, "message_id": "m-1",
                        "subject": "Rollback", "message": N.message, "timestamp": N.timestamp}
    assert mails[1]["protocol"] == "email-json" and json.loads(mails[1]["message"])["Message"] == N.message
    assert not list(rig.outbox.glob(".*"))  # no temporary file left behind


def test_protocols_not_delivered_locally_are_logged(rig, caplog):
    rig.delivery.deliver(N, sub("sms", "+15555550100"))
    assert rig.work.pending() == 0 and "protocol sms is not delivered locally" in caplog.text
