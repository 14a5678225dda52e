"""Live monitoring and alerts in the console (issue 11, part 5): the API, and the pages in headless Chromium.

The tests write what the product writes: run records in MonitorFunction's format
(``selfheal.live.RunRecord``) and reports under the data bucket, predictions captured in the
latest run's window (``selfheal.capture``), and alerts with the decisions they are about, through
``selfheal.alerts.Alerter`` over ``selfheal.audit.AuditTrail``. Then they read the pages as a user does.
"""

from __future__ import annotations

import json
import random
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from console.monitoring import HISTOGRAM_BINS
from selfheal import capture
from selfheal.alerts import Alerter, AlertKind
from selfheal.audit import AuditAction, AuditTrail
from selfheal.clock import isoformat
from tests.integration.console.conftest import Console

pytestmark = pytest.mark.integration

SHARES = (0.1, 0.3, 0.7)  # the last run drifts (threshold 0.5)
WINDOW_PREDICTIONS = 300  # captured from the production version in the latest window
OTHER_PREDICTIONS = 50  # captured from another version: not part of the production version's distribution


@dataclass
class Written:
    run_ids: list[str]  # oldest first
    production: str
    degradation: dict[str, Any]  # the alert_sent item about ...
    about_degradation: dict[str, Any]  # ... this degradation_detected decision
    drift: dict[str, Any]


def _run(run_id: str, at: datetime, production: str, share: float, rmse: dict[str, float],
         window: tuple[datetime, datetime], actions: list[str]) -> dict[str, Any]:
    """A run record with the fields ``selfheal.live.RunRecord`` writes (those the console reads, filled)."""
    drifted = share >= 0.5
    return {
        "run_id": run_id, "at": isoformat(at), "trigger": "scheduled", "production_version": production,
        "window": {"start": window[0].isoformat(), "end": window[1].isoformat(), "since": "last_run",
                   "hours": round((window[1] - window[0]).total_seconds() / 3600, 3)},
        "records": 1000, "records_by_version": {production: 1000}, "labelled_rows": 600, "unmatched_label_ids": 3,
        "feature_drift_share": share, "feature_drift": drifted,
        "column_scores": {"MedInc": {"score": 0.2, "method": "wasserstein", "threshold": 0.1, "drifted": drifted}},
        "feature_drift_detail": {"threshold_share": 0.5, "drifted_columns": ["MedInc"] if drifted else []},
        "prediction_drift": {"version": production, "drifted": drifted, "score": 0.2, "method": "wasserstein"},
        "target_drift": {"drifted": None, "reason": "no reference target"},
        "versions": {v: {"labelled_rows": 300, "rmse": r, "mae": r * 0.7, "r2": 0.8, "promotion_rmse": 0.5,
                         "degradation_ratio": r / 0.5, "degraded": r / 0.5 > 1.2, "reason": ""} for v, r in rmse.items()},
        "decision": {"reason": "test run"}, "actions": actions, "execution_arn": None,
        "report_key": f"reports/monitor/{run_id}.html", "record_key": f"monitoring/runs/{run_id}.json",
    }


def write_monitoring(s3: Any, ddb: Any, bucket: str, table: str, production: str, now: datetime) -> Written:
    """Three hourly runs ending now, captures in the last window, and two alerts between the runs."""
    times = [now - timedelta(hours=2 - i) for i in range(3)]
    run_ids = [t.strftime("%Y%m%dT%H%M%S.%fZ") for t in times]
    other = "v0000" if production != "v0000" else "v9999"
    rmse = [{production: 0.50}, {production: 0.55, other: 0.45}, {production: 0.70, other: 0.48}]
    for i, (t, run_id) in enumerate(zip(times, run_ids, strict=True)):
        # The latest window reaches past now, so the captures written below are inside it.
        window = (t - timedelta(hours=1), t + timedelta(minutes=10) if i == 2 else t)
        doc = _run(run_id, t, production, SHARES[i], rmse[i], window, ["alert:drift_detected"] if i == 2 else [])
        s3.put_object(Bucket=bucket, Key=doc["record_key"], Body=json.dumps(doc).encode(), ContentType="application/json")
        s3.put_object(Bucket=bucket, Key=doc["report_key"], ContentType="text/html",
                      Body=f"<!doctype html><title>Monitor run {run_id}</title><h1>Monitor run {run_id}</h1>".encode())
    rng = random.Random(11)
    ids = [str(uuid.uuid4()) for _ in range(WINDOW_PREDICTIONS + OTHER_PREDICTIONS)]
    records = [{"prediction_id": pid, "ts": isoformat(now), "model_version": production if i < WINDOW_PREDICTIONS else other,
                "features": {}, "prediction": rng.gauss(2.1, 0.6), "latency_ms": 1.0} for i, pid in enumerate(ids)]
    for seq, chunk in enumerate((records[:200], records[200:])):
        capture.put_records(s3, bucket, capture.object_key(now, "consoletest", seq), chunk)

    def alert(at: datetime, action: AuditAction, kind: AlertKind, summary: str) -> tuple[dict[str, Any], dict[str, Any]]:
        trail = AuditTrail(ddb, table, clock=lambda: at)
        about = trail.record(action, f"live traffic: {summary}", details={"source": "monitor"})
        later = AuditTrail(ddb, table, clock=lambda: at + timedelta(milliseconds=5))
        sent = Alerter(None, "", later, clock=lambda: at).send(kind, f"live traffic: {summary}", reason="console test",
                                                              versions={"production": production}, about=about)
        item = next(i for i in later.list(action=AuditAction.ALERT_SENT, limit=200)
                    if i["details"]["alert_id"] == sent.alert_id)
        return dict(about), dict(item)

    about_degradation, degradation = alert(times[0] + timedelta(minutes=30), AuditAction.DEGRADATION_DETECTED,
                                           AlertKind.DEGRADATION, "RMSE 1.4x the promotion RMSE")
    _, drift = alert(times[2] - timedelta(minutes=1), AuditAction.DRIFT_DETECTED, AlertKind.DRIFT_DETECTED,
                     "feature drift share 0.70 (MedInc)")
    return Written(run_ids, production, degradation, about_degradation, drift)


