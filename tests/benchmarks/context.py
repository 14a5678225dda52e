"""What the suites share: the run's settings, the local cloud, the baseline servers and the models."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for p in (str(ROOT), str(ROOT / "layers" / "selfheal" / "python")):
    if p not in sys.path:
        sys.path.insert(0, p)

from harness import HttpClient, RssSampler, environ_value  # noqa: E402

from tests.integration.conftest import RunningCloud, free_port, start_cloud, stop_cloud  # noqa: E402

APPS = Path(__file__).with_name("apps.py")


@dataclass(frozen=True)
class Settings:
    """Sample sizes per mode. Quick: the whole run in under 3 minutes; full: under 15."""

    quick: bool
    rounds: int  # interleaved rounds per comparison (ours, baseline, floors, in rotating order)
    latency_n: int  # sequential requests per target per round
    warmup: int  # THE warm-up: requests per connection before any measured block
    tput_seconds: float  # closed-loop duration per target per round
    batch_n: int  # 10,000-row requests per target per round
    invoke_n: int  # warm Lambda Invoke samples per round
    cold_n: int  # cold starts per function
    drift_n: int  # drift checks on 20k rows
    growth_rows: tuple[int, ...]
    growth_repeats: int

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(True, rounds=2, latency_n=120, warmup=15, tput_seconds=1.5, batch_n=2, invoke_n=150,
                       cold_n=2, drift_n=1, growth_rows=(5_000, 20_000, 80_000), growth_repeats=1)
        return cls(False, rounds=5, latency_n=600, warmup=100, tput_seconds=6.0, batch_n=4, invoke_n=600,
                   cold_n=5, drift_n=5, growth_rows=(5_000, 20_000, 80_000, 320_000), growth_repeats=3)


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_app(name: str, args: list[str], tmp: Path, env: dict[str, str] | None = None,
              ready_path: str = "/docs", timeout: float = 60) -> Server:
    port = free_port()
    log = tmp / f"{name}.log"
    proc = subprocess.Popen([sys.executable, str(APPS), *args, "--port", str(port)], cwd=ROOT,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                            env=dict(os.environ, **(env or {})))
    url = f"http://127.0.0.1:{port}"
    client = HttpClient(url, timeout=5)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-3000:]}")
        try:
            status, _ = client.get(ready_path)
            if status == 200:
                client.close()
                return Server(name, proc, url, log)
        except OSError:
            pass  # not listening yet: poll again
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} not ready after {timeout}s: {log.read_text()[-3000:]}")


@dataclass
class Bench:
    settings: Settings
    tmp: Path
    cloud: RunningCloud | None = None
    sampler: RssSampler | None = None
    servers: dict[str, Server] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    rss_snapshots: dict[str, dict[str, int]] = field(default_factory=dict)

    # ---- the local cloud -----------------------------------------------------------------------
    def start_cloud(self) -> RunningCloud:
        t0 = time.perf_counter()
        (self.tmp / "cloud").mkdir(parents=True, exist_ok=True)
        # The same command `make up` runs, on free ports and a temporary state directory.
        self.cloud = start_cloud(self.tmp / "cloud", ROOT / "template.yaml", stack_name="selfheal", extra=[
            "--after", f"{sys.executable} scripts/ops.py --endpoints {self.tmp / 'cloud' / 'state' / 'endpoints.json'} bootstrap",
            "--parameter-overrides", "CooldownHours=0"], timeout=240)
        self.sampler = RssSampler(self.cloud.proc.pid, self._label).start()
        api = HttpClient(self.cloud.api_url, timeout=30)
        deadline = time.time() + 240
        while time.time() < deadline:
            if self.cloud.proc.poll() is not None:
                raise RuntimeError(f"local cloud exited:\n{self.cloud.terminal()[-4000:]}")
            try:
                status, body = api.get("/health")
                if status == 200:
                    break
            except OSError:
                pass  # the HTTP API is not up yet: poll again
            time.sleep(0.5)
        else:
            raise RuntimeError(f"no production model after 240 s:\n{self.cloud.terminal()[-4000:]}")
        api.close()
        self.cache["cloud_ready_s"] = time.perf_counter() - t0
        self.cache["served_version"] = json.loads(body)["model_version"]
        return self.cloud

    def _label(self, pid: int) -> str:
        name = environ_value(pid, "AWS_LAMBDA_FUNCTION_NAME")
        if name:
            return logical_name(name)
        if self.cloud is not None and pid == self.cloud.proc.pid:
            return "localcloud"
        return "other"

    def snapshot_rss(self, label: str) -> None:
        if self.sampler is not None:
            self.rss_snapshots[label] = {**self.sampler.peak_by_label(), "TOTAL": self.sampler.total_peak}

    def registry(self) -> Any:
        from selfheal.registry import ModelRegistry

        assert self.cloud is not None
        return ModelRegistry(self.cloud.client("s3"), self.cloud.output("ModelBucketName"), "house-prices")

    def function_name(self, logical: str) -> str:
        assert self.cloud is not None
        return self.cloud.physical(logical)

    # ---- the same trained model, three ways ---------------------------------------------------
    def models(self) -> dict[str, Any]:
        """v0001 as ONNX bytes (what serving loads) and the scikit-learn pipeline it was exported from.

        The pipeline is refitted here on the curated training data the state machine used, with the
        TrainFunction's settings; training is seeded, so it is the same model (checked below)."""
        if "models" in self.cache:
            return self.cache["models"]
        import numpy as np

        from selfheal.schema import DEFAULT_SCHEMA
        from selfheal.storage import read_frame
        from selfheal.training import export_onnx, onnx_predict, train_model

        assert self.cloud is not None
        reg = self.registry()
        version = self.cache["served_version"]
        rec = reg.get_version(version)
        bucket, _, key = rec["manifest"]["training_key"].removeprefix("s3://").partition("/")
        data = read_frame(self.cloud.client("s3"), bucket, key)
        trained = train_model(data, DEFAULT_SCHEMA, model_type=rec["manifest"]["model_type"], n_threads=1,
                              seed=rec["manifest"]["seed"])
        onnx_bytes = reg.load_model_bytes(version)
        X = trained.X_holdout
        served = onnx_predict(onnx_bytes, X)
        refit = trained.pipeline.predict(X)
        diff = float(np.max(np.abs(served - refit)))
        if diff > 1e-3:
            raise RuntimeError(f"refitted pipeline differs from served {version} by {diff}")
        pkl = self.tmp / "pipeline.pkl"
        pkl.write_bytes(pickle.dumps(trained.pipeline))
        self.cache["models"] = {"version": version, "onnx": onnx_bytes, "pipeline": trained.pipeline,
                                "pickle": pkl, "parity_max_abs_diff": diff, "exported": export_onnx}
        return self.cache["models"]

    def baseline_server(self, omp_threads: int | None = None) -> Server:
        """The seed project's server; ``omp_threads`` caps scikit-learn's OpenMP threads (a tuned variant)."""
        key = f"baseline-omp{omp_threads}" if omp_threads else "baseline"
        if key not in self.servers:
            env = {"OMP_NUM_THREADS": str(omp_threads)} if omp_threads else {}
            self.servers[key] = start_app(key, ["sklearn", "--model", str(self.models()["pickle"])], self.tmp, env=env)
        return self.servers[key]

    def nohop_server(self) -> Server:
        if "nohop" not in self.servers:
            assert self.cloud is not None
            env = {"AWS_ENDPOINT_URL": self.cloud.endpoint_url, "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                   "MODEL_BUCKET": self.cloud.output("ModelBucketName"), "MODEL_NAME": "house-prices",
                   "DATA_BUCKET": self.cloud.output("DataBucketName"),
                   "STATE_TABLE": self.cloud.output("StateTableName"), "ALIAS_CHECK_SECONDS": "1"}
            self.servers["nohop"] = start_app("nohop", ["selfheal"], self.tmp, env=env, ready_path="/health")
        return self.servers["nohop"]

    def close(self) -> None:
        for s in self.servers.values():
            s.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.cloud is not None:
            stop_cloud(self.cloud)


def logical_name(physical: str) -> str:
    """``selfheal-PredictFunction-BE7756CF9F84`` -> ``PredictFunction``; other names unchanged."""
    parts = physical.split("-")
    return parts[1] if len(parts) == 3 and parts[0] == "selfheal" else physical


def new_tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="selfheal-bench-"))
