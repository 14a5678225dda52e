"""Suite 5, growth: training, drift-check and batch-predict time against the number of rows."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from context import Bench
from harness import Results, Row, loglog_slope, repo_path

SUITE = "growth"
STEPS = ("train", "drift", "predict")
LABELS = {"train": "training (fit, 1 thread, as TrainFunction)", "drift": "drift check (Evidently)",
          "predict": "batch predict (ONNX, serving session)"}


def measure(rows: tuple[int, ...], repeats: int = 1) -> list[dict[str, Any]]:
    """Seconds per step and size; the median of ``repeats`` runs."""
    from selfheal import datagen
    from selfheal.drift import detect_drift
    from selfheal.inference import OnnxModel
    from selfheal.schema import DEFAULT_SCHEMA
    from selfheal.training import export_onnx, train_model

    schema = DEFAULT_SCHEMA
    cols = schema.feature_names
    # One model for every predict size, so only the number of rows changes.
    model = OnnxModel.from_bytes(export_onnx(train_model(datagen.generate(5_000, seed=9), schema, n_threads=1).pipeline,
                                             schema), schema)
    reference = datagen.generate(20_000, seed=1)
    detect_drift(reference.head(500), reference.tail(500), columns=cols)  # import and first-run costs
    table = []
    for n in rows:
        df = datagen.generate(n, seed=n)
        drifted = datagen.generate(n, seed=n + 1, drift=0.5)
        columns = {c: drifted[c].to_numpy() for c in cols}
        runs: dict[str, list[float]] = {s: [] for s in STEPS}
        for _ in range(repeats):
            runs["train"].append(train_model(df, schema, n_threads=1).training_seconds)
            t0 = time.perf_counter()
            detect_drift(reference, drifted, columns=cols)
            runs["drift"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            model.predict_columns(columns)
            runs["predict"].append(time.perf_counter() - t0)
        table.append({"rows": n, **{s: statistics.median(v) for s, v in runs.items()}, "repeats": repeats})
    return table


def verdict(table: list[dict[str, Any]], step: str) -> tuple[float, float, str]:
    """Log-log slope over all sizes, over the two largest, and a one-word verdict.

    Fixed costs dominate small sizes (slope < 1 there); what matters is the slope at the large end:
    about 1 is linear, clearly above is super-linear."""
    xs = [r["rows"] for r in table]
    ys = [r[step] for r in table]
    overall = loglog_slope(xs, ys)
    tail = loglog_slope(xs[-2:], ys[-2:]) if len(xs) >= 2 else overall
    if tail <= 1.15:
        word = "linear (or better)" if tail >= 0.85 else "sub-linear (fixed costs still dominate)"
    else:
        word = "super-linear"
    return overall, tail, word


def markdown_table(table: list[dict[str, Any]]) -> str:
    lines = ["| rows | " + " | ".join(f"{LABELS[s]} s" for s in STEPS) + " | " +
             " | ".join(f"{s} µs/row" for s in STEPS) + " |",
             "|---:|" + "---:|" * (2 * len(STEPS))]
    for r in table:
        lines.append(f"| {r['rows']:,} | " + " | ".join(f"{r[s]:.3f}" for s in STEPS) + " | " +
                     " | ".join(f"{r[s] / r['rows'] * 1e6:.2f}" for s in STEPS) + " |")
    return "\n".join(lines)


def plot(table: list[dict[str, Any]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [r["rows"] for r in table]
    for step in STEPS:
        ax.plot(xs, [r[step] for r in table], marker="o", label=LABELS[step])
    ref = [table[-1]["train"] * x / xs[-1] for x in xs]
    ax.plot(xs, ref, linestyle=":", color="grey", label="linear reference (through the last training point)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds")
    ax.set_title("Growth with rows (log-log; slope 1 = linear)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def run_growth(b: Bench, res: Results, out_dir: Path) -> str:
    table = measure(b.settings.growth_rows, b.settings.growth_repeats)
    res.extra["growth"] = table
    for step in STEPS:
        overall, tail, word = verdict(table, step)
        last = table[-1]
        res.add(Row(SUITE, f"{LABELS[step]} at {last['rows']:,} rows", last[step], "s", runs=f"{b.settings.growth_repeats} per size",
                    spread=f"slope {overall:.2f} overall, {tail:.2f} at the large end",
                    note=f"growth: {word}"))
    text = markdown_table(table)
    png = out_dir / "growth.png"
    res.extra["growth_png"] = repo_path(png) if plot(table, png) else "matplotlib not installed: no PNG"
    return text
