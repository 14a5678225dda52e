"""The benchmark harness's own arithmetic and client (no local cloud; the suites live in tests/benchmarks)."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from harness import (  # noqa: E402
    HttpClient,
    Results,
    Row,
    Target,
    latencies,
    loglog_slope,
    markdown,
    percentile,
    throughput,
)


def test_percentile_interpolates_like_numpy():
    xs = [4.0, 1.0, 3.0, 2.0]
    assert percentile(xs, 50) == 2.5
    assert percentile(xs, 0) == 1.0 and percentile(xs, 100) == 4.0
    assert percentile(list(range(101)), 99) == 99


def test_loglog_slope_tells_linear_from_quadratic():
    xs = [5_000, 20_000, 80_000, 320_000]
    assert loglog_slope(xs, [x * 3e-6 for x in xs]) == pytest.approx(1.0)
    assert loglog_slope(xs, [x * x * 1e-9 for x in xs]) == pytest.approx(2.0)


def test_markdown_row_shows_figure_baseline_ratio_and_a_missed_target():
    res = Results(mode="quick")
    res.add(Row("serving", "p50", 2.0, "ms", 4.0, "baseline", "3×100", "1.9–2.2 ms", "≤ 0.7× baseline", True))
    res.add(Row("batch", "rows/s", 150_000, "rows/s", target="≥ 200,000", met=False))
    text = markdown(res)
    assert "| serving | p50 | 2.00 ms | 4.00 ms (baseline) | 0.50× | ≤ 0.7× baseline | yes | 3×100 | 1.9–2.2 ms |" in text
    assert "**NO**" in text.splitlines()[-1]


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - stdlib name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_client_keeps_one_connection_alive_and_the_load_generator_counts(echo_server):
    client = HttpClient(echo_server)
    assert client.post("/", b"hello") == (200, b"hello")
    first = client._conn
    assert client.post("/", b"again") == (200, b"again")
    assert client._conn is first  # keep-alive: the same connection served both
    client.close()
    target = Target("echo", echo_server, "/", b"{}")
    assert len(latencies(target, 20, warmup=2)) == 20
    rps, done = throughput(target, 2, 0.2, warmup=2)
    assert done > 0 and rps > 0
