"""Suite alerts: a real alert, end to end, to a local webhook (issue #11: "within 2 s of the event").

A small HTTP server in this process stands for a Slack-compatible incoming webhook. It is
subscribed to the stack's ``AlertTopic`` through the SNS API, as ``AlertWebhookUrl`` subscribes one
(``http``, raw message delivery: the POST body is our alert JSON), and records when each POST
arrives. Then, one at a time:

- quarantines: an upload to ``incoming/`` missing a column (S3 event -> DriftFunction -> audit
  ``quarantined`` -> alert ``quarantine``), each under its own name;
- rollbacks: PromoteFunction ``{"action": "rollback", "to_version": ...}`` (audit ``rolled_back`` ->
  alert ``rollback``), production promoted back after each. With one version only, a copy of it is
  published as a second (same model, its manifest says so) so there is something to roll back to.

Per alert, from the same wall clock (the local cloud's Lambda workers run on this machine):

- decision -> webhook: the decision's audit item (``alert_sent``'s ``details.about`` names its sort
  key, which starts with its ISO time) to the POST's arrival. The event the alert is about; the
  2 s target applies to its maximum;
- publish -> webhook: the alert's ``at`` (made just before ``sns:Publish``) to arrival: SNS alone;
- trigger -> webhook: our S3 PUT (or Invoke) to arrival: what a person uploading the file would see,
  the drift check's reading of the CSV included, and, for the first upload of a run in which nothing
  invoked DriftFunction before (``--suites alerts`` alone), its cold start (about 4 s).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from context import Bench
from harness import Results, Row, fmt, median, spread_of

SUITE = "alerts"
TARGET_S = 2.0
WAIT_S = 60.0  # per alert: the webhook must have it by then
PAUSE_S = 0.5  # between uploads: one at a time means the previous invocation has ended


class Webhook:
    """An HTTP server on 127.0.0.1 recording (arrival time, body) of every POST; answers 200."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes, dict[str, str]]] = []
        self._cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()  # the whole body read: the alert has arrived
                with hook._cond:
                    hook.arrivals.append((arrived, body, dict(self.headers.items())))
                    hook._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                return  # quiet: the bench prints its own progress

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-webhook", daemon=True)
        self._thread.start()

    def wait_for(self, match: Any, timeout: float) -> tuple[float, dict[str, Any]] | None:
        """The first arrival whose body is alert JSON with ``match(message)`` true: (arrival time, message)."""
        deadline = time.time() + timeout
        seen = 0
        with self._cond:
            while True:
                for arrived, body, _ in self.arrivals[seen:]:
                    try:
                        message = json.loads(body)
                    except ValueError:
                        continue
                    if isinstance(message, dict) and match(message):
                        return arrived, message
                seen = len(self.arrivals)
                left = deadline - time.time()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _epoch(iso: str) -> float:
    """``2026-12-03T09:15:02.123456Z`` (selfheal.clock.isoformat, or a sort key's prefix) -> Unix time."""
    return datetime.strptime(iso[:27], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _decision_time(b: Bench, alert_id: str, timeout: float = 10.0) -> tuple[float, str]:
    """The time of the decision an alert is about, from its ``alert_sent`` audit item (written after
    the publish, so it may come a moment after the webhook's POST): (Unix time, the decision's sk)."""
    from selfheal.audit import AuditTrail

    assert b.cloud is not None
    trail = AuditTrail(b.cloud.client("dynamodb"), b.cloud.output("StateTableName"))
    deadline = time.time() + timeout
    while True:
        for item in trail.list(action="alert_sent", limit=50):
            details = item.get("details") or {}
            if details.get("alert_id") == alert_id and details.get("about"):
                about = str(details["about"])
                return _epoch(about.partition("#")[0]), about
        if time.time() > deadline:
            raise RuntimeError(f"no alert_sent audit item naming a decision for alert {alert_id} after {timeout:g} s")
        time.sleep(0.1)


def _sample(b: Bench, hook: Webhook, kind: str, trigger_at: float, match: Any) -> dict[str, Any]:
    got = hook.wait_for(match, WAIT_S)
    if got is None:
        raise RuntimeError(f"no {kind} alert reached the webhook within {WAIT_S:g} s")
    arrived, message = got
    decided, about = _decision_time(b, str(message["alert_id"]))
    published = _epoch(str(message["at"]))
    return {"kind": kind, "alert_id": message["alert_id"], "about": about, "summary": message.get("summary"),
            "decision_to_webhook_s": arrived - decided, "publish_to_webhook_s": arrived - published,
            "trigger_to_webhook_s": arrived - trigger_at, "trigger_to_decision_s": decided - trigger_at}


def _quarantines(b: Bench, hook: Webhook, n: int) -> list[dict[str, Any]]:
    from selfheal import datagen

    assert b.cloud is not None
    s3, bucket = b.cloud.client("s3"), b.cloud.output("DataBucketName")
    body = datagen.to_csv_bytes(datagen.drop_columns(datagen.generate(200, seed=11), ["AveRooms"]))
    run = int(time.time())
    out = []
    for i in range(n):
        key = f"incoming/bench-alert-{run}-{i:02d}.csv"
        t0 = time.time()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        out.append(_sample(b, hook, "quarantine", t0, lambda m, key=key: m.get("action") == "quarantine"
                           and (m.get("details") or {}).get("key") == key))
        # The alert arrives before DriftFunction's invocation ends; an upload right away would find
        # its environment busy and start a second one (a 4 s cold start, measured once: not the alert).
        time.sleep(PAUSE_S)
    return out


def _second_version(b: Bench, current: str) -> tuple[str, str]:
    """A complete version other than ``current`` to roll back to: an existing one, or a copy of ``current``."""
    reg = b.registry()
    others = [r["version"] for r in reg.list_versions() if r["version"] != current]
    if others:
        return others[-1], "existing"
    rec = reg.get_version(current)
    reserved = {"model_name", "version", "created_at", "metrics", "model_sha256", "model_size_bytes"}
    manifest = {k: v for k, v in rec["manifest"].items() if k not in reserved}
    manifest["bench_note"] = f"bench alerts suite: a copy of {current}, to have a version to roll back to"
    copy = reg.publish_version(reg.load_model_bytes(current), dict(rec["metrics"]), manifest)
    return copy, f"copy of {current}"


def _rollbacks(b: Bench, hook: Webhook, n: int) -> tuple[list[dict[str, Any]], str]:
    assert b.cloud is not None
    lam = b.cloud.client("lambda")
    fn = b.function_name("PromoteFunction")
    production = b.registry().production()
    if production is None:
        return [], "no production version"
    current = production["version"]
    other, how = _second_version(b, current)

    def invoke(payload: dict[str, Any]) -> dict[str, Any]:
        resp = lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
        body = json.loads(resp["Payload"].read())
        if resp.get("FunctionError"):
            raise RuntimeError(f"PromoteFunction {payload['action']} failed: {body}")
        return body

    # Production on `other`, so each sample rolls back to `current` and the suite ends where it began.
    invoke({"action": "promote", "version": other, "reason": "bench alerts: set up a rollback"})
    out = []
    try:
        for i in range(n):
            reason = f"bench alerts rollback {int(time.time())}-{i}"
            t0 = time.time()
            invoke({"action": "rollback", "to_version": current, "reason": reason})
            out.append(_sample(b, hook, "rollback", t0, lambda m, reason=reason: m.get("action") == "rollback"
                               and m.get("reason") == reason))
            if i < n - 1:
                invoke({"action": "promote", "version": other, "reason": "bench alerts: next rollback"})
    finally:
        now = b.registry().production()
        if now is None or now["version"] != current:
            invoke({"action": "promote", "version": current, "reason": "bench alerts: restore production"})
    return out, f"{other} ({how}) → {current}"


def _rows(res: Results, samples: list[dict[str, Any]], what: str, trigger: str, note: str = "") -> None:
    dec = [s["decision_to_webhook_s"] for s in samples]
    pub = [s["publish_to_webhook_s"] for s in samples]
    trig = [s["trigger_to_webhook_s"] for s in samples]
    n = len(samples)
    runs = f"{n}×1"
    res.add(Row(SUITE, f"{what}: decision (audit item) → webhook POST, median", median(dec), "s", runs=runs,
                spread=spread_of(dec, "s"), note=note))
    worst = max(dec)
    res.add(Row(SUITE, f"{what}: decision (audit item) → webhook POST, max", worst, "s", runs=runs,
                target=f"≤ {TARGET_S:g} s", met=worst <= TARGET_S,
                note=f"every one of {n} alerts {'within' if worst <= TARGET_S else 'NOT all within'} {TARGET_S:g} s"))
    res.add(Row(SUITE, f"  {what}: alert made (`at`, then sns:Publish) → webhook POST, median", median(pub), "s",
                runs=runs, spread=spread_of(pub, "s"), note=f"max {fmt(max(pub), 's')}"))
    slowest = trig.index(max(trig)) + 1
    rest = f"; without the first, max {fmt(max(trig[1:]), 's')}" if n > 1 else ""
    res.add(Row(SUITE, f"  {what}: {trigger} → webhook POST, median", median(trig), "s", runs=runs,
                spread=spread_of(trig, "s"), note=f"max {fmt(max(trig), 's')} (sample {slowest} of {n}){rest}"))


def run_alerts(b: Bench, res: Results) -> None:
    assert b.cloud is not None
    n_quarantine, n_rollback = (10, 3) if b.settings.quick else (20, 6)
    sns = b.cloud.client("sns")
    hook = Webhook()
    sub = sns.subscribe(TopicArn=b.cloud.output("AlertTopicArn"), Protocol="http", Endpoint=hook.url,
                        Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)["SubscriptionArn"]
    detail: dict[str, Any] = {"webhook": hook.url, "subscription": sub}
    res.extra["alerts"] = detail
    try:
        quarantines = _quarantines(b, hook, n_quarantine)
        detail["quarantine"] = quarantines
        _rows(res, quarantines, "quarantine alert", "S3 PUT of the upload",
              note="an upload missing AveRooms, each under its own name, one at a time")
        rollbacks, how = _rollbacks(b, hook, n_rollback)
        detail["rollback"] = rollbacks
        detail["rollback_versions"] = how
        if rollbacks:
            _rows(res, rollbacks, "rollback alert", "PromoteFunction Invoke",
                  note=f"PromoteFunction rollback {how}, promoted back between samples")
        everything = quarantines + rollbacks
        worst = max(s["decision_to_webhook_s"] for s in everything)
        res.add(Row(SUITE, "an alert reaches a local webhook within 2 s of the event (every sample, both kinds)",
                    worst, "s", runs=f"{len(everything)}×1", target=f"≤ {TARGET_S:g} s", met=worst <= TARGET_S,
                    note=f"worst decision → webhook; median {fmt(median([s['decision_to_webhook_s'] for s in everything]), 's')}"))
        detail["posts_received"] = len(hook.arrivals)
    finally:
        try:
            sns.unsubscribe(SubscriptionArn=sub)
        finally:
            hook.close()
