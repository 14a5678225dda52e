"""`make demo`: the whole self-healing story against a fresh local cloud, with a summary.

1. bootstrap: v0001 trained by a state-machine execution and promoted
2. predict over the HTTP API
3. a drifted batch retrains and promotes v0002
4. a poisoned batch's challenger is rejected; the champion stays
5. a corrupted production model is detected by recover and rolled back
6. predictions keep working

All data is SYNTHETIC (selfheal.datagen), generated offline. Exits non-zero if any step fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "selfheal" / "python"))
sys.path.insert(0, str(ROOT / "scripts"))

import requests  # noqa: E402
from ops import Cloud, state_path, wait_execution  # noqa: E402

from selfheal import datagen  # noqa: E402
from selfheal.schema import DEFAULT_SCHEMA  # noqa: E402


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port")


class Demo:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, bool]] = []

    def step(self, title: str, ok: bool, detail: str) -> None:
        self.rows.append((title, detail, ok))
        print(f"{'PASS' if ok else 'FAIL'}  {title}: {detail}", flush=True)


def _new_execution(cloud: Cloud, known: set[str], timeout: float = 180) -> dict[str, Any] | None:
    sfn = cloud.client("stepfunctions")
    end = time.time() + timeout
    while time.time() < end:
        new = [e for e in sfn.list_executions(stateMachineArn=cloud.outputs["StateMachineArn"])["executions"]
               if e["executionArn"] not in known]
        if new:
            return wait_execution(cloud, new[0]["executionArn"])
        time.sleep(0.5)
    return None


def _executions(cloud: Cloud) -> set[str]:
    sfn = cloud.client("stepfunctions")
    return {e["executionArn"] for e in sfn.list_executions(stateMachineArn=cloud.outputs["StateMachineArn"])["executions"]}


def run(demo: Demo, cloud: Cloud) -> None:
    registry = cloud.registry()
    bucket = cloud.outputs["DataBucketName"]
    s3 = cloud.client("s3")

    def predict() -> requests.Response:
        return requests.post(f"{cloud.api_url}/predict", json=DEFAULT_SCHEMA.example_record(), timeout=60)

    # 1. bootstrap (run by `up --after`); wait for it
    end = time.time() + 300
    while registry.production() is None and time.time() < end:
        time.sleep(1)
    prod = registry.production()
    demo.step("1 bootstrap", bool(prod and prod["version"] == "v0001"),
              f"production {prod['version'] if prod else 'none'}, R2 "
              f"{registry.get_version('v0001')['metrics']['r2']:.3f}" if prod else "no model after 300 s")
    if not prod:
        return
    r = predict()
    demo.step("2 predict", r.ok and r.json()["model_version"] == "v0001", f"{r.status_code} {r.text}")

    known = _executions(cloud)
    s3.put_object(Bucket=bucket, Key="incoming/drifted.csv",
                  Body=datagen.to_csv_bytes(datagen.generate(3000, seed=21, drift=1.0)))
    desc = _new_execution(cloud, known)
    path = " -> ".join(state_path(cloud, desc["executionArn"])) if desc else "no execution started"
    after = registry.production()["version"]
    demo.step("3 drifted batch", bool(desc and desc["status"] == "SUCCEEDED" and after == "v0002"),
              f"{path}; production {after}")

    known = _executions(cloud)
    poisoned = datagen.poison_labels(datagen.generate(8000, seed=31), seed=31)
    s3.put_object(Bucket=bucket, Key="incoming/poisoned.csv", Body=datagen.to_csv_bytes(poisoned))
    desc = _new_execution(cloud, known)
    path = " -> ".join(state_path(cloud, desc["executionArn"])) if desc else "no execution started"
    stays = registry.production()["version"]
    demo.step("4 poisoned batch", bool(desc and "RecordRejection" in path and stays == "v0002"),
              f"{path}; production stays {stays}")

    s3.put_object(Bucket=cloud.outputs["ModelBucketName"], Key="models/house-prices/v0002/model.onnx",
                  Body=b"corrupted by the demo")
    resp = cloud.client("lambda").invoke(FunctionName=cloud.outputs["RecoverFunctionName"],
                                         Payload=json.dumps({"mode": "scheduled"}).encode())
    out = json.loads(resp["Payload"].read())
    restored = registry.production()["version"]
    demo.step("5 corrupted model", not resp.get("FunctionError") and out.get("healthy") and restored == "v0001",
              f"recover: {[a['action'] for a in out.get('actions', [])]}; production {restored}")

    time.sleep(1.5)
    r = predict()
    demo.step("6 predictions keep working", r.ok and r.json()["model_version"] == restored, f"{r.status_code} {r.text}")


def main() -> int:
    state = ROOT / ".localcloud-demo"
    shutil.rmtree(state, ignore_errors=True)
    port, api_port = _free_port(4566), _free_port(3000)
    cmd = [sys.executable, "-m", "infra.localcloud.cli", "up", "--template", str(ROOT / "template.yaml"),
           "--port", str(port), "--api-port", str(api_port), "--state-dir", str(state), "--stack-name", "selfheal",
           "--parameter-overrides", "CooldownHours=0", "--after", f"{sys.executable} {ROOT / 'scripts' / 'ops.py'} bootstrap"]
    log_path = ROOT / ".localcloud-demo.log"
    print(f"starting a fresh local cloud (AWS APIs :{port}, HTTP API :{api_port}); its log: {log_path}", flush=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), BOOTSTRAP_ROWS="12000"))
        demo = Demo()
        try:
            endpoints = state / "endpoints.json"
            end = time.time() + 180
            while not endpoints.exists() and time.time() < end and proc.poll() is None:
                time.sleep(0.2)
            if not endpoints.exists():
                print(log_path.read_text()[-3000:], file=sys.stderr)
                return 1
            run(demo, Cloud(endpoints))
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("\nSummary (synthetic data)")
    for title, detail, ok in demo.rows:
        print(f"  {'ok ' if ok else 'BAD'} {title:<28} {detail[:110]}")
    passed = len(demo.rows) == 6 and all(ok for *_, ok in demo.rows)
    print("demo PASSED" if passed else "demo FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
