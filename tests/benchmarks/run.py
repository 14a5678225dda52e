"""`make bench`: serving, batch, emulator, healing, growth, monitor, schema and alerts, side by side with their baselines.

    python tests/benchmarks/run.py [--quick] [--suites serving,batch,emulator,healing,growth,monitor,schema,alerts] [--out DIR]

Starts its own local cloud (free ports, temporary state directory; the same `up` + bootstrap as
`make up`), a baseline server and reference servers, runs the suites and writes
results/latest.json and results/latest.md (also printed). Ratios and medians, since the machine is
shared: every comparison is measured in interleaved rounds, and the spread column shows how much
the per-round figures moved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from context import Bench, Settings, new_tmp  # noqa: E402
from harness import Results, Row, dumps, markdown  # noqa: E402

SUITES = ("serving", "batch", "emulator", "healing", "growth", "monitor", "schema", "alerts")
CLOUD_SUITES = {"serving", "batch", "emulator", "healing", "alerts"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller samples; under 3 minutes")
    p.add_argument("--suites", default=",".join(SUITES))
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--keep-tmp", action="store_true", help="keep the cloud's state dir and logs")
    args = p.parse_args(argv)
    suites = [s for s in args.suites.split(",") if s]
    unknown = set(suites) - set(SUITES)
    if unknown:
        p.error(f"unknown suite(s) {sorted(unknown)}; known: {SUITES}")
    args.out.mkdir(parents=True, exist_ok=True)

    settings = Settings.for_mode(args.quick)
    res = Results(mode="quick" if args.quick else "full")
    bench = Bench(settings, new_tmp())
    growth_text = ""
    failed: list[str] = []
    t_start = time.perf_counter()
    try:
        if CLOUD_SUITES & set(suites):
            _say(f"starting the local cloud and bootstrapping v0001 (state in {bench.tmp})")
            bench.start_cloud()
            res.add(Row("setup", "local cloud up + bootstrap (train, validate, promote v0001) until /health is 200",
                        bench.cache["cloud_ready_s"], "s", runs="1"))
        for suite in suites:
            _say(f"suite {suite}")
            t0 = time.perf_counter()
            try:
                if suite == "serving":
                    from bench_serving import run_serving

                    run_serving(bench, res)
                elif suite == "batch":
                    from bench_serving import run_batch

                    run_batch(bench, res)
                elif suite == "emulator":
                    from bench_emulator import run_emulator

                    run_emulator(bench, res)
                elif suite == "healing":
                    from bench_healing import run_drift_check, run_healing

                    run_healing(bench, res)
                    run_drift_check(bench, res)
                elif suite == "growth":
                    from bench_growth import run_growth

                    growth_text = run_growth(bench, res, args.out)
                elif suite == "monitor":  # in-process against moto: no cloud needed
                    from bench_monitor import run_monitor_suite

                    run_monitor_suite(bench, res)
                elif suite == "schema":  # in-process: a real-estate table's model against a plain booster
                    from bench_schema_model import run_schema_suite

                    run_schema_suite(bench, res)
                elif suite == "alerts":  # last: it moves production (and back) for its rollbacks
                    from bench_alerts import run_alerts

                    run_alerts(bench, res)
            except Exception:  # noqa: BLE001 - one broken suite must not hide the others' figures
                failed.append(suite)
                res.extra.setdefault("errors", {})[suite] = traceback.format_exc()
                _say(f"suite {suite} FAILED:\n{traceback.format_exc()}")
            res.extra.setdefault("suite_seconds", {})[suite] = round(time.perf_counter() - t0, 1)
        if bench.sampler is not None:
            from bench_emulator import memory_rows

            memory_rows(bench, res)
    finally:
        bench.close()
        if not args.keep_tmp:
            shutil.rmtree(bench.tmp, ignore_errors=True)
    res.extra["total_seconds"] = round(time.perf_counter() - t_start, 1)

    md = render(res, growth_text)
    (args.out / "latest.md").write_text(md + "\n")
    (args.out / "latest.json").write_text(dumps(res.to_json()) + "\n")
    print(md)
    print(f"\nwrote {args.out / 'latest.json'} and {args.out / 'latest.md'} in {res.extra['total_seconds']} s")
    if failed:
        print(f"suites that failed: {', '.join(failed)} (tracebacks in latest.json under extra.errors)", file=sys.stderr)
    return 1 if failed else 0


def render(res: Results, growth_text: str) -> str:
    met = [r for r in res.rows if r.met is not None]
    missed = [r for r in met if not r.met]
    parts = [f"# Benchmarks ({res.mode}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(res.started))}", "",
             f"Targets met: {len(met) - len(missed)} of {len(met)}."
             + (" Missed: " + "; ".join(r.metric for r in missed) + "." if missed else ""), "",
             "Ratio = figure ÷ baseline. Latency percentiles pool every sample of every round; the spread is "
             "the range of the same figure computed per round.", "", markdown(res)]
    if growth_text:
        parts += ["", "## Growth with rows", "", growth_text, "", f"Plot: {res.extra.get('growth_png')}"]
    if "healing" in res.extra:
        h = res.extra["healing"]
        parts += ["", "## Healing loop, state by state", "",
                  f"{h.get('before')} → {h.get('after')}, execution {h.get('status')}; "
                  + ", ".join(f"{n} {s:.2f} s" for n, s in h.get("states", []))]
    return "\n".join(parts)


def _say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())

