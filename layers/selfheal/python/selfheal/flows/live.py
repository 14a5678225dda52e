"""MonitorFunction: watch the live traffic captured since the previous run, and heal through retraining.

A run, scheduled (``MonitorSchedule``) or on demand (``make monitor``):

1. takes the window of capture objects stored since the previous run (``selfheal.live.monitor_window``;
   the state is the ``MONITOR``/``LAST_RUN`` item of the state table);
2. reads the label files under ``labels/`` (quarantining the malformed ones, once per object
   version) and joins them to the predictions captured over the retention period
   (``CaptureRetentionDays``), not only the window: labels arrive late;
3. measures feature drift of the window against ``reference/current.csv`` (Evidently, the same
   threshold as uploads), prediction drift against the production version's holdout predictions,
   target drift of the labelled rows against the reference's target, and live RMSE / MAE / R²
   per model version with its degradation against the version's promotion RMSE;
4. acts on ``selfheal.live.decide``: alerts, and with enough labelled rows a retraining on them
   through the lock and the cooldown that uploads go through (``flows.monitor.start_retraining``);
5. writes ``reports/monitor/<run id>.html`` and ``monitoring/runs/<run id>.json`` (the record the
   console charts), audits ``monitor_run``, and only then moves the window on: a run that fails
   leaves its window to the next one.

Evidently sees at most ``MAX_DRIFT_ROWS`` window rows (a seeded sample, said so in the record):
a normed Wasserstein distance is stable long before, and the run stays within seconds.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import ClientError

from selfheal import capture
from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction, AuditItem
from selfheal.clock import as_utc, isoformat
from selfheal.context import Context
from selfheal.drift import DriftResult, detect_drift
from selfheal.exceptions import DataQualityError, ModelNotFoundError
from selfheal.flows.keys import REFERENCE_KEY, quarantine_key
from selfheal.flows.monitor import start_retraining
from selfheal.flows.quarantine import quarantine_batch
from selfheal.labels import LABELS_PREFIX, MergedLabels, join_labels, merge_labels, parse_labels
from selfheal.live import (
    MIN_DRIFT_ROWS,
    Decision,
    RunRecord,
    Window,
    capture_frame,
    decide,
    monitor_window,
    render_report,
    sample,
    training_batch,
    version_metrics,
)
from selfheal.pending import PendingBatches
from selfheal.registry import HOLDOUT_PREDICTIONS_FILE
from selfheal.storage import exists, read_bytes, read_frame, read_json, write_frame, write_json

logger = logging.getLogger(__name__)

RUNS_PREFIX = "monitoring/runs/"
REPORTS_PREFIX = "reports/monitor/"
BATCHES_PREFIX = "curated/monitor/"
MAX_DRIFT_ROWS = 20_000
READ_THREADS = 8  # capture objects are small: reading them is S3 round trips, overlapped
UNMATCHED_EXAMPLES = 10
# start_retraining's decisions, as the run's actions name them.
_RETRAIN_ACTIONS = {("retrain_started", None): "retrain_started", ("deferred", "cooldown"): "retrain_skipped_cooldown",
                    ("deferred", "lock"): "retrain_skipped_lock"}


def run_id(moment: datetime) -> str:
    """``20240501T120000.123456Z``: sorts by time, as the drift reports' keys do."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%S.%fZ")


class MonitorState:
    """The end of the last completed run's window: ``pk = "MONITOR", sk = "LAST_RUN"`` in the state table."""

    _KEY = {"pk": {"S": "MONITOR"}, "sk": {"S": "LAST_RUN"}}

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._ddb = dynamodb_client
        self._table = table_name

    def last_end(self) -> datetime | None:
        item = self._ddb.get_item(TableName=self._table, Key=self._KEY, ConsistentRead=True).get("Item")
        return datetime.fromisoformat(item["window_end"]["S"]) if item else None

    def advance(self, end: datetime, run: str) -> bool:
        """Record ``end``; never moves back (an on-demand run racing a scheduled one). False if it would."""
        epoch = Decimal(str(int(as_utc(end).timestamp())))
        try:
            self._ddb.put_item(TableName=self._table, Item={
                **self._KEY, "window_end": {"S": as_utc(end).isoformat()}, "window_end_epoch": {"N": str(epoch)},
                "run_id": {"S": run}}, ConditionExpression="attribute_not_exists(pk) OR window_end_epoch < :end",
                ExpressionAttributeValues={":end": {"N": str(epoch)}})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True


