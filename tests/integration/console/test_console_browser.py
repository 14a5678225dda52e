"""Acceptance of the execution console (issue 4), in a real headless Chromium.

One local cloud for the module: bootstrap trains v0001, the console runs as a second ``--after``
command. The tests run in order, as a user's session would: start an execution and watch it,
read a failed one, roll back, follow a drift report, and screenshot the main pages.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.integration.console.conftest import Console, wait_until

pytestmark = pytest.mark.integration

# A batch missing the AveOccup column: FixData raises a data-quality error, Catch -> Quarantine.
MALFORMED = b"MedInc,HouseAge,AveRooms,AveBedrms,Population,Latitude,Longitude,MedHouseVal\n" + \
    b"3.2,29.0,4.0,0.9,1693.0,37.1,-122.1,0.7\n" * 20


def shot(page, console: Console, name: str) -> None:
    path = console.shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"screenshot {path} is blank"


@pytest.fixture(scope="module")
def drift_batch(console: Console) -> str:
    """Upload a labelled, undrifted batch early: the drift function works while other tests run."""
    from selfheal.datagen import generate, to_csv_bytes

    key = "incoming/console-clean.csv"
    console.cloud.client("s3").put_object(Bucket=console.cloud.output("DataBucketName"), Key=key,
                                          Body=to_csv_bytes(generate(1500, seed=7)))
    return key


def test_1_open_console(page, console: Console, drift_batch: str) -> None:
    page.goto(console.url)
    assert page.locator("#conn").inner_text(timeout=10_000) != ""
    page.wait_for_selector("#conn.up")
    # The token link unlocked actions for this browser, and the bootstrap run is listed.
    page.wait_for_selector("#auth-state[data-authorized=true]")
    row = page.locator("#executions tbody tr[data-status=SUCCEEDED]").first
    assert "bootstrap" in row.inner_text()
    shot(page, console, "executions")


def test_2_start_execution_and_watch_it_succeed_live(page, console: Console) -> None:
    page.goto(f"{console.url}/#/executions")
    page.click("#start-execution")
    editor = page.locator("#execution-input")
    text = json.loads(editor.input_value())
    assert text["batches"][0]["bucket"] == console.cloud.output("DataBucketName")
    page.fill("#start-name", "from-the-browser")
    page.click("#modal-ok")
    # The page navigates to the new execution and follows it without a reload.
    page.wait_for_url(re.compile(r"#/execution\?arn=.*from-the-browser"))
    page.wait_for_selector("#execution-status [data-status=RUNNING]", timeout=10_000)
    reloads: list[str] = []
    page.on("framenavigated", lambda f: reloads.append(f.url) if f == page.main_frame else None)
    page.wait_for_selector("#execution-status [data-status=SUCCEEDED]", timeout=120_000)
    assert not [u for u in reloads if "#" not in u], "the page reloaded instead of updating live"
    shot(page, console, "execution-succeeded")


def test_3_graph_shows_each_states_status(page, console: Console) -> None:
    sfn = console.cloud.client("stepfunctions")
    arn = next(e["executionArn"] for e in sfn.list_executions(stateMachineArn=console.cloud.output("StateMachineArn"))
               ["executions"] if e["name"] == "from-the-browser")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = {e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e}
    page.goto(f"{console.url}/#/execution?arn={arn}")
    page.wait_for_selector("#graph svg")
    nodes = page.locator("#graph g.node")
    statuses = {nodes.nth(i).get_attribute("data-state"): nodes.nth(i).get_attribute("data-status")
                for i in range(nodes.count())}
    definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    assert set(statuses) == set(definition["States"]), "every state of the ASL is drawn"
    for name, status in statuses.items():
        if name in entered:
            assert status in ("succeeded", "retried"), f"{name} ran and succeeded, shown {status}"
        else:
            assert status == "not_reached", f"{name} did not run, shown {status}"
    assert {"FixData", "Train", "Validate", "Done"} <= entered
    assert page.locator("#graph path.edge.taken").count() == len(entered) - 1  # the path taken is drawn
    page.click("#graph g.node[data-state=Train]")
    assert page.locator("#state-name").inner_text() == "Train"
    assert "version" in page.locator("#state-detail").inner_text()  # Train's output, formatted
    assert page.locator("#events tbody tr").count() == len(events)


def test_4_failed_execution_shows_the_error_of_the_failing_state(page, console: Console) -> None:
    bucket = console.cloud.output("DataBucketName")
    s3, sfn = console.cloud.client("s3"), console.cloud.client("stepfunctions")
    s3.put_object(Bucket=bucket, Key="manual/malformed.csv", Body=MALFORMED)
    arn = sfn.start_execution(stateMachineArn=console.cloud.output("StateMachineArn"), name="malformed-batch",
                              input=json.dumps({"trigger": "manual", "include_reference": False,
                                                "batches": [{"bucket": bucket, "key": "manual/malformed.csv"}]}))[
        "executionArn"]
    wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, "the execution to end")
    page.goto(f"{console.url}/#/executions?status=FAILED")
    page.click("#executions tbody tr[data-status=FAILED] >> text=malformed-batch")
    page.wait_for_selector("#execution-status [data-status=FAILED]")
    fix = page.locator("#graph g.node[data-state=FixData]")
    assert fix.get_attribute("data-status") == "caught"
    assert page.locator("#graph g.node[data-state=Quarantine]").get_attribute("data-status") == "succeeded"
    fix.click()
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    failed = next(e["lambdaFunctionFailedEventDetails"] for e in history if e["type"] == "LambdaFunctionFailed")
    assert failed["error"] in ("DataQualityError", "SchemaError")
    error = page.locator("#state-error")
    assert error.locator(".err").inner_text() == failed["error"]
    # The cause is the function's error payload: its message is shown, the rest formatted below.
    message = json.loads(failed["cause"])["errorMessage"]
    assert message in error.inner_text()
    assert '"stackTrace"' in page.locator("#state-detail pre.cause").inner_text()
    assert page.locator("#start-again").is_visible()
    shot(page, console, "execution-failed")


def test_5_roll_back_from_the_page(page, console: Console) -> None:
    wait_until(lambda: len(console.versions()) >= 2, 60, "a second model version")
    page.goto(f"{console.url}/#/models")
    page.wait_for_selector("#versions tbody tr", timeout=30_000)
    if len(console.production()["history"]) < 2:
        # Production has nothing earlier to go back to yet: promote the newest other version first.
        other = [v for v in console.versions() if v != console.production()["version"]][-1]
        page.click(f"#versions [data-promote={other}]")
        if page.locator("#override-reason").count():  # Validate rejected it: promoting it is an override
            page.fill("#override-reason", "browser test: a second version to roll back from")
        page.click("#modal-ok")
        expect(page.locator("#production-version")).to_have_text(other)
    before = console.production()["version"]
    audit_before = {a["sk"] for a in console.audit_actions()}
    assert page.locator("#production-version").inner_text() == before
    page.click("#rollback")
    page.fill("#action-reason", "browser test rollback")
    page.click("#modal-ok")
    expect(page.locator("#production-version")).not_to_have_text(before)
    after = page.locator("#production-version").inner_text()
    assert console.production()["version"] == after != before
    assert page.locator(f"#versions tr[data-version={before}]").get_attribute("data-status") == "rolled_back"
    # Only the alias moves: the drift check of the uploaded batch may be audited meanwhile.
    new = [a for a in console.audit_actions()
           if a["sk"] not in audit_before and a["action"] in ("promoted", "rolled_back")]
    assert [a["action"] for a in new] == ["rolled_back"] and "browser test rollback" in new[0]["reason"]
    shot(page, console, "models")
    page.goto(f"{console.url}/#/audit?action=rolled_back")
    first = page.locator("#audit li").first
    assert "browser test rollback" in first.inner_text()
    shot(page, console, "audit")


def test_6_follow_a_drift_report_link(page, console: Console, drift_batch: str) -> None:
    wait_until(lambda: any(a["action"] in ("drift_detected", "no_drift") for a in console.audit_actions()), 90,
               "the drift check of the uploaded batch")
    page.goto(f"{console.url}/#/drift")
    row = page.locator(f"#drift tbody tr:has-text('{drift_batch}')").first
    assert "%" in row.inner_text()
    row.click()
    assert page.locator("tr.drift-columns:visible td").first.inner_text().count("MedInc") == 1
    shot(page, console, "drift")
    with page.context.expect_page() as new_tab:
        row.locator("a.report-link").click()
    report = new_tab.value
    report.wait_for_load_state("domcontentloaded")
    assert report.url.startswith(console.cloud.endpoint_url)  # served by S3 itself
    assert "drift" in report.url and report.locator("script").count() > 0  # Evidently's HTML report
    report.close()


def test_7_functions_page_and_screenshots_of_the_main_pages(page, console: Console) -> None:
    page.goto(f"{console.url}/#/functions")
    train = page.locator("#functions tr[data-function=TrainFunction]")
    assert int(train.locator("[data-field=invocations]").inner_text()) >= 2
    assert int(train.locator("[data-field=cold_starts]").inner_text()) >= 1
    assert train.locator("[data-field=p99]").inner_text().endswith("s")
    train.click()
    page.wait_for_selector("#function-logs .report")
    assert "REPORT RequestId" in page.locator("#function-logs").inner_text()
    shot(page, console, "functions")
    for name in ("executions", "models", "drift", "audit", "functions"):
        page.goto(f"{console.url}/#/{name}")
        page.wait_for_selector("main h1")
        time.sleep(0.3)
        assert page.locator(".notice").count() == 0
        shot(page, console, f"page-{name}")
    assert sorted(p.stem for p in console.shots.glob("page-*.png")) == [
        "page-audit", "page-drift", "page-executions", "page-functions", "page-models"]
