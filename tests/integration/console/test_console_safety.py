"""Safety of the console's human actions (issue 16, item 7), against the running console.

Promoting a version Validate rejected needs an explicit override with a reason, which PromoteFunction
audits; "Start again" takes the retraining lock and respects the cooldown (or overrides it, with a
reason) and is audited as ``retrain_started``; mutating requests from another site's page are refused.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from selfheal.audit import AuditTrail
from selfheal.clock import isoformat
from selfheal.locks import Cooldown, RetrainingLock
from selfheal.registry import ModelRegistry
from tests.integration.conftest import wait_for
from tests.integration.console.conftest import MODEL, Console

pytestmark = pytest.mark.integration

REJECTION = "holdout R² 0.718 below the minimum 0.80"


def post(console: Console, path: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    req = urllib.request.Request(f"{console.url}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Console-Token": console.token,
                                          **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def audit(console: Console, action: str) -> list[dict[str, Any]]:
    return list(AuditTrail(console.cloud.client("dynamodb"), console.cloud.output("StateTableName"))
                .list(action=action, limit=50))


def registry(console: Console) -> ModelRegistry:
    return ModelRegistry(console.cloud.client("s3"), console.cloud.output("ModelBucketName"), MODEL)


def rejected_version(console: Console) -> str:
    """A new version (production's bytes, a low R²) that RecordRejection marked rejected, as Validate would."""
    reg = registry(console)
    prod = reg.production()["version"]
    metrics = {**reg.get_version(prod)["metrics"], "r2": 0.718}
    version = reg.publish_version(reg.load_model_bytes(prod), metrics, {"trigger": "console-safety-test",
                                                                        "parent_version": prod})
    resp = console.cloud.client("lambda").invoke(
        FunctionName=console.cloud.output("PromoteFunctionName"),
        Payload=json.dumps({"action": "reject", "version": version, "reasons": [REJECTION], "execution_arn": None}))
    assert not resp.get("FunctionError"), resp["Payload"].read()
    assert reg.version_status(version) == "rejected"
    return version


def back_to(console: Console, version: str) -> None:
    status, body = post(console, "/api/models/rollback", {"reason": "console safety test clean-up",
                                                          "to_version": version})
    assert status == 200, body


@contextmanager
def drift_cooldown(console: Console, hours: str) -> Iterator[None]:
    """The DriftFunction's COOLDOWN_HOURS (a template parameter), as an operator would set it."""
    lam, name = console.cloud.client("lambda"), console.cloud.physical("DriftFunction")
    env = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**env, "COOLDOWN_HOURS": hours}})
    try:
        yield
    finally:
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})


@pytest.fixture(scope="module")
def failed_run(console: Console) -> dict[str, str]:
    """A self-healing execution that fails fast (no batches): starting it again is cheap."""
    sfn = console.cloud.client("stepfunctions")
    name = f"safety-source-{uuid.uuid4().hex[:6]}"
    arn = sfn.start_execution(stateMachineArn=console.cloud.output("StateMachineArn"), name=name,
                              input=json.dumps({"trigger": "manual"}))["executionArn"]
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, message="the source run")
    return {"arn": arn, "name": name}


