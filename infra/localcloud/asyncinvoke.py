"""Asynchronous invocations (InvocationType=Event, S3 notifications, EventBridge targets).

Copies AWS's documented policy: the caller gets 202 at once; the event is queued; a function error
is retried ``MaximumRetryAttempts`` times (default 2) with growing delays (AWS waits about 1 and then
2 minutes; the delays here are configurable so a laptop and tests need not wait that long); a
throttled event waits and is tried again; after the last failure the event goes to the OnFailure
destination or DLQ when configured. A failure is always logged, never swallowed.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .runtime.errors import RuntimeStoppedError, TooManyRequestsError
from .runtime.worker import InvokeResult

logger = logging.getLogger("localcloud.async")


@dataclass
class AsyncPolicy:
    max_retry_attempts: int = 2
    max_event_age_s: float = 6 * 3600
    on_failure: str | None = None  # destination ARN (SQS, SNS, Lambda, EventBridge)
    on_success: str | None = None


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    function_arn: str = field(compare=False)
    payload: bytes = field(compare=False)
    source: str = field(compare=False)
    request_id: str = field(compare=False)
    attempt: int = field(default=0, compare=False)
    enqueued: float = field(default_factory=time.time, compare=False)


@dataclass
class AsyncFailure:
    function_arn: str
    request_id: str
    source: str
    attempts: int
    error: str
    at: str


Invoker = Callable[[str, bytes, str], InvokeResult]  # (function arn, payload, request id)
PolicyLookup = Callable[[str], AsyncPolicy]
Deliver = Callable[[str, dict[str, Any]], None]  # (destination arn, record)


class AsyncInvoker:
    def __init__(self, invoke: Invoker, policy: PolicyLookup, deliver: Deliver, *,
                 retry_delays_s: tuple[float, ...] = (60.0, 120.0), throttle_delay_s: float = 1.0,
                 threads: int = 4, clock: Callable[[], float] = time.time):
        self._invoke = invoke
        self._policy = policy
        self._deliver = deliver
        self._retry_delays = retry_delays_s
        self._throttle_delay = throttle_delay_s
        self._clock = clock
        self._heap: list[_Event] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._running = 0
        self._closed = False
        self.failures: list[AsyncFailure] = []
        self._threads = [threading.Thread(target=self._loop, name=f"async-{i}", daemon=True) for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, function_arn: str, payload: bytes, *, source: str) -> str:
        """Queue one event; returns its request id immediately (the 202 of InvocationType=Event)."""
        ev = _Event(self._clock(), next(self._seq), function_arn, payload, source, str(uuid.uuid4()))
        self._push(ev)
        logger.debug("queued %s for %s (%s)", ev.request_id, function_arn, source)
        return ev.request_id

    def _push(self, ev: _Event) -> None:
        with self._cond:
            heapq.heappush(self._heap, ev)
            self._cond.notify()

    def _next(self) -> _Event | None:
        with self._cond:
            while not self._closed:
                if self._heap:
                    wait = self._heap[0].due - self._clock()
                    if wait <= 0:
                        self._running += 1
                        return heapq.heappop(self._heap)
                    self._cond.wait(min(wait, 0.5))
                else:
                    self._cond.wait(0.5)
            return None

    def _loop(self) -> None:
        while (ev := self._next()) is not None:
            try:
                self._run(ev)
            except Exception:  # noqa: BLE001 - a bug here must not kill the queue; it is logged
                logger.exception("async invocation %s crashed the dispatcher", ev.request_id)
            finally:
                with self._cond:
                    self._running -= 1
                    self._cond.notify_all()

    def _run(self, ev: _Event) -> None:
        policy = self._policy(ev.function_arn)
        if self._clock() - ev.enqueued > policy.max_event_age_s:
            self._give_up(ev, policy, "EventAgeExceeded", None)
            return
        try:
            result = self._invoke(ev.function_arn, ev.payload, ev.request_id)
        except TooManyRequestsError:
            ev.due = self._clock() + self._throttle_delay  # AWS keeps throttled async events and retries
            self._push(ev)
            return
        except RuntimeStoppedError:
            return
        ev.attempt += 1
        if not result.function_error:
            if policy.on_success:
                self._deliver(policy.on_success, self._record(ev, result, "Success"))
            return
        error = result.payload.decode(errors="replace")[:2000]
        if ev.attempt <= policy.max_retry_attempts:
            delay = self._retry_delays[min(ev.attempt - 1, len(self._retry_delays) - 1)]
            logger.warning("async invoke of %s failed (attempt %d of %d), retrying in %.1fs: %s",
                           ev.function_arn.rsplit(":", 1)[-1], ev.attempt, policy.max_retry_attempts + 1, delay, error)
            ev.due = self._clock() + delay
            self._push(ev)
            return
        self._give_up(ev, policy, "RetriesExhausted", result)

    def _give_up(self, ev: _Event, policy: AsyncPolicy, condition: str, result: InvokeResult | None) -> None:
        error = result.payload.decode(errors="replace")[:2000] if result else condition
        logger.error("async invoke of %s FAILED after %d attempt(s) (%s, source %s, request %s): %s",
                     ev.function_arn.rsplit(":", 1)[-1], ev.attempt, condition, ev.source, ev.request_id, error)
        self.failures.append(AsyncFailure(ev.function_arn, ev.request_id, ev.source, ev.attempt, error,
                                          datetime.now(UTC).isoformat()))
        if policy.on_failure:
            try:
                self._deliver(policy.on_failure, self._record(ev, result, condition))
            except Exception:  # noqa: BLE001 - the destination failing is reported, not fatal
                logger.exception("could not deliver the failed event to %s", policy.on_failure)

    @staticmethod
    def _record(ev: _Event, result: InvokeResult | None, condition: str) -> dict[str, Any]:
        # The invocation record format AWS sends to destinations.
        try:
            request_payload: Any = json.loads(ev.payload)
        except ValueError:
            request_payload = ev.payload.decode(errors="replace")
        response: Any = None
        if result is not None:
            try:
                response = json.loads(result.payload)
            except ValueError:
                response = result.payload.decode(errors="replace")
        ctx: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if result is not None and result.function_error:
            ctx["functionError"] = result.function_error
        return {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {"requestId": ev.request_id, "functionArn": ev.function_arn,
                               "condition": condition, "approximateInvokeCount": ev.attempt},
            "requestPayload": request_payload,
            "responseContext": ctx,
            "responsePayload": response,
        }

    def idle(self) -> bool:
        with self._cond:
            return not self._heap and self._running == 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
