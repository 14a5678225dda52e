"""Model versions from the S3 registry, the production alias, and promote/rollback via PromoteFunction.

Promoting a version Validate rejected is refused unless the request overrides the rejection with a
reason; the reason travels to PromoteFunction, whose audit item (and the alias history) then says so.

The registry layout is a product contract (see ``selfheal.registry``)::

    models/<model>/vNNNN/manifest.json       immutable, written last: a version without it is incomplete
    models/<model>/aliases/production.json   the alias, with its history (newest first)
    models/<model>/status/vNNNN.json         a verdict: "rejected" or "rolled_back"

Manifests never change once written, so each is read once and cached.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from console.api.deps import StateDep, TokenDep
from selfheal import lineage
from selfheal.schema import DEFAULT_SCHEMA

router = APIRouter(prefix="/api", tags=["models"])

_VERSION = re.compile(r"^v\d{4,}$")
DEFAULT_MODEL = "house-prices"


def _bucket(state: StateDep) -> str:
    bucket = state.output("ModelBucketName", "ModelBucket")
    if not bucket:
        raise HTTPException(404, "the stack has no model bucket (output ModelBucketName)")
    return bucket


def _get_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def _prefixes(s3: Any, bucket: str, prefix: str) -> list[str]:
    names: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        names += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return names


def status_of(version: str, alias: dict[str, Any] | None, marks: dict[str, dict[str, Any]]) -> str:
    """Same precedence as ``ModelRegistry.version_status``: alias, then a verdict, then history."""
    if alias and alias.get("version") == version:
        return "production"
    if version in marks:
        return str(marks[version].get("status"))
    if alias and any(h.get("version") == version for h in alias.get("history", [])):
        return "previous"
    return "candidate"


@router.get("/models")
def models(state: StateDep, model: str | None = None) -> dict[str, Any]:
    s3 = state.cloud.client("s3")
    bucket = _bucket(state)
    names = _prefixes(s3, bucket, "models/")
    name = model or state.model_name or (DEFAULT_MODEL if DEFAULT_MODEL in names or not names else names[0])
    prefix = f"models/{name}/"
    versions = sorted((v for v in _prefixes(s3, bucket, prefix) if _VERSION.match(v)), key=lambda v: int(v[1:]))

    def manifest(version: str) -> dict[str, Any] | None:
        key = f"manifest:{bucket}:{prefix}{version}"
        found = state.cache.get(key)
        if found is None:
            found = _get_json(s3, bucket, f"{prefix}{version}/manifest.json")
            if found is not None:
                state.cache.put(key, found)
        return found

    def marks() -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}status/"):
            for obj in page.get("Contents", []):
                key = f"mark:{bucket}:{obj['Key']}:{obj.get('ETag')}"
                mark = state.cache.get(key) or _get_json(s3, bucket, obj["Key"])
                if mark:
                    state.cache.put(key, mark)
                    found[str(mark.get("version"))] = mark
        return found

    alias_f = state.pool.submit(_get_json, s3, bucket, f"{prefix}aliases/production.json")
    marks_f = state.pool.submit(marks)
    manifests = list(state.pool.map(manifest, versions))
    alias, verdicts = alias_f.result(), marks_f.result()
    items: list[dict[str, Any]] = []
    schemas: dict[str, dict[str, Any]] = {}
    for version, doc in zip(versions, manifests, strict=True):
        if doc is None:
            continue  # incomplete: the writer died before the manifest
        metrics = doc.get("metrics") or {}
        status = status_of(version, alias, verdicts)
        schemas[version] = schema_summary(doc)
        items.append({
            "version": version,
            "status": status,
            "status_reason": (verdicts.get(version) or {}).get("reason"),
            "created_at": doc.get("created_at"),
            "metrics": {k: metrics.get(k) for k in ("r2", "rmse", "mae", "mape", "parity_max_abs_diff")},
            "data_fingerprint": doc.get("data_fingerprint"),
            "trigger": doc.get("trigger"),
            "parent_version": doc.get("parent_version"),
            "execution_arn": doc.get("execution_arn"),
            "model_type": doc.get("model_type"),
            "rows": doc.get("rows"),
            "schema": schemas[version],
        })
    # The unit of the production version (the newest one before any promotion).
    shown = (alias or {}).get("version") or (items[-1]["version"] if items else None)
    unit = schemas[shown]["unit"] if shown in schemas else DEFAULT_SCHEMA.target.unit
    return {"model": name, "models": names or [name], "bucket": bucket, "alias": alias, "versions": items,
            "unit": unit}


def schema_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The schema a version was trained with (selfheal.lineage), as the console shows it."""
    schema = lineage.schema_of(manifest, DEFAULT_SCHEMA)
    return {"name": schema.name, "target": schema.target.name, "unit": schema.target.unit,
            "transform": schema.target.transform, "features": len(schema.feature_names)}


