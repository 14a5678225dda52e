"""``/metrics``: predictions over the HTTP API show up in a Prometheus scrape of the console.

The whole path is real: the predict worker prints EMF lines, the local cloud's log pipeline extracts
them into CloudWatch, and the console reads CloudWatch and answers in Prometheus' text format.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from selfheal.schema import DEFAULT_SCHEMA
from tests.integration.conftest import ROOT, free_port, wait_for
from tests.integration.console.conftest import Console

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _parse(text: str) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _scrape(console: Console) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"{console.url}/metrics", timeout=30) as resp:  # no token: a read page
        assert resp.status == 200
        return resp.headers["Content-Type"], _parse(resp.read().decode())


def _total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, lbls), v in samples.items() if n == name and labels.items() <= dict(lbls).items())


def _predict(console: Console, body: dict) -> dict:
    req = urllib.request.Request(f"{console.cloud.api_url}/predict", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def test_the_prediction_counter_rises_by_the_requests_sent(console: Console) -> None:
    content_type, before = _scrape(console)
    assert content_type.startswith("text/plain; version=0.0.4")
    n, record = 12, DEFAULT_SCHEMA.example_record()
    versions = {_predict(console, record)["model_version"] for _ in range(n - 1)}
    versions.add(_predict(console, {"records": [record] * 5})["model_version"])  # one request of five rows

    def risen() -> Samples | None:
        _, now = _scrape(console)
        return now if _total(now, "selfheal_predictions_total") >= _total(before, "selfheal_predictions_total") + n \
            else None

    after = wait_for(risen, 30, 0.5, message=f"selfheal_predictions_total to rise by {n}")
    (version,) = versions
    assert _total(after, "selfheal_predictions_total", model_version=version) >= n
    assert (_total(after, "selfheal_predicted_rows_total") - _total(before, "selfheal_predicted_rows_total")) >= n + 4
    latency_count = _total(after, "selfheal_prediction_latency_seconds_count", model_version=version)
    latency_sum = _total(after, "selfheal_prediction_latency_seconds_sum", model_version=version)
    assert latency_count >= n and 0 < latency_sum / latency_count < 1.0  # mean seconds per request
    # The bootstrap's healing run is there too: v0001's quality at train and validate, and its promotion.
    assert 0.5 < _total(after, "selfheal_model_r2", model_version="v0001", stage="validate") <= 1.0
    assert _total(after, "selfheal_model_r2", model_version="v0001", stage="train") > 0.5
    assert _total(after, "selfheal_healing_actions_total", action="promote") >= 1
    # Counters never go down between scrapes.
    for key, value in before.items():
        if key[0].endswith("_total"):
            assert after.get(key, 0.0) >= value, key


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in Pushgateway: records each push (method, path, content type, body)."""

    pushes: list[tuple[str, str, str, str]] = []

    def _record(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.pushes.append((self.command, self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.end_headers()

    do_PUT = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass  # quiet test output


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.pushes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.pushes
    server.shutdown()
    server.server_close()


def test_push_mode_sends_the_same_metrics_to_a_pushgateway(console: Console, pushgateway, tmp_path: Path) -> None:
    url, pushes = pushgateway
    _predict(console, DEFAULT_SCHEMA.example_record())
    proc = subprocess.Popen([sys.executable, "-m", "console", "--endpoints", str(console.cloud.state_dir / "endpoints.json"),
                             "--port", str(free_port()), "--token-file", str(tmp_path / "token"),
                             "--pushgateway-url", url, "--push-interval", "0.5"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(pushes) >= 2, 30, message="two pushes")
    finally:
        proc.terminate()
        proc.wait(10)
    method, path, content_type, body = pushes[-1]
    assert (method, path) == ("PUT", "/metrics/job/selfheal")  # push_to_gateway replaces the job's group
    assert content_type.startswith("text/plain; version=0.0.4")
    assert _total(_parse(body), "selfheal_predictions_total") >= 1
    assert b"Traceback" not in proc.stderr.read()
