"""SNS delivery: each published message reaches every subscription, asynchronously, in AWS's envelopes.

Publish answers at once; each (message, subscription) pair becomes a job on the work queue. The
envelope depends on the protocol, as on AWS:

- ``lambda``: an asynchronous invocation with the SNS event (``Records[0].Sns``);
- ``sqs``: the notification JSON as the message body, or the bare message with ``RawMessageDelivery``;
- ``http``/``https``: a POST of the notification JSON (or the bare message) with the
  ``x-amz-sns-*`` headers and ``Content-Type: text/plain; charset=UTF-8``; 15 s per attempt;
- ``email``/``email-json``: a file in the local outbox (outbox.py); nothing leaves the machine.

Retries follow SNS's delivery policies. HTTP/S: the default policy, 3 retries 20 s apart
(``numRetries`` 3, ``minDelayTarget`` = ``maxDelayTarget`` = 20), retried on a timeout, a
connection error, 429 or 5xx; other 4xx answers count as delivered, as AWS counts them. Lambda and
SQS: the immediate phase of the AWS-managed policy (3 retries without delay); AWS would then go on
for 23 days. A delivery that is given up is logged with its reason.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

import requests

from .outbox import Outbox
from .workqueue import WorkQueue

logger = logging.getLogger("localcloud.sns")

DEFAULT_HTTP_RETRY_DELAYS_S = (20.0, 20.0, 20.0)  # the default HTTP/S delivery policy
MANAGED_RETRY_DELAYS_S = (0.0, 0.0, 0.0)  # AWS-managed endpoints: the immediate-retry phase
HTTP_TIMEOUT_S = 15.0  # AWS gives an HTTP/S endpoint about 15 s to answer
DEFAULT_EMAIL_SUBJECT = "AWS Notification Message"
SIGNING_CERT = "SimpleNotificationService-localcloud.pem"


@dataclass(frozen=True)
class Notification:
    """One published message, as every subscription of its topic receives it."""

    message_id: str
    topic_arn: str
    message: str  # for MessageStructure=json, already the text for the subscription's protocol
    subject: str | None
    timestamp: str  # publish time, ISO 8601 with milliseconds, e.g. 2026-01-01T12:00:00.000Z
    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # name -> {"Type", "Value"}
    group_id: str | None = None  # FIFO topics
    deduplication_id: str | None = None


@dataclass(frozen=True)
class Subscriber:
    arn: str
    protocol: str
    endpoint: str
    raw: bool = False  # RawMessageDelivery


class DeliveryFailed(Exception):
    """One delivery attempt failed; ``retryable`` says whether SNS would try again."""

    def __init__(self, reason: str, *, retryable: bool = True):
        super().__init__(reason)
        self.retryable = retryable


# ---- envelopes (no I/O) ------------------------------------------------------------------------
def _signature(n: Notification) -> str:
    # AWS signs with its certificate, which endpoints fetch from SigningCertURL. Nothing can check a
    # signature locally, so this is a digest of the string AWS signs: the right shape, not verifiable.
    to_sign = (f"Message\n{n.message}\nMessageId\n{n.message_id}\n"
               + (f"Subject\n{n.subject}\n" if n.subject else "")
               + f"Timestamp\n{n.timestamp}\nTopicArn\n{n.topic_arn}\nType\nNotification\n")
    return base64.b64encode(hashlib.sha256(to_sign.encode()).digest()).decode()


def _region(arn: str) -> str:
    return arn.split(":")[3]


def _unsubscribe_url(endpoint_url: str, sub: Subscriber) -> str:
    # Points at the local cloud, so following it really unsubscribes (AWS: sns.<region>.amazonaws.com).
    return f"{endpoint_url}/?Action=Unsubscribe&SubscriptionArn={quote(sub.arn, safe='')}"


def notification_document(n: Notification, sub: Subscriber, *, endpoint_url: str) -> dict[str, Any]:
    """The JSON body SNS sends to HTTP/S endpoints and SQS queues (and in email-json)."""
    doc: dict[str, Any] = {"Type": "Notification", "MessageId": n.message_id, "TopicArn": n.topic_arn}
    if n.subject:
        doc["Subject"] = n.subject
    doc.update({
        "Message": n.message,
        "Timestamp": n.timestamp,
        "SignatureVersion": "1",
        "Signature": _signature(n),
        "SigningCertURL": f"https://sns.{_region(n.topic_arn)}.amazonaws.com/{SIGNING_CERT}",
        "UnsubscribeURL": _unsubscribe_url(endpoint_url, sub),
    })
    if n.attributes:
        doc["MessageAttributes"] = {k: dict(v) for k, v in n.attributes.items()}
    return doc


def lambda_event(n: Notification, sub: Subscriber, *, endpoint_url: str) -> dict[str, Any]:
    """The event a subscribed function receives (note ``SigningCertUrl``/``UnsubscribeUrl``, as AWS spells them)."""
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": sub.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": n.message_id,
            "TopicArn": n.topic_arn,
            "Subject": n.subject,
            "Message": n.message,
            "Timestamp": n.timestamp,
            "SignatureVersion": "1",
            "Signature": _signature(n),
            "SigningCertUrl": f"https://sns.{_region(n.topic_arn)}.amazonaws.com/{SIGNING_CERT}",
            "UnsubscribeUrl": _unsubscribe_url(endpoint_url, sub),
            "MessageAttributes": {k: dict(v) for k, v in n.attributes.items()},
        },
    }]}


def http_request(n: Notification, sub: Subscriber, *, endpoint_url: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of the POST to an HTTP/S subscription."""
    headers = {
        "x-amz-sns-message-type": "Notification",
        "x-amz-sns-message-id": n.message_id,
        "x-amz-sns-topic-arn": n.topic_arn,
        "x-amz-sns-subscription-arn": sub.arn,
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if sub.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
        return headers, n.message.encode()
    return headers, json.dumps(notification_document(n, sub, endpoint_url=endpoint_url)).encode()


def sqs_message(n: Notification, sub: Subscriber, *, endpoint_url: str) -> dict[str, Any]:
    """SendMessage arguments (without QueueUrl) for an SQS subscription."""
    arguments: dict[str, Any] = {}
    if sub.raw:
        arguments["MessageBody"] = n.message
        if n.attributes:
            arguments["MessageAttributes"] = {k: _sqs_attribute(v) for k, v in n.attributes.items()}
    else:
        arguments["MessageBody"] = json.dumps(notification_document(n, sub, endpoint_url=endpoint_url))
    if n.group_id:
        arguments["MessageGroupId"] = n.group_id
    if n.deduplication_id:
        arguments["MessageDeduplicationId"] = n.deduplication_id
    return arguments


def _sqs_attribute(attribute: Mapping[str, str]) -> dict[str, Any]:
    data_type, value = attribute["Type"], attribute["Value"]
    if data_type.startswith("Binary"):
        return {"DataType": data_type, "BinaryValue": base64.b64decode(value)}
    return {"DataType": data_type, "StringValue": str(value)}


def email(n: Notification, sub: Subscriber, *, endpoint_url: str) -> dict[str, Any]:
    """The outbox record of an email or email-json delivery (the body AWS would mail, and its subject)."""
    body = (n.message if sub.protocol == "email"
            else json.dumps(notification_document(n, sub, endpoint_url=endpoint_url), indent=2))
    return {"to": sub.endpoint, "protocol": sub.protocol, "topic_arn": n.topic_arn, "message_id": n.message_id,
            "subject": n.subject or DEFAULT_EMAIL_SUBJECT, "message": body, "timestamp": n.timestamp}


# ---- delivery ----------------------------------------------------------------------------------
SubmitLambda = Callable[[str, bytes, str], Any]  # (function arn, payload, source): queues an async invoke
Post = Callable[..., Any]  # requests.post's signature


class SnsDelivery:
    """Delivers notifications to subscriptions on a work queue, retrying as SNS's delivery policies do."""

    def __init__(self, work: WorkQueue, *, submit_lambda: SubmitLambda, sqs: Any, outbox: Outbox, endpoint_url: str,
                 http_retry_delays_s: tuple[float, ...] = DEFAULT_HTTP_RETRY_DELAYS_S,
                 http_timeout_s: float = HTTP_TIMEOUT_S, post: Post = requests.post):
        self._work = work
        self._submit_lambda = submit_lambda
        self._sqs = sqs
        self._outbox = outbox
        self._endpoint_url = endpoint_url
        self._http_timeout_s = http_timeout_s
        self._post = post
        self._retry_delays = {"http": http_retry_delays_s, "https": http_retry_delays_s,
                              "lambda": MANAGED_RETRY_DELAYS_S, "sqs": MANAGED_RETRY_DELAYS_S}
        self._senders: dict[str, Callable[[Notification, Subscriber], None]] = {
            "lambda": self._to_lambda, "sqs": self._to_sqs, "http": self._to_http, "https": self._to_http,
            "email": self._to_outbox, "email-json": self._to_outbox,
        }
        self.delivered = 0
        self.failed = 0

    def deliver(self, n: Notification, sub: Subscriber) -> None:
        """Queue the delivery of ``n`` to ``sub``; returns at once."""
        if sub.protocol not in self._senders:
            logger.warning("SNS %s: protocol %s is not delivered locally (subscription %s)",
                           n.message_id, sub.protocol, sub.arn)
            return
        self._work.submit(partial(self._attempt, n, sub, 0), label=f"SNS delivery of {n.message_id} to {sub.endpoint}")

    def _attempt(self, n: Notification, sub: Subscriber, attempt: int) -> None:
        try:
            self._senders[sub.protocol](n, sub)
        except DeliveryFailed as err:
            self._failed(n, sub, attempt, str(err), err.retryable)
            return
        except Exception as err:  # noqa: BLE001 - any delivery error is reported with its reason, never raised
            self._failed(n, sub, attempt, f"{type(err).__name__}: {err}", True)
            return
        self.delivered += 1
        logger.debug("SNS %s delivered to %s %s", n.message_id, sub.protocol, sub.endpoint)

    def _failed(self, n: Notification, sub: Subscriber, attempt: int, reason: str, retryable: bool) -> None:
        delays = self._retry_delays.get(sub.protocol, ())
        if retryable and attempt < len(delays):
            delay = delays[attempt]
            logger.warning("SNS %s to %s %s failed (attempt %d of %d), retrying in %.1fs: %s", n.message_id,
                           sub.protocol, sub.endpoint, attempt + 1, len(delays) + 1, delay, reason)
            self._work.submit(partial(self._attempt, n, sub, attempt + 1), delay_s=delay,
                              label=f"SNS delivery of {n.message_id} to {sub.endpoint}")
            return
        self.failed += 1
        logger.error("SNS %s to %s %s FAILED after %d attempt(s): %s", n.message_id, sub.protocol, sub.endpoint,
                     attempt + 1, reason)

    # ---- one sender per protocol --------------------------------------------------------------
    def _to_lambda(self, n: Notification, sub: Subscriber) -> None:
        event = lambda_event(n, sub, endpoint_url=self._endpoint_url)
        self._submit_lambda(sub.endpoint, json.dumps(event).encode(), "sns")

    def _to_sqs(self, n: Notification, sub: Subscriber) -> None:
        parts = sub.endpoint.split(":")
        url = self._sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        self._sqs.send_message(QueueUrl=url, **sqs_message(n, sub, endpoint_url=self._endpoint_url))

    def _to_http(self, n: Notification, sub: Subscriber) -> None:
        headers, body = http_request(n, sub, endpoint_url=self._endpoint_url)
        try:
            response = self._post(sub.endpoint, data=body, headers=headers, timeout=self._http_timeout_s)
        except requests.Timeout as err:
            raise DeliveryFailed(f"no answer within {self._http_timeout_s:g}s") from err
        except requests.RequestException as err:
            raise DeliveryFailed(f"{type(err).__name__}: {err}") from err
        status = int(response.status_code)
        if status == 429 or status >= 500:
            raise DeliveryFailed(f"the endpoint answered HTTP {status}")
        if status >= 400:
            # AWS counts a 4xx answer as delivered and does not retry it; say so, since the endpoint refused.
            logger.warning("SNS %s: %s answered HTTP %d (SNS does not retry client errors)", n.message_id,
                           sub.endpoint, status)

    def _to_outbox(self, n: Notification, sub: Subscriber) -> None:
        path = self._outbox.write(email(n, sub, endpoint_url=self._endpoint_url))
        logger.info("SNS %s: %s to %s written to %s", n.message_id, sub.protocol, sub.endpoint, path)
