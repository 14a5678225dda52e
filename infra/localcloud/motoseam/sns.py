"""SNS: moto's fan-out is handed to the local cloud's SNS delivery (messaging/sns.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.sns.models import Subscription, Topic

from ..messaging.sns import Notification, Subscriber
from .patching import is_patched, replace

Deliver = Callable[[Notification, Subscriber], None]

_HOOK = "_localcloud_hook"
_publishing = threading.local()  # the publish time of the message moto is fanning out on this thread


class _Sink:
    """Where the fan-out goes: the running cloud's SNS delivery (set by every install)."""

    deliver: Deliver | None = None


_sink = _Sink()


def _sns_time(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _is_true(value: Any) -> bool:
    return str(value).lower() == "true"


def _install() -> None:
    original_topic_publish = Topic.publish

    @functools.wraps(original_topic_publish)
    def topic_publish(self: Topic, *args: Any, **kwargs: Any) -> str:
        # Every subscription of one message gets the same Timestamp: the publish time.
        _publishing.timestamp = _sns_time(datetime.now(UTC))
        try:
            return original_topic_publish(self, *args, **kwargs)
        finally:
            _publishing.timestamp = None

    def subscription_publish(self: Subscription, message: str, message_id: str, subject: str | None = None,
                             message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                             deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        # AWS sends http/https and email endpoints a SubscriptionConfirmation and delivers only once
        # it is confirmed; locally every subscription is confirmed at once (moto: PendingConfirmation false).
        notification = Notification(
            message_id=message_id, topic_arn=self.topic.arn, message=message, subject=subject,
            timestamp=getattr(_publishing, "timestamp", None) or _sns_time(datetime.now(UTC)),
            attributes={k: {"Type": v["Type"], "Value": v["Value"]} for k, v in (message_attributes or {}).items()},
            group_id=group_id, deduplication_id=deduplication_id)
        subscriber = Subscriber(self.arn, self.protocol, self.endpoint,
                                raw=_is_true(self.attributes.get("RawMessageDelivery")))
        if _sink.deliver is not None:
            _sink.deliver(notification, subscriber)

    replace(Topic, "publish", topic_publish, mark=_HOOK)
    replace(Subscription, "publish", subscription_publish, mark=_HOOK)


def install(deliver: Deliver) -> None:
    """Hand every (message, subscription) moto fans out to `deliver`, after moto's filter policy.

    AWS delivers each message once, asynchronously, in its envelopes; moto delivers inside Publish,
    synchronously: to SQS in-process, to HTTP endpoints with a bare ``requests.post`` (no timeout,
    no retry, no SNS headers), and to Lambda through its Docker path with a fixed sample event.
    ``Subscription.publish`` is replaced (after moto's filter policy and MessageStructure handling)
    and ``Topic.publish`` wrapped to give every subscription the publish time.
    Guarded by tests/unit/test_moto_seam.py::test_sns_fans_out_through_subscription_publish.
    """
    _sink.deliver = deliver
    if not is_patched(Subscription.publish, _HOOK):
        _install()


#: The moto attributes `install` replaces (a test that installs it restores them).
HOOKED: tuple[tuple[type, str], ...] = ((Topic, "publish"), (Subscription, "publish"))