# ---- reading: labels and captures ---------------------------------------------------------------


@dataclass
class LabelsRead:
    merged: MergedLabels
    files: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    already_quarantined: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"files": len(self.files), "rows": sum(f["rows_out"] for f in self.files), "ids": len(self.merged.frame),
                "rows_dropped": sum(f["rows_dropped"] for f in self.files),
                "duplicates": sum(f["duplicates"] for f in self.files) + self.merged.replaced,
                "quarantined": self.quarantined, "already_quarantined": self.already_quarantined,
                "per_file": self.files}


def _objects(s3: Any, bucket: str, prefix: str, *, start_after: str = "") -> Iterator[dict[str, Any]]:
    kwargs = {"Bucket": bucket, "Prefix": prefix, **({"StartAfter": start_after} if start_after else {})}
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        yield from page.get("Contents", [])


def read_labels(ctx: Context, *, since: datetime) -> LabelsRead:
    """Every label file stored after ``since``, oldest first; malformed ones quarantined (once per ETag)."""
    s = ctx.settings
    schema = ctx.schema
    files = sorted((o for o in _objects(ctx.s3, s.data_bucket, LABELS_PREFIX)
                    if o["LastModified"] > since and not o["Key"].endswith("/")),
                   key=lambda o: (o["LastModified"], o["Key"]))
    # A quarantined file stays where it was uploaded: its reason's source ETag says it was seen.
    reasons = {o["Key"] for o in _objects(ctx.s3, s.data_bucket, quarantine_key(LABELS_PREFIX))
               if o["Key"].endswith(".reason.json")}
    out = LabelsRead(merged=merge_labels([], schema))
    frames = []
    for obj in files:
        key, etag = obj["Key"], obj["ETag"]
        reason_key = quarantine_key(key) + ".reason.json"
        if reason_key in reasons and (read_json(ctx.s3, s.data_bucket, reason_key).get("details") or {}).get(
                "source_etag") == etag:
            out.already_quarantined.append(key)
            continue
        try:
            parsed = parse_labels(read_bytes(ctx.s3, s.data_bucket, key, max_bytes=s.max_upload_bytes), schema,
                                  max_bytes=s.max_upload_bytes)
        except DataQualityError as err:
            err.details["source_etag"] = etag
            record = quarantine_batch(ctx, s.data_bucket, key, err)
            out.quarantined.append({"key": key, "reason": record["reason"], "message": record["message"]})
            continue
        frames.append(parsed.frame)
        out.files.append({"key": key, **parsed.report()})
    out.merged = merge_labels(frames, schema)
    return out