class PromoteRequest(BaseModel):
    version: str
    reason: str = "promoted from the console"
    override: bool = False  # promote a version Validate rejected; needs override_reason
    override_reason: str = Field("", max_length=500)


class RollbackRequest(BaseModel):
    reason: str = "rolled back from the console"
    to_version: str | None = None


def _invoke_promote(state: StateDep, payload: dict[str, Any]) -> dict[str, Any]:
    """Through PromoteFunction, so the move is audited and locked exactly like the pipeline's own."""
    fn = state.output("PromoteFunctionName", "PromoteFunction")
    if not fn:
        raise HTTPException(404, "the stack has no PromoteFunction")
    resp = state.cloud.client("lambda").invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        err = body if isinstance(body, dict) else {}
        raise HTTPException(409, f"{err.get('errorType', 'Error')}: {err.get('errorMessage', body)}")
    return body if isinstance(body, dict) else {"result": body}


def _rejection(state: StateDep, version: str) -> str | None:
    """Why Validate rejected ``version`` (of the model PromoteFunction moves), or ``None`` if it is not rejected."""
    name = state.function_env("PromoteFunction", "PromoteFunctionName").get("MODEL_NAME") or state.model_name \
        or DEFAULT_MODEL
    s3, bucket, prefix = state.cloud.client("s3"), _bucket(state), f"models/{name}/"
    mark = _get_json(s3, bucket, f"{prefix}status/{version}.json")
    if not mark:
        return None
    alias = _get_json(s3, bucket, f"{prefix}aliases/production.json")
    if status_of(version, alias, {version: mark}) != "rejected":
        return None
    return str(mark.get("reason") or "validation failed")


@router.post("/models/promote")
def promote(body: PromoteRequest, state: StateDep, _: TokenDep) -> dict[str, Any]:
    if not _VERSION.match(body.version):
        raise HTTPException(400, f"invalid version {body.version!r}")
    reason = body.reason
    rejected = _rejection(state, body.version)
    if rejected is not None:
        override = body.override_reason.strip() if body.override else ""
        if not override:
            raise HTTPException(409, {
                "error": "version_rejected", "version": body.version, "rejected_because": rejected,
                "message": f"{body.version} was rejected by Validate: {rejected}. Promoting it anyway is an "
                           "override of that rejection: send override: true and an override_reason, which "
                           "the audit trail records"})
        reason = f"{reason}; overrides the rejection [{rejected}]: {override}"
    result = _invoke_promote(state, {"action": "promote", "version": body.version, "reason": reason,
                                     "execution_arn": None})
    return {**result, "overrode_rejection": rejected}


@router.post("/models/rollback")
def rollback(body: RollbackRequest, state: StateDep, _: TokenDep) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": "rollback", "reason": body.reason, "execution_arn": None}
    if body.to_version:
        if not _VERSION.match(body.to_version):
            raise HTTPException(400, f"invalid version {body.to_version!r}")
        payload["to_version"] = body.to_version
    return _invoke_promote(state, payload)