def wait_ended(console: Console, arn: str) -> None:
    sfn = console.cloud.client("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, message=f"{arn} to end")


def lock_holder(console: Console) -> Any:
    return RetrainingLock(console.cloud.client("dynamodb"), console.cloud.output("StateTableName")).holder()


def claim_cooldown_now(console: Console) -> str:
    """A drift-triggered retraining started just now (the drift function's claim); returns its start."""
    cooldown = Cooldown(console.cloud.client("dynamodb"), console.cloud.output("StateTableName"))
    return cooldown.claim(0, reason="drift")["started_at"]


# ---- promote a rejected version ---------------------------------------------------------------

def test_promoting_a_rejected_version_is_refused_without_an_override(console: Console) -> None:
    version = rejected_version(console)
    before = console.production()["version"]
    for body in ({"version": version}, {"version": version, "override": True, "override_reason": "  "},
                 {"version": version, "override_reason": "no override flag"}):
        status, resp = post(console, "/api/models/promote", body)
        assert status == 409, resp
        assert resp["detail"]["rejected_because"] == REJECTION
        message = resp["detail"]["message"]
        assert f"{version} was rejected by Validate: {REJECTION}" in message and "override_reason" in message
    assert console.production()["version"] == before
    assert registry(console).version_status(version) == "rejected"


def test_an_override_with_a_reason_promotes_it_and_is_audited(console: Console) -> None:
    version = rejected_version(console)
    before = console.production()["version"]
    seen = {a["sk"] for a in audit(console, "promoted")}
    status, resp = post(console, "/api/models/promote", {"version": version, "override": True,
                                                         "override_reason": "on-call accepts it for the holiday data"})
    assert status == 200, resp
    assert resp["version"] == version and resp["overrode_rejection"] == REJECTION
    try:
        assert console.production()["version"] == version
        new = [a for a in audit(console, "promoted") if a["sk"] not in seen]
        assert len(new) == 1, new
        assert new[0]["reason"] == (f"{before} -> {version} (promoted from the console; overrides the rejection "
                                    f"[{REJECTION}]: on-call accepts it for the holiday data)")
        assert new[0]["details"]["version"] == version
        # The alias history keeps it too (the rejection mark itself is cleared by the promotion).
        assert "overrides the rejection" in console.production()["history"][0]["reason"]
    finally:
        back_to(console, before)


def test_the_promote_dialog_shows_the_rejection_and_asks_for_the_override_reason(page, console: Console) -> None:
    version = rejected_version(console)
    before = console.production()["version"]
    seen = {a["sk"] for a in audit(console, "promoted")}
    page.goto(f"{console.url}/#/models")
    row = page.locator(f"#versions tr[data-version={version}]")
    expect(row).to_have_attribute("data-status", "rejected")
    row.locator(f"[data-promote={version}]").click()
    expect(page.locator("#modal-title")).to_have_text(f"Override the rejection of {version}?")
    expect(page.locator("#rejection-reason")).to_have_text(REJECTION)
    ok = page.locator("#modal-ok")
    expect(ok).to_be_disabled()  # no reason, no override
    page.fill("#override-reason", "   ")
    expect(ok).to_be_disabled()
    page.fill("#override-reason", "browser override: R² is fine for this segment")
    expect(ok).to_be_enabled()
    expect(ok).to_have_text("Override and promote")
    ok.click()
    try:
        expect(page.locator("#production-version")).to_have_text(version)
        new = [a for a in audit(console, "promoted") if a["sk"] not in seen]
        assert len(new) == 1 and f"[{REJECTION}]: browser override: R² is fine for this segment" in new[0]["reason"]
        page.goto(f"{console.url}/#/audit?action=promoted")
        expect(page.locator("#audit li").first).to_contain_text("overrides the rejection")
    finally:
        back_to(console, before)


def test_a_version_nobody_rejected_needs_no_override(console: Console) -> None:
    reg = registry(console)
    before = reg.production()["version"]
    version = reg.publish_version(reg.load_model_bytes(before), reg.get_version(before)["metrics"],
                                  {"trigger": "console-safety-test", "parent_version": before})
    status, resp = post(console, "/api/models/promote", {"version": version})
    assert status == 200 and resp["version"] == version and resp["overrode_rejection"] is None, resp
    back_to(console, before)


# ---- start again: lock, cooldown, audit ---------------------------------------------------------

def test_start_again_inside_the_cooldown_is_refused_naming_its_end(console: Console, failed_run) -> None:
    sfn = console.cloud.client("stepfunctions")
    runs = {e["name"] for e in sfn.list_executions(stateMachineArn=console.cloud.output("StateMachineArn"))["executions"]}
    seen = {a["sk"] for a in audit(console, "retrain_started")}
    with drift_cooldown(console, "1"):
        started = claim_cooldown_now(console)
        status, resp = post(console, "/api/execution/restart", {"arn": failed_run["arn"]})
        assert status == 409, resp
        end = isoformat(datetime.fromisoformat(started) + timedelta(hours=1))
        assert resp["detail"]["error"] == "cooldown_active" and resp["detail"]["cooldown_ends"] == end
        assert f"cooldown (1 h) is active until {end}" in resp["detail"]["message"]
        # Overriding needs a reason.
        status, resp = post(console, "/api/execution/restart", {"arn": failed_run["arn"], "override_cooldown": True})
        assert status == 422 and "override_reason" in resp["detail"], resp
    after = {e["name"] for e in sfn.list_executions(stateMachineArn=console.cloud.output("StateMachineArn"))["executions"]}
    assert after == runs, "a refused start started nothing"
    assert not [a for a in audit(console, "retrain_started") if a["sk"] not in seen]
    assert lock_holder(console) is None, "a refused start leaves the lock free"
    refusal = audit(console, "retrain_skipped_cooldown")[0]
    assert "started again from the console" in refusal["reason"] and end in refusal["reason"]


def test_start_again_overriding_the_cooldown_is_audited_with_the_reason(console: Console, failed_run) -> None:
    with drift_cooldown(console, "1"):
        started = claim_cooldown_now(console)
        status, resp = post(console, "/api/execution/restart", {
            "arn": failed_run["arn"], "override_cooldown": True, "override_reason": "upstream data fixed, on-call"})
        assert status == 200, resp
    arn = resp["arn"]
    assert resp["cooldown_overridden"] is True
    item = next(a for a in audit(console, "retrain_started") if a.get("execution_arn") == arn)
    end = isoformat(datetime.fromisoformat(started) + timedelta(hours=1))
    assert item["reason"] == (f"started again from the console (same input as {failed_run['name']}); the cooldown "
                              f"(1 h, active until {end}) was overridden: upstream data fixed, on-call")
    assert item["details"]["cooldown_overridden"] is True
    assert item["details"]["override_reason"] == "upstream data fixed, on-call"
    assert item["details"]["started_again_from"] == failed_run["arn"]
    # The console took the lock for the new run; its Finish state released it.
    wait_ended(console, arn)
    assert lock_holder(console) is None


def test_start_again_outside_the_cooldown_takes_the_lock_and_is_audited(console: Console, failed_run) -> None:
    ddb, table = console.cloud.client("dynamodb"), console.cloud.output("StateTableName")
    lock = RetrainingLock(ddb, table)
    lock.acquire("another-retraining", 60)
    try:
        status, resp = post(console, "/api/execution/restart", {"arn": failed_run["arn"]})
        assert status == 409 and resp["detail"]["error"] == "lock_held", resp
        assert "another-retraining" in resp["detail"]["message"]
    finally:
        assert lock.release("another-retraining")
    before = Cooldown(ddb, table).last_started()
    status, resp = post(console, "/api/execution/restart", {"arn": failed_run["arn"]})  # CooldownHours=0
    assert status == 200 and resp["cooldown_overridden"] is False, resp
    item = next(a for a in audit(console, "retrain_started") if a.get("execution_arn") == resp["arn"])
    assert item["reason"] == f"started again from the console (same input as {failed_run['name']})"
    assert item["details"]["cooldown_overridden"] is False and item["details"]["source"] == "console"
    assert before is None or Cooldown(ddb, table).last_started() > before, "the start claimed the cooldown"
    wait_ended(console, resp["arn"])
    assert lock_holder(console) is None


def test_the_start_again_dialog_offers_a_cooldown_override(page, console: Console, failed_run) -> None:
    with drift_cooldown(console, "1"):
        claim_cooldown_now(console)
        page.goto(f"{console.url}/#/execution?arn={failed_run['arn']}")
        page.click("#start-again")
        refusal = page.locator("#cooldown-refusal")
        expect(refusal).to_contain_text("cooldown (1 h) is active until")
        ok = page.locator("#modal-ok")
        expect(ok).to_be_disabled()
        page.fill("#cooldown-override-reason", "browser: retrain now")
        ok.click()
        page.wait_for_url(re.compile(r"#/execution\?arn=.*-again-"))
    arn = page.evaluate("decodeURIComponent(location.hash.split('arn=')[1])")
    item = next(a for a in audit(console, "retrain_started") if a.get("execution_arn") == arn)
    assert item["reason"].endswith("was overridden: browser: retrain now")
    wait_ended(console, arn)


# ---- cross-site requests ----------------------------------------------------------------------

def test_another_sites_page_cannot_act_even_with_the_token(console: Console) -> None:
    before = console.production()["version"]
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": console.url.rsplit(":", 1)[0] + ":1"}):
        status, resp = post(console, "/api/models/rollback", {"reason": "csrf"}, **headers)
        assert status == 403 and resp["detail"].startswith("refused: the request came from"), resp
    assert console.production()["version"] == before
    # The console's own page, and a script without either header, are served.
    status, _ = post(console, "/api/session", {"token": console.token}, Origin=console.url,
                     **{"Sec-Fetch-Site": "same-origin"})
    assert status == 200
