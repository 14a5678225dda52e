"""Browser tests of the console: a real local cloud (bootstrap + console as ``--after`` commands)
driven through Debian's headless Chromium with Playwright (no browser download: ``make browser``)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import ROOT, RunningCloud, free_port, start_cloud, stop_cloud, wait_for

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
MODEL = "house-prices"
# Credentials in the environment of `make up`: nothing may print, log or store them (test_security).
SENTINEL_SECRETS = ("sentinel-secret-key-4d1f0c2e9b", "sentinel-auth-token-7a3e51c8d6")

pytestmark = pytest.mark.integration


class Console:
    """The running console of a test cloud: its URL, token, and the cloud's AWS clients."""

    def __init__(self, cloud: RunningCloud, url: str, token: str, shots: Path) -> None:
        self.cloud, self.url, self.token, self.shots = cloud, url, token, shots

    def production(self) -> dict[str, Any] | None:
        s3 = self.cloud.client("s3")
        try:
            body = s3.get_object(Bucket=self.cloud.output("ModelBucketName"),
                                 Key=f"models/{MODEL}/aliases/production.json")["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def versions(self) -> list[str]:
        s3 = self.cloud.client("s3")
        keys = s3.list_objects_v2(Bucket=self.cloud.output("ModelBucketName"), Prefix=f"models/{MODEL}/")
        return sorted({k["Key"].split("/")[2] for k in keys.get("Contents", []) if k["Key"].endswith("/manifest.json")})

    def audit_actions(self) -> list[dict[str, Any]]:
        ddb = self.cloud.client("dynamodb")
        items = ddb.query(TableName=self.cloud.output("StateTableName"), KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "AUDIT"}}, ScanIndexForward=False)["Items"]
        return [{"action": i["action"]["S"], "reason": i["reason"]["S"], "sk": i["sk"]["S"]} for i in items]


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


# Package scope: the console's cloud and Chromium end with the console's tests. A session-scoped
# sync_playwright would keep its event loop running in the main thread for every later test, and
# Mangum (run in-process by the unit tests) then fails with "This event loop is already running".
@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("console-cloud")
    port = free_port()
    py = sys.executable
    cloud = start_cloud(tmp, ROOT / "template.yaml", stack_name="selfheal", extra=[
        "--parameter-overrides", "CooldownHours=0",
        "--after", f"{py} scripts/ops.py bootstrap --rows 6000",
        "--after", f"{py} -m console --port {port}",
    ], env={"AWS_SECRET_ACCESS_KEY": SENTINEL_SECRETS[0], "LOCALSTACK_AUTH_TOKEN": SENTINEL_SECRETS[1]})
    try:
        token_file = cloud.state_dir / "console-token"
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: token_file.exists() and _http_ok(url + "/api/overview"), 60, message="console up")
        shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "console-screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        c = Console(cloud, url, token_file.read_text().strip(), shots)
        wait_for(c.production, 240, 0.5, message="bootstrap to promote v0001")
        yield c
    finally:
        stop_cloud(cloud)
        if os.environ.get("KEEP_CLOUD_LOG"):
            shutil.copy(cloud.log_path, tmp / "cloud-copy.log")


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, console: Console) -> Iterator[Any]:
    """A fresh tab that went through the token link once, as a user does from the terminal."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(f"{console.url}/?token={console.token}")
    yield pg
    if request.node.stash.get(FAILED, False):  # what the user would have seen, for the CI log
        pg.screenshot(path=str(console.shots / f"FAILED-{request.node.name}.png"), full_page=True)
        print(f"page at failure ({pg.url}):\n{pg.locator('body').inner_text()[:3000]}")
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_until(predicate, timeout: float = 30.0, message: str = "condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
