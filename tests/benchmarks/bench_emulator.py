"""Suite 3, the Lambda emulator: warm Invoke overhead, cold starts, memory, invokes per second.

A no-op function is deployed into the running local cloud through the Lambda API (CreateFunction),
as a user would; cold starts are forced the way AWS forces them, by a configuration update.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
import zipfile
from typing import Any

from context import Bench
from harness import Results, Row, Target, fmt, latencies, median, percentile, spread_of, throughput, timed

SUITE = "emulator"
NOOP_NAME = "bench-noop"
NOOP_SOURCE = "def handler(event, context):\n    return {}\n"
NOOP_CONCURRENCY = 4
_INIT = re.compile(r"Init Duration: ([\d.]+) ms")
_MAXMEM = re.compile(r"Max Memory Used: (\d+) MB")


def deploy_noop(b: Bench) -> str:
    assert b.cloud is not None
    iam, lam = b.cloud.client("iam"), b.cloud.client("lambda")
    role = iam.create_role(RoleName="bench-noop-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("noop.py", NOOP_SOURCE)
    lam.create_function(FunctionName=NOOP_NAME, Runtime="python3.11", Role=role, Handler="noop.handler",
                        Code={"ZipFile": buf.getvalue()}, Timeout=10, MemorySize=128)
    return NOOP_NAME


def _invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def _cold(b: Bench, name: str, payload: dict[str, Any], n: int) -> tuple[list[float], list[float], list[int]]:
    """``n`` cold starts: a configuration update retires the warm workers (as on AWS), then one Invoke.

    Returns wall seconds from the call to the response (spawn, init, first invocation), the runtime's
    reported Init Duration (ms), and Max Memory Used (MB)."""
    assert b.cloud is not None
    lam = b.cloud.client("lambda")
    walls, inits, mems = [], [], []
    for i in range(n):
        env = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
        lam.update_function_configuration(FunctionName=name, Environment={"Variables": {**env,
                                                                                       "BENCH_COLD": f"{time.time()}-{i}"}})
        t0 = time.perf_counter()
        r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail")
        walls.append(time.perf_counter() - t0)
        body = r["Payload"].read()
        tail = base64.b64decode(r.get("LogResult", "")).decode(errors="replace")
        m = _INIT.search(tail)
        if not m:
            raise RuntimeError(f"{name}: invoke after a configuration update was not cold:\n{tail[-1000:]}")
        inits.append(float(m.group(1)))
        mm = _MAXMEM.search(tail)
        mems.append(int(mm.group(1)) if mm else 0)
        if name.endswith("PredictFunction") or "Predict" in name:
            status = json.loads(body).get("statusCode")
            if status != 200:
                raise RuntimeError(f"predict cold start answered {status}: {body[:300]!r}")
    return walls, inits, mems


def _runtime_only(b: Bench, n: int) -> list[float]:
    """The runtime alone (no HTTP, no moto): LambdaRuntime.invoke of the no-op, in this process."""
    from infra.localcloud.runtime.pool import LambdaRuntime, RuntimeConfig
    from infra.localcloud.runtime.spec import FunctionSpec
    from infra.localcloud.runtime.worker import WorkerSettings

    code = b.tmp / "noop-code"
    code.mkdir(exist_ok=True)
    (code / "noop.py").write_text(NOOP_SOURCE)
    rt = LambdaRuntime(RuntimeConfig(WorkerSettings(endpoint_url="http://127.0.0.1:9")), lambda *a: None)
    spec = FunctionSpec(name="noop", arn="arn:aws:lambda:us-east-1:123456789012:function:noop", handler="noop.handler",
                        runtime="python3.11", timeout=10, memory_mb=128, environment={}, code_dir=code,
                        fingerprint="noop")
    try:
        return timed(lambda: rt.invoke(spec, b"{}"), n, warmup=20)
    finally:
        rt.shutdown()
        shutil.rmtree(code, ignore_errors=True)


def run_emulator(b: Bench, res: Results) -> None:
    from infra.localcloud.events import http_api
    from selfheal.schema import DEFAULT_SCHEMA

    s = b.settings
    assert b.cloud is not None
    name = deploy_noop(b)
    target = Target("invoke", b.cloud.endpoint_url, _invoke_path(name), b"{}")

    # ---- warm invoke overhead ---------------------------------------------------------------
    ns: dict[str, list[float]] = {}
    exec(compile(NOOP_SOURCE, "noop.py", "exec"), ns)  # noqa: S102 - the no-op's own source
    handler = ns["handler"]
    direct = timed(lambda: handler({}, None), s.invoke_n * s.rounds, warmup=100)
    per_round, samples = [], []
    for _ in range(s.rounds):
        xs = latencies(target, s.invoke_n, s.warmup)
        samples += xs
        per_round.append(percentile(xs, 50) * 1000)
    invoke_p50 = percentile(samples, 50) * 1000
    direct_p50 = median(direct) * 1000
    runs = f"{s.rounds}×{s.invoke_n}"
    res.add(Row(SUITE, "warm Invoke overhead p50 (no-op; Invoke API over HTTP − direct call)", invoke_p50 - direct_p50,
                "ms", None, f"direct call p50 {direct_p50 * 1000:.2f} µs", runs, spread_of([x - direct_p50 for x in per_round], "ms"),
                "< 2 ms", invoke_p50 - direct_p50 < 2.0,
                note=f"Invoke p50 {invoke_p50:.3f} ms, p99 {percentile(samples, 99) * 1000:.2f} ms"))
    lam = b.cloud.client("lambda")
    boto = timed(lambda: lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read(), max(100, s.invoke_n // 2), 20)
    res.add(Row(SUITE, "warm Invoke p50 through boto3 (client signing and parsing included)", median(boto) * 1000, "ms",
                runs=f"1×{len(boto)}", spread=f"p99 {percentile(boto, 99) * 1000:.2f} ms", note="reference"))
    rt = _runtime_only(b, s.invoke_n)
    res.add(Row(SUITE, "warm invoke p50, runtime only (LambdaRuntime.invoke, no HTTP API, no moto)",
                median(rt) * 1000, "ms", runs=f"1×{len(rt)}", spread=f"p99 {percentile(rt, 99) * 1000:.2f} ms",
                note="awslambdaric worker; where the Invoke time goes"))

    # ---- invokes per second at the function's concurrency limit --------------------------------
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=NOOP_CONCURRENCY)
    rates = [throughput(target, NOOP_CONCURRENCY, s.tput_seconds, s.warmup // 3)[0] for _ in range(max(2, s.rounds - 1))]
    res.add(Row(SUITE, f"invokes/s of the no-op at its concurrency limit ({NOOP_CONCURRENCY} reserved, "
                       f"{NOOP_CONCURRENCY} clients)", median(rates), "inv/s", runs=f"{len(rates)}×{s.tput_seconds:g}s",
                spread=spread_of(rates, "inv/s"), note="no throttles expected at the limit"))

    # ---- cold starts ----------------------------------------------------------------------------
    record = json.dumps(DEFAULT_SCHEMA.example_record())
    cases = [
        ("no-op", name, {}),
        ("PredictFunction (POST /predict, model loaded)", b.function_name("PredictFunction"),
         http_api("POST", "/predict", record)),
        # An event without training_key: init runs in full, then the handler fails at once, so the
        # figure is the cold start alone, not a training.
        ("TrainFunction (init; handler fails fast on an empty event)", b.function_name("TrainFunction"), {}),
    ]
    cold: dict[str, Any] = {}
    for label, fn, payload in cases:
        walls, inits, mems = _cold(b, fn, payload, s.cold_n)
        cold[label] = {"wall_s": walls, "init_ms": inits, "max_memory_mb": mems}
        is_predict = label.startswith("Predict")
        res.add(Row(SUITE, f"cold start, spawn to first response: {label}", median(walls), "s",
                    runs=f"1×{len(walls)}", spread=spread_of(walls, "s"),
                    target="< 1.5 s" if is_predict else "", met=(median(walls) < 1.5) if is_predict else None,
                    note=f"Init Duration p50 {fmt(median(inits), 'ms')}; Max Memory Used {max(mems)} MB"))
    res.extra["cold_starts"] = cold
    b.snapshot_rss("after emulator")


def memory_rows(b: Bench, res: Results) -> None:
    """Peak RSS per worker (by function) and for the whole local cloud, over the whole run."""
    assert b.sampler is not None
    peaks = b.sampler.peak_by_label()
    mb = 1024 * 1024
    snap = b.rss_snapshots
    single = snap.get("after serving", {}).get("PredictFunction")
    if single:
        res.add(Row(SUITE, "peak RSS, predict worker, single-record serving", single / mb, "MB",
                    target="< 250 MB", met=single / mb < 250, runs="sampled 20/s",
                    note="MemorySize 512"))
    if "PredictFunction" in peaks:
        res.add(Row(SUITE, "peak RSS, predict worker, whole run (incl. 10k-row batches)", peaks["PredictFunction"] / mb,
                    "MB", target="< 250 MB", met=peaks["PredictFunction"] / mb < 250, runs="sampled 20/s"))
    for label in sorted(peaks):
        if label in ("PredictFunction", "other"):
            continue
        res.add(Row(SUITE, f"peak RSS, {label}{' (process: moto, gateway, runtime APIs)' if label == 'localcloud' else ' worker'}",
                    peaks[label] / mb, "MB", runs="sampled 20/s"))
    res.add(Row(SUITE, "peak RSS, whole local cloud (process tree, summed)", b.sampler.total_peak / mb, "MB",
                runs="sampled 20/s"))
    res.extra["rss_peaks_mb"] = {k: round(v / mb, 1) for k, v in peaks.items()}
    res.extra["rss_snapshots_mb"] = {k: {kk: round(vv / mb, 1) for kk, vv in v.items()} for k, v in snap.items()}

