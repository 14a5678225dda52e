"""Shared benchmark machinery: result rows, statistics, the one HTTP client, the load generator.

Every serving measurement goes through :class:`HttpClient` (stdlib ``http.client``, one keep-alive
connection per client thread) and :func:`warm_up` (the one warm-up policy), so the only thing that
differs between "ours" and a baseline is the server.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]

# ---- statistics -------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks (numpy's default)."""
    if not samples:
        return math.nan
    xs = sorted(samples)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else math.nan


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): 1 means linear growth, 2 quadratic."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-12)) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / den if den else math.nan


# ---- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table."""

    suite: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None  # the baseline's figure, same unit
    baseline_name: str = ""
    runs: str = ""  # e.g. "5x300": rounds x samples per round
    spread: str = ""  # range of the per-round figures
    target: str = ""  # e.g. "<= 0.7x baseline"
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline or math.isnan(self.baseline):
            return None
        return self.value / self.baseline


@dataclass
class Results:
    mode: str
    rows: list[Row] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # per-suite detail: histories, growth tables
    started: float = field(default_factory=time.time)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "machine": machine(),
            "rows": [{**asdict(r), "ratio": r.ratio} for r in self.rows],
            "extra": self.extra,
        }


def repo_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it: committed results name no one's checkout."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:  # an --out outside the repository
        return str(path)


def machine() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "loadavg_at_end": [round(x, 2) for x in load]}


def fmt(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 1000:
        s = f"{x:,.0f}"
    elif abs(x) >= 100:
        s = f"{x:.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    elif abs(x) >= 0.1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3g}"
    return f"{s} {unit}".strip()


def spread_of(per_round: Iterable[float], unit: str = "") -> str:
    vals = [v for v in per_round if not math.isnan(v)]
    if len(vals) < 2:
        return "—"
    return f"{fmt(min(vals))}–{fmt(max(vals), unit)}"


def markdown(results: Results) -> str:
    head = ("| suite | metric | figure | baseline | ratio | target | met | runs | spread (per round) |\n"
            "|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in results.rows:
        base = f"{fmt(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else (r.baseline_name or "—")
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        met = {True: "yes", False: "**NO**", None: ""}[r.met]
        metric = r.metric + (f" <br><sub>{r.note}</sub>" if r.note else "")
        lines.append(f"| {r.suite} | {metric} | {fmt(r.value, r.unit)} | {base} | {ratio} | {r.target or ''} | {met} "
                     f"| {r.runs} | {r.spread} |")
    return "\n".join(lines)


# ---- the one HTTP client -------------------------------------------------------------------------


class HttpClient:
    """One keep-alive HTTP/1.1 connection (stdlib http.client, TCP_NODELAY as http.client sets it)."""

    def __init__(self, base_url: str, timeout: float = 60.0):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        hdrs = {"Content-Type": "application/json", "Connection": "keep-alive", **(headers or {})}
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, data
            except (ConnectionError, http.client.HTTPException):
                # A server may drop an idle keep-alive connection; reconnect once, as any client would.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return self.request("POST", path, body)

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass(frozen=True)
class Target:
    """Something to measure over HTTP: a server and one request."""

    name: str
    base_url: str
    path: str
    body: bytes
    method: str = "POST"


class BadResponse(RuntimeError):
    """A benchmarked endpoint answered something other than success; the run stops on it."""


def _one(client: HttpClient, t: Target) -> None:
    status, data = client.request(t.method, t.path, t.body)
    if status != 200:
        raise BadResponse(f"{t.name}: {t.method} {t.path} -> {status} {data[:300]!r}")


def warm_up(clients: list[HttpClient], t: Target, per_client: int) -> None:
    """THE warm-up policy: ``per_client`` requests on every connection that will be measured, run at
    the concurrency of the measurement, all of which must succeed. Nothing here is recorded."""
    errors: list[BaseException] = []

    def work(c: HttpClient) -> None:
        try:
            for _ in range(per_client):
                _one(c, t)
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the caller's thread
            errors.append(exc)

    _run_threads([lambda c=c: work(c) for c in clients])
    if errors:
        raise errors[0]


def _run_threads(fns: list[Callable[[], None]]) -> None:
    if len(fns) == 1:
        fns[0]()
        return
    threads = [threading.Thread(target=f, daemon=True) for f in fns]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def latencies(t: Target, n: int, warmup: int) -> list[float]:
    """Concurrency 1: ``n`` sequential requests on one warm keep-alive connection, seconds each."""
    client = HttpClient(t.base_url)
    try:
        warm_up([client], t, warmup)
        out = []
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            _one(client, t)
            out.append(clock() - t0)
        return out
    finally:
        client.close()


def throughput(t: Target, concurrency: int, seconds: float, warmup: int) -> tuple[float, int]:
    """Closed loop: ``concurrency`` threads, one keep-alive connection each, for ``seconds``.

    Returns (requests per second, requests completed)."""
    clients = [HttpClient(t.base_url) for _ in range(concurrency)]
    try:
        warm_up(clients, t, warmup)
        counts = [0] * concurrency
        errors: list[BaseException] = []
        start = threading.Barrier(concurrency + 1)
        stop_at = [0.0]

        def work(i: int) -> None:
            c = clients[i]
            start.wait()
            try:
                while time.perf_counter() < stop_at[0]:
                    _one(c, t)
                    counts[i] += 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(concurrency)]
        for th in threads:
            th.start()
        t0 = time.perf_counter()
        stop_at[0] = t0 + seconds
        start.wait()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise errors[0]
        return sum(counts) / elapsed, sum(counts)
    finally:
        for c in clients:
            c.close()


def timed(fn: Callable[[], Any], n: int, warmup: int = 1) -> list[float]:
    """In-process: seconds per call of ``fn``, after ``warmup`` unrecorded calls."""
    for _ in range(warmup):
        fn()
    out = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    return out


# ---- memory --------------------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def environ_value(pid: int, name: str) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            for item in f.read().split(b"\0"):
                k, _, v = item.partition(b"=")
                if k.decode(errors="replace") == name:
                    return v.decode(errors="replace")
    except OSError:
        return None
    return None


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (workers run in their own session, still our children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


class RssSampler:
    """Samples the RSS of a process tree in a background thread; keeps the peaks.

    ``peaks`` maps pid to (label, peak bytes); ``total_peak`` is the largest sum over the tree seen at
    one sample. Labels come from ``label(pid)`` (e.g. the Lambda function name of a worker)."""

    def __init__(self, root: int, label: Callable[[int], str], interval: float = 0.05):
        self.root = root
        self._label = label
        self.interval = interval
        self.peaks: dict[int, tuple[str, int]] = {}
        self.total_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self._labels: dict[int, str] = {}

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        tick = 0
        pids: list[int] = [self.root]
        while not self._stop.is_set():
            if tick % 10 == 0:  # re-walk /proc twice a second; sample the known pids in between
                pids = descendants(self.root)
            tick += 1
            total = 0
            for pid in pids:
                rss = rss_bytes(pid)
                if not rss:
                    continue
                total += rss
                if pid not in self._labels:
                    self._labels[pid] = self._label(pid)
                label, peak = self.peaks.get(pid, (self._labels[pid], 0))
                if rss > peak:
                    self.peaks[pid] = (label, rss)
            self.total_peak = max(self.total_peak, total)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def peak_by_label(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for label, peak in self.peaks.values():
            out[label] = max(out.get(label, 0), peak)
        return out


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o))