def capture_objects(s3: Any, bucket: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Capture objects with ``start < LastModified <= end``, oldest first, in one listing.

    One paginated listing from the first partition that can hold them (``StartAfter``), rather than
    ``capture.list_objects``'s listing per hour: a 30-day retention is 720 hourly partitions. As
    there, the listing starts an hour early (the partition is the writer's clock).
    """
    after = capture.partition_prefix(start - timedelta(hours=1))
    found = [o for o in _objects(s3, bucket, capture.CAPTURE_PREFIX, start_after=after)
             if start < o["LastModified"] <= end]
    return sorted(found, key=lambda o: (o["LastModified"], o["Key"]))


def read_captures(s3: Any, bucket: str, keys: list[str], *, threads: int = READ_THREADS
                  ) -> tuple[list[list[capture.CaptureRecord]], list[str]]:
    """The records of each object (in ``keys`` order), and the keys that could not be decoded."""
    def read(key: str) -> list[capture.CaptureRecord] | None:
        try:
            return list(capture.decode(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        except (OSError, EOFError, zlib.error) as err:  # not gzip, or truncated: skipped, counted
            logger.warning("capture object s3://%s/%s is unreadable: %s", bucket, key, err)
            return None

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(read, keys))
    return [r or [] for r in results], [k for k, r in zip(keys, results, strict=True) if r is None]


# ---- measuring ----------------------------------------------------------------------------------


def _column_drift(reference: pd.DataFrame, current: pd.DataFrame, column: str, *, threshold: float,
                  what: str) -> dict[str, Any]:
    """One column's drift verdict (prediction or target), or ``drifted: None`` with the reason."""
    current = current[[column]].dropna()
    reference = reference[[column]].dropna()
    if len(current) < MIN_DRIFT_ROWS:
        return {"drifted": None, "reason": f"too few {what} to judge ({len(current)} < {MIN_DRIFT_ROWS})",
                "rows_current": len(current)}
    if reference.empty:
        return {"drifted": None, "reason": "the reference has no values", "rows_current": len(current)}
    rows = len(current)
    result = detect_drift(reference, sample(current, MAX_DRIFT_ROWS), columns=[column], threshold_share=threshold)
    score = result.column_scores[column]
    return {"drifted": score["drifted"], "score": score["score"], "method": score["method"],
            "threshold": score["threshold"], "rows_reference": result.rows_reference,
            "rows_current": result.rows_current, "sampled_from": rows if rows > result.rows_current else None}


def _feature_drift(ctx: Context, reference: pd.DataFrame | None, window: pd.DataFrame
                   ) -> tuple[dict[str, Any], DriftResult | None]:
    features = ctx.schema.feature_names
    current = window[features].dropna()
    if reference is None:
        return {"reason": f"no reference yet ({REFERENCE_KEY}: bootstrap has not run)"}, None
    if len(current) < MIN_DRIFT_ROWS:
        return {"reason": f"too few records in the window to judge ({len(current)} < {MIN_DRIFT_ROWS})",
                "rows_current": len(current)}, None
    result = detect_drift(reference, sample(current, MAX_DRIFT_ROWS), columns=features, schema=ctx.schema,
                          threshold_share=ctx.settings.drift_share_threshold)
    detail = {k: v for k, v in result.summary().items() if k != "column_scores"}
    detail["sampled_from"] = len(current) if len(current) > result.rows_current else None
    return detail, result


def _prediction_drift(ctx: Context, production: str | None, window: pd.DataFrame) -> dict[str, Any]:
    if production is None:
        return {"drifted": None, "reason": "no production model"}
    stored = ctx.registry.read_document(production, HOLDOUT_PREDICTIONS_FILE)
    if not stored or not stored.get("predictions"):
        return {"drifted": None, "version": production,
                "reason": f"{production} has no {HOLDOUT_PREDICTIONS_FILE} (trained before holdout predictions were kept)"}
    reference = pd.DataFrame({"prediction": np.asarray(stored["predictions"], dtype=float)})
    current = window.loc[window["model_version"] == production, ["prediction"]]
    return {"version": production, **_column_drift(reference, current, "prediction",
                                                   threshold=ctx.settings.drift_share_threshold,
                                                   what=f"{production} predictions in the window")}


def _promotion_rmse(ctx: Context, versions: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for version in versions:
        try:
            rmse = ctx.registry.get_version(version)["metrics"].get("rmse")
        except ModelNotFoundError:  # a capture naming a version the registry does not have (any more)
            rmse = None
        out[version] = float(rmse) if rmse is not None else None
    return out


# ---- acting -------------------------------------------------------------------------------------


def _act(ctx: Context, record: RunRecord, decision: Decision, joined: pd.DataFrame) -> None:
    """Audit and alert what was found; retrain on the labelled rows when the decision says so."""
    s = ctx.settings
    findings: dict[AlertKind, tuple[AuditAction, str]] = {
        AlertKind.DRIFT_DETECTED: (AuditAction.DRIFT_DETECTED, _drift_text(record)),
        AlertKind.DEGRADATION: (AuditAction.DEGRADATION_DETECTED, (record.degradation or {}).get("reason", "")),
    }
    for kind in decision.alerts:
        action, text = findings[kind]
        details = {"source": "monitor", "run_id": record.run_id, "window": record.window,
                   "feature_drift_share": record.feature_drift_share,
                   "prediction_drift": record.prediction_drift.get("drifted"), "degradation": record.degradation,
                   "labelled_rows": record.labelled_rows, "decision": decision.reason}
        item: AuditItem = ctx.audit.record(action, f"live traffic: {text}", details=details)
        ctx.alerter.send(kind, f"live traffic: {text}", reason=decision.reason,
                         versions={"production": record.production_version}, details=details, about=item)
        record.actions.append(f"alert:{kind.value}")
    if not decision.retrain or decision.trigger is None:
        return
    key = f"{BATCHES_PREFIX}{record.run_id}.csv"
    write_frame(ctx.s3, s.data_bucket, key, training_batch(joined, ctx.schema.all_columns))
    record.retrain_batch_key = key
    # This batch holds every labelled row of the retention period: earlier monitor batches still
    # waiting for the lock or the cooldown are subsets of it, so it replaces them.
    pending = PendingBatches(ctx.dynamodb, s.state_table)
    pending.remove([p["key"] for p in pending.list() if p["key"].startswith(BATCHES_PREFIX)])
    result = start_retraining(ctx, bucket=s.data_bucket, key=key, trigger=decision.trigger)
    record.actions.append(_RETRAIN_ACTIONS.get((result["decision"], result.get("reason")), str(result["decision"])))
    record.execution_arn = result.get("execution_arn")


def _drift_text(record: RunRecord) -> str:
    parts = []
    if record.feature_drift:
        parts.append(f"feature drift share {record.feature_drift_share:.2f}"
                     f" ({', '.join(record.feature_drift_detail.get('drifted_columns', []))})")
    if record.prediction_drift.get("drifted"):
        parts.append(f"prediction drift ({record.prediction_drift.get('method')} "
                     f"{record.prediction_drift.get('score', 0):.3g})")
    return "drift: " + "; ".join(parts)


# ---- the run ------------------------------------------------------------------------------------


def run_monitor(ctx: Context, *, trigger: str = "scheduled",
                timer: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """One monitor run (see the module docstring); returns its record (also stored on S3)."""
    started = timer()
    s = ctx.settings
    schema = ctx.schema
    now = ctx.clock()
    production = ctx.registry.production()
    prod_version = production["version"] if production else None
    state = MonitorState(ctx.dynamodb, s.state_table)
    window: Window = monitor_window(now, last_end=state.last_end(),
                                    promoted_at=datetime.fromisoformat(production["updated_at"]) if production else None)
    record = RunRecord(run_id=run_id(now), at=isoformat(now), trigger=trigger, window=window.to_dict(),
                       production_version=prod_version)

    retention_start = window.end - timedelta(days=s.capture_retention_days)
    labels = read_labels(ctx, since=retention_start)
    # Without labels only the window is needed; with them, every capture they could name.
    read_from = min(window.start, retention_start) if len(labels.merged.frame) else window.start
    objects = capture_objects(ctx.s3, s.data_bucket, read_from, window.end)
    per_object, unreadable = read_captures(ctx.s3, s.data_bucket, [o["Key"] for o in objects])
    frame = capture_frame((r for records in per_object for r in records), schema.feature_names)
    in_window = np.repeat([o["LastModified"] > window.start for o in objects],
                          [len(records) for records in per_object]).astype(bool)
    current = frame[in_window]
    record.records = len(current)
    record.records_by_version = {str(k): int(v) for k, v in current["model_version"].value_counts().items()}
    record.retention = {"start": retention_start.isoformat(), "days": s.capture_retention_days,
                        "records_read": len(frame), "objects_read": len(objects), "unreadable_objects": unreadable}

    reference = read_frame(ctx.s3, s.data_bucket, REFERENCE_KEY) if exists(ctx.s3, s.data_bucket, REFERENCE_KEY) else None
    detail, features = _feature_drift(ctx, reference, current)
    record.feature_drift_detail = detail
    if features is not None:
        record.feature_drift_share = features.drifted_share
        record.feature_drift = features.dataset_drift
        record.column_scores = {c: dict(v) for c, v in features.column_scores.items()}
    record.prediction_drift = _prediction_drift(ctx, prod_version, current)

    join = join_labels(frame, labels.merged.frame, schema)
    joined = join.joined
    record.labels = {**labels.summary(), "unmatched_examples": join.unmatched_ids[:UNMATCHED_EXAMPLES]}
    record.labelled_rows = len(joined)
    record.unmatched_label_ids = join.unmatched
    target = schema.target.name
    record.target_drift = (_column_drift(reference, joined, target, threshold=s.drift_share_threshold,
                                         what="labelled rows") if reference is not None and target in reference
                           else {"drifted": None, "reason": "no reference target"})
    versions = sorted(joined["model_version"].astype(str).unique().tolist())
    record.versions = version_metrics(joined, target, _promotion_rmse(ctx, versions),
                                      max_ratio=s.degradation_ratio, min_rows=s.min_labelled_rows)
    if prod_version is not None:
        entry = record.versions.get(prod_version)
        record.degradation = ({"version": prod_version, "degraded": entry["degraded"], "ratio": entry["degradation_ratio"],
                               "rmse": entry["rmse"], "promotion_rmse": entry["promotion_rmse"],
                               "labelled_rows": entry["labelled_rows"], "reason": entry["reason"]} if entry else
                              {"version": prod_version, "degraded": None, "reason": f"no labelled predictions of {prod_version}"})

    decision = decide(feature_drift=record.feature_drift, prediction_drift=record.prediction_drift.get("drifted"),
                      degraded=(record.degradation or {}).get("degraded"), labelled_rows=record.labelled_rows,
                      min_labelled_rows=s.min_labelled_rows)
    record.decision = {**decision.to_dict(), "min_labelled_rows": s.min_labelled_rows}
    if labels.quarantined:
        record.actions.append("alert:quarantine")  # quarantine_batch alerted each file
    _act(ctx, record, decision, joined)

    record.report_key = f"{REPORTS_PREFIX}{record.run_id}.html"
    record.record_key = f"{RUNS_PREFIX}{record.run_id}.json"
    record.seconds = round(timer() - started, 3)
    page = render_report(record, features.html if features is not None else None)
    ctx.s3.put_object(Bucket=s.data_bucket, Key=record.report_key, Body=page.encode(), ContentType="text/html")
    # The unit RMSE, MAE and the predictions are in (the console labels its charts with it).
    body = {**record.to_dict(), "target": schema.target.name, "unit": schema.target.unit}
    write_json(ctx.s3, s.data_bucket, record.record_key, body)
    ctx.audit.record(AuditAction.MONITOR_RUN, _summary(record), execution_arn=record.execution_arn, details={
        "run_id": record.run_id, "trigger": trigger, "window": record.window, "records": record.records,
        "labelled_rows": record.labelled_rows, "unmatched_label_ids": record.unmatched_label_ids,
        "feature_drift_share": record.feature_drift_share, "actions": record.actions,
        "record_key": record.record_key, "report_key": record.report_key})
    if not state.advance(window.end, record.run_id):
        logger.info("another run already covered up to %s; the window state stays", window.end)
    return body


def _summary(record: RunRecord) -> str:
    share = "n/a" if record.feature_drift_share is None else f"{record.feature_drift_share:.2f}"
    return (f"{record.records} records in {record.window['hours']:g} h, {record.labelled_rows} labelled "
            f"({record.unmatched_label_ids} label ids unmatched); feature drift share {share}; "
            f"actions: {', '.join(record.actions) or 'none'}")