def get(console: Console, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{console.url}{path}", timeout=60) as resp:
            body = resp.read()
            return resp.status, json.loads(body) if resp.headers.get_content_type() == "application/json" else body
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _runs_in_bucket(console: Console) -> int:
    found = console.cloud.client("s3").list_objects_v2(Bucket=console.cloud.output("DataBucketName"),
                                                       Prefix="monitoring/runs/")
    return found.get("KeyCount", 0)


def test_0_no_runs_yet_says_how_to_make_one(page, console: Console) -> None:
    if _runs_in_bucket(console):
        pytest.skip("a monitor run already exists in this cloud")
    page.goto(f"{console.url}/#/monitoring")
    expect(page.locator("#monitor-empty")).to_contain_text("make monitor")
    assert page.locator(".notice").count() == 0


@pytest.fixture(scope="module")
def written(console: Console) -> Written:
    cloud = console.cloud
    production = console.production()
    assert production, "bootstrap promoted a version"
    return write_monitoring(cloud.client("s3"), cloud.client("dynamodb"), cloud.output("DataBucketName"),
                            cloud.output("StateTableName"), production["version"],
                            datetime.now(UTC).replace(microsecond=0))


def test_1_api_runs_report_distribution_and_alerts(console: Console, written: Written) -> None:
    status, runs = get(console, "/api/monitoring/runs?limit=50")
    assert status == 200
    mine = [r for r in runs["items"] if r["run_id"] in written.run_ids]
    assert [r["run_id"] for r in mine] == written.run_ids[::-1], "newest first"
    assert [r["feature_drift_share"] for r in mine] == list(SHARES[::-1]) and runs["threshold"] == 0.5
    assert set(mine[0]["versions"]) == {written.production, "v0000" if written.production != "v0000" else "v9999"}

    latest = written.run_ids[-1]
    with urllib.request.urlopen(f"{console.url}/api/monitoring/report?key=reports/monitor/{latest}.html") as resp:
        assert resp.url.startswith(console.cloud.endpoint_url), "served by S3 itself, not on the console's origin"
        assert f"Monitor run {latest}" in resp.read().decode()
    for bad in ("reports/monitor/../../models/x.html", "models/house-prices/aliases/production.json",
                "reports/monitor/a/b.html", "reports/drift.html", f"monitoring/runs/{latest}.json/..", "/etc/passwd"):
        status, body = get(console, f"/api/monitoring/report?key={quote(bad)}")
        assert status == 400, (bad, body)
    assert get(console, "/api/monitoring/report?key=reports/monitor/19700101T000000.000000Z.html")[0] == 404

    status, dist = get(console, f"/api/monitoring/distribution?key=monitoring/runs/{latest}.json")
    assert status == 200 and dist["version"] == written.production and dist["source"] == "captures"
    assert dist["window"]["rows"] == WINDOW_PREDICTIONS == sum(dist["window"]["counts"])  # the other version's left out
    assert dist["holdout"]["rows"] > 100 and len(dist["edges"]) == HISTOGRAM_BINS + 1

    status, alerts = get(console, "/api/alerts?limit=200")
    by_sk = {a["sk"]: a for a in alerts["items"]}
    deg = by_sk[written.degradation["sk"]]
    assert deg["kind"] == "degradation" and deg["about"] == written.about_degradation["sk"]
    assert deg["about_action"] == "degradation_detected" and deg["versions"] == {"production": written.production}
    assert deg["published"] is False  # no topic given to the test's Alerter: audited only
    order = [a["sk"] for a in alerts["items"]]
    assert order.index(written.drift["sk"]) < order.index(written.degradation["sk"]), "newest first"
    status, only = get(console, "/api/alerts?kind=degradation&limit=200")
    assert {a["kind"] for a in only["items"]} == {"degradation"}
    assert get(console, "/api/alerts?kind=nonsense")[0] == 400

    status, item = get(console, f"/api/audit/item?sk={quote(written.about_degradation['sk'])}")
    assert status == 200 and [a["sk"] for a in item["alerts"]] == [written.degradation["sk"]]
    status, catalog = get(console, "/api/audit/actions")
    assert [a["action"] for a in catalog["items"]] == [a.value for a in AuditAction]
    assert all(a["description"] for a in catalog["items"])


def test_2_monitoring_page_charts_runs_and_alerts(page, console: Console, written: Written) -> None:
    page.goto(f"{console.url}/#/monitoring")
    drift = page.locator("#drift-share-chart")
    for run_id in written.run_ids:  # one point per run
        expect(drift.locator(f"circle.point[data-run='{run_id}']")).to_have_count(1)
    assert drift.locator(f"circle.point[data-run='{written.run_ids[-1]}']").get_attribute("data-drifted") == "true"
    assert drift.locator("line.threshold").get_attribute("data-threshold") == "0.5"
    for chart in ("#drift-share-chart", "#rmse-chart"):  # the alerts, on both time axes
        marker = page.locator(f"{chart} g.alert-marker[data-alert-sk='{written.degradation['sk']}']")
        expect(marker).to_have_count(1)
        assert marker.get_attribute("data-kind") == "degradation"
        assert "degradation" in marker.locator("title").text_content()
    rmse = page.locator("#rmse-chart")
    other = "v0000" if written.production != "v0000" else "v9999"
    for version, points in ((written.production, 3), (other, 2)):  # one series per version
        expect(rmse.locator(f"g.series[data-series='{version}'] circle.point")).to_have_count(points)
    dist = page.locator("#distribution-chart")
    expect(dist.locator("rect.bar-window")).to_have_count(HISTOGRAM_BINS)
    expect(dist.locator("path.holdout")).to_have_count(1)
    assert f"window: {WINDOW_PREDICTIONS} predictions" in dist.inner_text()
    row = page.locator(f"#monitor-runs tr[data-run='{written.run_ids[-1]}']")
    assert "0.70" in row.inner_text() and "drifted" in row.inner_text()
    with page.context.expect_page() as new_tab:
        row.locator("a.report-link").click()
    report = new_tab.value
    report.wait_for_load_state("domcontentloaded")
    assert report.url.startswith(console.cloud.endpoint_url)
    expect(report.locator("h1")).to_have_text(f"Monitor run {written.run_ids[-1]}")
    report.close()
    # A marker is a way in: it opens the alert.
    page.locator(f"#drift-share-chart g.alert-marker[data-alert-sk='{written.drift['sk']}']").click()
    page.wait_for_url(re.compile(r"#/alerts\?alert="))
    expect(page.locator("#alert-focus")).to_contain_text("feature drift share 0.70")


def test_3_alerts_page_links_both_ways_with_the_audit_trail(page, console: Console, written: Written) -> None:
    page.goto(f"{console.url}/#/alerts")
    rows = page.locator("#alerts tbody tr[data-sk]")
    expect(rows.first).to_be_visible()
    sks = [rows.nth(i).get_attribute("data-sk") for i in range(rows.count())]
    assert sks.index(written.drift["sk"]) < sks.index(written.degradation["sk"]), "newest first"
    row = page.locator(f"#alerts tr[data-sk='{written.degradation['sk']}']")
    text = row.inner_text()
    for shown in ("degradation", "RMSE 1.4x the promotion RMSE", "console test", f"production {written.production}",
                  "not published"):
        assert shown in text, shown
    # The alert -> the decision it is about ...
    row.locator("a.about-link").click()
    page.wait_for_url(re.compile(r"#/audit\?item="))
    item = page.locator(f"#audit li[data-sk='{written.about_degradation['sk']}']")
    expect(item).to_have_class(re.compile("focus"))
    assert item.get_attribute("data-action") == "degradation_detected"
    # ... and that decision -> its alert.
    item.locator("a.alert-link").click()
    page.wait_for_url(re.compile(r"#/alerts\?alert="))
    expect(page.locator("#alert-focus")).to_contain_text("RMSE 1.4x the promotion RMSE")
    expect(page.locator(f"#alerts tr.focus[data-sk='{written.degradation['sk']}']")).to_have_count(1)
    # The kind filter keeps one kind.
    page.select_option("#kind-filter", "drift_detected")
    expect(page.locator("#alerts tbody tr[data-kind=degradation]")).to_have_count(0)
    expect(page.locator(f"#alerts tr[data-sk='{written.drift['sk']}']")).to_have_count(1)


def test_4_audit_trail_shows_each_action_with_its_description(page, console: Console, written: Written) -> None:
    page.goto(f"{console.url}/#/audit?action=degradation_detected")
    item = page.locator(f"#audit li[data-sk='{written.about_degradation['sk']}']")
    expect(item.locator("a.alert-link")).to_have_attribute("data-alert-sk", written.degradation["sk"])
    pill = item.locator("[data-action=degradation_detected]")
    assert pill.get_attribute("title") == "production RMSE on a labelled batch got worse"  # AuditAction's own comment
    options = page.locator("#action-filter option")
    assert options.count() == len(AuditAction) + 1  # every action, and "All actions"
