"""Live monitoring: the run records MonitorFunction writes, their reports, and the prediction distribution.

Run records and reports never change once written (a run writes them once, under a new run id), so
each record is read once and cached, as is the distribution computed for a run. Reports are opened
as the drift page opens Evidently's: through a presigned S3 URL, on S3's origin, never the console's,
so a report's scripts never run next to the console's session cookie.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import RedirectResponse

from console.api.deps import ConsoleState, StateDep
from console.api.models import DEFAULT_MODEL
from console.monitoring import (
    CONTENT_TYPES,
    HOLDOUT_PREDICTIONS,
    RUNS_PREFIX,
    InvalidKeyError,
    distribution,
    finite,
    histogram,
    key_kind,
    quantiles,
    recorded_histogram,
    run_summary,
)
from selfheal import capture
from selfheal.config import Settings

router = APIRouter(prefix="/api/monitoring", tags=["monitoring"])

KEY_MAX = 300
# The distribution of a window is computed from at most this many capture objects, spread evenly
# over the window (a sample of a busy hour says as much as all of it, and the page stays quick).
MAX_CAPTURE_OBJECTS = 200
_VERSION = re.compile(r"^v\d{4,}$")
NOT_FOUND = ("NoSuchKey", "404", "NotFound")


def _bucket(state: ConsoleState) -> str:
    bucket = state.output("DataBucketName", "DataBucket")
    if not bucket:
        raise HTTPException(404, "the stack has no data bucket (output DataBucketName)")
    return bucket


def _checked(key: str, *kinds: str) -> str:
    try:
        return key_kind(key, kinds)
    except InvalidKeyError as exc:
        raise HTTPException(400, str(exc)) from exc


def _get_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            raise HTTPException(404, f"no object {key} in the data bucket") from exc
        raise


def _summary(state: ConsoleState, s3: Any, bucket: str, key: str) -> dict[str, Any]:
    cache_key = f"monitor-run:{bucket}:{key}"
    found = state.cache.get(cache_key)
    if found is None:
        try:
            found = run_summary(key, _get_json(s3, bucket, key))
        except (ValueError, AttributeError) as exc:  # not JSON, or JSON that is not a record: shown, not fatal
            return {"key": key, "run_id": key.removeprefix(RUNS_PREFIX).removesuffix(".json"),
                    "error": f"unreadable run record: {exc}"}
        state.cache.put(cache_key, found)
    return found


def _configured_threshold(state: ConsoleState) -> float:
    """MonitorFunction's ``DRIFT_SHARE_THRESHOLD`` (a template parameter), else the layer's default."""
    raw = state.function_env("MonitorFunction", "MonitorFunctionName").get("DRIFT_SHARE_THRESHOLD")
    try:
        return float(raw) if raw else Settings.drift_share_threshold
    except ValueError:
        return Settings.drift_share_threshold


@router.get("/runs")
def runs(state: StateDep, limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    """The newest ``limit`` runs, newest first (run ids embed the UTC time: key order is time order)."""
    bucket = _bucket(state)
    s3 = state.cloud.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=RUNS_PREFIX):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".json")]
    keys.sort()
    newest = keys[-limit:][::-1]
    items = list(state.pool.map(lambda k: _summary(state, s3, bucket, k), newest))
    threshold = next((r["threshold_share"] for r in items if r.get("threshold_share") is not None), None)
    return {"items": items, "total": len(keys), "limit": limit,
            "threshold": threshold if threshold is not None else _configured_threshold(state) if items else None}


@router.get("/report", response_class=RedirectResponse, status_code=307)
def report(state: StateDep, key: str = Query(..., min_length=1, max_length=KEY_MAX)) -> RedirectResponse:
    """A run's HTML report (``reports/monitor/``) or its JSON record (``monitoring/runs/``), served by S3."""
    kind = _checked(key, "run", "report")
    bucket = _bucket(state)
    s3 = state.cloud.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
            raise HTTPException(404, f"no object {key} in the data bucket") from exc
        raise
    url = s3.generate_presigned_url("get_object", ExpiresIn=3600, Params={
        "Bucket": bucket, "Key": key, "ResponseContentType": CONTENT_TYPES[kind]})
    return RedirectResponse(url, status_code=307)


def _holdout(state: ConsoleState, version: str | None) -> list[float] | None:
    """The version's ONNX predictions on its holdout (the monitor's reference), ``None`` if it has none."""
    model_bucket = state.output("ModelBucketName", "ModelBucket")
    if not version or not _VERSION.match(version) or not model_bucket:
        return None
    key = f"models/{state.model_name or DEFAULT_MODEL}/{version}/{HOLDOUT_PREDICTIONS}"
    cache_key = f"holdout:{model_bucket}:{key}"
    found = state.cache.get(cache_key)
    if found is None:
        try:
            doc = _get_json(state.cloud.client("s3"), model_bucket, key)
        except HTTPException:  # trained before holdout predictions were kept
            return None
        found = finite(doc.get("predictions") or []) if isinstance(doc, dict) else []
        state.cache.put(cache_key, found)
    return found


def _window_predictions(state: ConsoleState, bucket: str, doc: dict[str, Any]) -> tuple[list[float], dict[str, Any]]:
    """The predictions of the run's production version captured in its window, and how they were read."""
    window = doc.get("window") or {}
    try:
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
    except (KeyError, TypeError, ValueError):
        return [], {"reason": "the run record has no window"}
    s3 = state.cloud.client("s3")
    objects = capture.list_objects(s3, bucket, start, end)
    step = max(1, math.ceil(len(objects) / MAX_CAPTURE_OBJECTS))
    chosen = [o["Key"] for o in objects[::step]]

    def read(key: str) -> list[capture.CaptureRecord]:
        try:
            return list(capture.decode(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except (OSError, EOFError, zlib.error):  # not gzip, or truncated: the monitor skips it too
            return []

    version = doc.get("production_version")
    values = finite(r.get("prediction") for records in state.pool.map(read, chosen) for r in records
                    if not version or r.get("model_version") == version)
    return values, {"objects_total": len(objects), "objects_read": len(chosen), "sampled": step > 1}


@router.get("/distribution")
def prediction_distribution(state: StateDep, key: str = Query(..., min_length=1, max_length=KEY_MAX)
                            ) -> dict[str, Any]:
    """A run's predictions (its production version's, in its window) beside that version's holdout
    predictions, on shared bins: from the record when it carries a histogram, else from the captures."""
    _checked(key, "run")
    bucket = _bucket(state)
    cache_key = f"monitor-dist:{bucket}:{key}"
    found = state.cache.get(cache_key)
    if found is not None:
        return found
    doc = _get_json(state.cloud.client("s3"), bucket, key)
    if not isinstance(doc, dict):
        raise HTTPException(422, f"{key} is not a run record")
    version = doc.get("production_version")
    holdout = _holdout(state, version)
    recorded = recorded_histogram(doc)
    if recorded is not None:
        edges, counts, reference = recorded["edges"], recorded["counts"], recorded["reference_counts"]
        if reference is None and holdout is not None:
            reference = histogram(holdout, edges)
        result: dict[str, Any] = {
            "source": "record", "edges": edges, "window": {"rows": sum(counts), "counts": counts, "quantiles": {}},
            "holdout": None if reference is None else {"rows": sum(reference), "counts": reference,
                                                       "quantiles": quantiles(holdout) if holdout else {}}}
    else:
        values, read = _window_predictions(state, bucket, doc)
        result = {"source": "captures", **read, **distribution(values, holdout)}
    result.update(key=key, run_id=doc.get("run_id"), version=version)
    state.cache.put(cache_key, result)
    return result
