"""Drift checks: the summaries the drift function writes next to each Evidently report."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from console.api.deps import StateDep

router = APIRouter(prefix="/api", tags=["drift"])

PREFIX = "reports/"
SUMMARY_SUFFIX = "-drift.json"


@router.get("/drift")
def drift(state: StateDep, offset: int = Query(0, ge=0), limit: int = Query(25, ge=1, le=100)) -> dict[str, Any]:
    """Newest first. Keys embed the UTC time, so key order is time order."""
    bucket = state.output("DataBucketName", "DataBucket")
    if not bucket:
        raise HTTPException(404, "the stack has no data bucket (output DataBucketName)")
    s3 = state.cloud.client("s3")
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(SUMMARY_SUFFIX)]
    keys.sort(reverse=True)
    window = keys[offset:offset + limit]

    def summary(key: str) -> dict[str, Any]:
        cached = state.cache.get(f"drift:{bucket}:{key}")
        if cached is None:
            cached = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            state.cache.put(f"drift:{bucket}:{key}", cached)
        return cached

    items = []
    for key, doc in zip(window, state.pool.map(summary, window), strict=True):
        report_key = doc.get("report_key") or key.removesuffix(".json") + ".html"
        # A presigned GET: the report is served by S3 itself, on another origin than the console.
        url = s3.generate_presigned_url("get_object", ExpiresIn=3600, Params={
            "Bucket": bucket, "Key": report_key, "ResponseContentType": "text/html"})
        scores = doc.get("column_scores") or {}
        items.append({
            "key": key,
            "at": doc.get("at"),
            "batch_key": doc.get("batch_key"),
            "drifted_share": doc.get("drifted_share"),
            "threshold_share": doc.get("threshold_share"),
            "dataset_drift": doc.get("dataset_drift"),
            "drifted_columns": doc.get("drifted_columns") or [c for c, s in scores.items() if s.get("drifted")],
            "column_scores": scores,
            "rows_current": doc.get("rows_current"),
            "rows_reference": doc.get("rows_reference"),
            "report_key": report_key,
            "report_url": url,
        })
    return {"items": items, "total": len(keys), "offset": offset, "limit": limit}
