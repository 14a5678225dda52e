"""Suite monitor: one MonitorFunction run over 100,000 captured predictions, 10% of them labelled.

    python tests/benchmarks/bench_monitor.py [--records 100000] [--labelled 0.1] [--repeats 3]

Runs the monitor's flow in this process against moto (no local cloud, no Lambda runtime): the same
S3 reads, Evidently checks, report, record and retraining start that MonitorFunction does. The
traffic is drifted (so the run alerts, writes the labelled batch and starts a retraining: the
longest path), written as PredictFunction writes it (1,000 records per capture object), with one
label file. Evidently is imported before the clock starts, as in a warm Lambda; the figure is the
median over ``repeats`` runs of the same window (the window state is reset between them).
Target: under 15 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for p in (str(ROOT), str(ROOT / "layers" / "selfheal" / "python")):
    if p not in sys.path:
        sys.path.insert(0, p)

SUITE = "monitor"
TARGET_SECONDS = 15.0
DATA, MODELS, TABLE = "bench-data", "bench-models", "bench-state"


def measure(records: int = 100_000, labelled: float = 0.1, repeats: int = 3) -> dict[str, Any]:
    """Seconds per monitor run, and what the last run recorded."""
    import os

    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from selfheal import datagen
    from selfheal.config import Settings
    from selfheal.context import Context
    from selfheal.drift import detect_drift
    from selfheal.flows.keys import REFERENCE_KEY
    from selfheal.flows.live import run_monitor
    from selfheal.inference import OnnxModel
    from selfheal.registry import HOLDOUT_PREDICTIONS_FILE
    from selfheal.schema import DEFAULT_SCHEMA
    from selfheal.telemetry import Telemetry
    from selfheal.training import export_onnx, onnx_predict, train_model
    from tests.functional.traffic import labels_csv, predictions, traffic, write_capture
    from tests.functional.traffic import records as capture_records

    schema = DEFAULT_SCHEMA
    reference = datagen.generate(20_000, seed=1)
    trained = train_model(reference, schema, n_threads=1)
    onnx = export_onnx(trained.pipeline, schema)
    model = OnnxModel.from_bytes(onnx, schema)
    detect_drift(reference.head(500), reference.tail(500), columns=schema.feature_names)  # imports, first-run costs

    with mock_aws():
        s3, ddb, sfn = boto3.client("s3"), boto3.client("dynamodb"), boto3.client("stepfunctions")
        for bucket in (DATA, MODELS):
            s3.create_bucket(Bucket=bucket)
        ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        role = boto3.client("iam").create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        machine = sfn.create_state_machine(name="self-healing", roleArn=role, definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
        settings = Settings(data_bucket=DATA, model_bucket=MODELS, state_table=TABLE, state_machine_arn=machine,
                            cooldown_hours=0)
        ctx = Context(settings=settings, s3=s3, dynamodb=ddb, stepfunctions=sfn, telemetry=Telemetry(write=lambda _: None))
        holdout = onnx_predict(onnx, trained.X_holdout).tolist()
        version = ctx.registry.publish_version(onnx, trained.metrics, {"trigger": "bench"},
                                               documents={HOLDOUT_PREDICTIONS_FILE: {"predictions": holdout}})
        ctx.registry.promote(version, reason="bench")
        s3.put_object(Bucket=DATA, Key=REFERENCE_KEY, Body=datagen.to_csv_bytes(reference))

        frame = traffic(records, seed=2, drift=0.5)
        recs = capture_records(frame, predictions(model, frame), version=version)
        n_labels = int(records * labelled)
        write_capture(s3, DATA, recs, per_object=1000)
        s3.put_object(Bucket=DATA, Key="labels/bench.csv", Body=labels_csv(recs[:n_labels], frame["MedHouseVal"][:n_labels]))
        time.sleep(1.05)  # S3's LastModified has whole seconds: let the window's end pass the last write

        seconds, record = [], {}
        for _ in range(repeats):
            ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "MONITOR"}, "sk": {"S": "LAST_RUN"}})
            holder = ctx.lock.holder()
            if holder:
                ctx.lock.release(holder["owner"])
            t0 = time.perf_counter()
            record = run_monitor(ctx, trigger="bench")
            seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "median": statistics.median(seconds), "records": record["records"],
            "labelled_rows": record["labelled_rows"], "actions": record["actions"],
            "feature_drift_share": record["feature_drift_share"],
            "evidently_rows": record["feature_drift_detail"].get("rows_current"),
            "sampled_from": record["feature_drift_detail"].get("sampled_from")}


def run_monitor_suite(b: Any, res: Any) -> None:
    from harness import Row

    quick = b.settings.quick
    out = measure(repeats=1 if quick else 3)
    res.extra["monitor"] = out
    res.add(Row(SUITE, f"monitor run over {out['records']:,} captured records, {out['labelled_rows']:,} labelled "
                       f"(Evidently on {out['evidently_rows']:,} sampled rows)", out["median"], "s",
                runs=str(len(out["seconds"])), spread=f"{min(out['seconds']):.2f}..{max(out['seconds']):.2f} s",
                target=f"< {TARGET_SECONDS:g} s", met=out["median"] < TARGET_SECONDS,
                note=f"actions: {', '.join(out['actions'])}"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--labelled", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    out = measure(args.records, args.labelled, args.repeats)
    print(json.dumps(out, indent=2))
    print(f"monitor run: median {out['median']:.2f} s over {len(out['seconds'])} runs "
          f"({'under' if out['median'] < TARGET_SECONDS else 'OVER'} the {TARGET_SECONDS:g} s target)")
    return 0 if out["median"] < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
