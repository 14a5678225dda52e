"""Operator commands over the running local cloud's AWS APIs (the Makefile's thin wrappers).

    python scripts/ops.py check-reference      check $REFERENCE before `make up` starts anything
    python scripts/ops.py bootstrap            train and promote v0001 through the state machine
    python scripts/ops.py upload FILE          put a CSV batch into s3://<data bucket>/incoming/
    python scripts/ops.py labels FILE          put a label file (prediction_id,<target>) into s3://<data bucket>/labels/
    python scripts/ops.py monitor              run MonitorFunction now; its record is the last line, one JSON object
    python scripts/ops.py predict [JSON]       POST /predict on the HTTP API
    python scripts/ops.py models               model versions, metrics and status
    python scripts/ops.py audit [--action A]   the healing decisions, newest first
    python scripts/ops.py alerts [--action A]  the alerts sent, newest first (e-mail outbox, else audit trail)
    python scripts/ops.py rollback             roll production back (through PromoteFunction)
    python scripts/ops.py recover              run the health check / recovery now

They read endpoints and physical names from .localcloud/endpoints.json, written by `make up`.
Nothing here is specific to the local cloud: point AWS_ENDPOINT_URL elsewhere and they still work.
Errors are one line naming the problem, with a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "selfheal" / "python"))
sys.path.insert(0, str(ROOT))

from infra.localcloud.endpoint import local_client  # noqa: E402
from selfheal import lineage  # noqa: E402
from selfheal.alerts import read_notification  # noqa: E402
from selfheal.audit import AuditAction, AuditTrail, batch_keys  # noqa: E402
from selfheal.contracts import ExecutionInput, Trigger  # noqa: E402
from selfheal.registry import ModelRegistry  # noqa: E402
from selfheal.schema import (  # noqa: E402
    DEFAULT_SCHEMA,
    Schema,
    SchemaFileError,
    dump_schema_file,
    load_schema_file,
    match_columns,
)


class OpsError(Exception):
    """A problem the user can fix, reported as one line."""


class Cloud:
    """Endpoints and stack outputs of a running local cloud."""

    def __init__(self, endpoints_file: Path):
        if not endpoints_file.exists():
            raise OpsError(f"no running local cloud ({endpoints_file} not found): start it with `make up`")
        self.info = json.loads(endpoints_file.read_text())
        self.outputs: dict[str, str] = self.info["stack"]["outputs"]
        self.api_url: str = self.info.get("api_url") or ""

    def client(self, service: str) -> Any:
        return local_client(service, self.info["endpoint_url"], self.info["region"], max_attempts=2)

    def registry(self) -> ModelRegistry:
        return ModelRegistry(self.client("s3"), self.outputs["ModelBucketName"], os.environ.get("MODEL_NAME", "house-prices"))

    def audit(self) -> AuditTrail:
        return AuditTrail(self.client("dynamodb"), self.outputs["StateTableName"])


def wait_execution(cloud: Cloud, arn: str, timeout: float = 900) -> dict[str, Any]:
    sfn = cloud.client("stepfunctions")
    deadline = time.time() + timeout
    while time.time() < deadline:
        desc = sfn.describe_execution(executionArn=arn)
        if desc["status"] != "RUNNING":
            return desc
        time.sleep(0.5)
    raise SystemExit(f"execution {arn} still running after {timeout}s")


def state_path(cloud: Cloud, arn: str) -> list[str]:
    events = cloud.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def readable_file(name: str, what: str) -> Path:
    """`name` as a readable regular file, or an OpsError naming what is wrong with it."""
    path = Path(name)
    if not path.exists():
        raise OpsError(f"{what}: no such file: {path}")
    if path.is_dir():
        raise OpsError(f"{what}: {path} is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise OpsError(f"{what}: {path} is not readable (permissions)")
    return path


def cmd_check_reference(args: argparse.Namespace) -> int:
    """Before `make up` starts anything: a REFERENCE that is given must be a readable CSV with rows,
    and a SCHEMA a valid schema file whose columns match the REFERENCE's header."""
    if args.schema and not args.reference:
        raise OpsError("SCHEMA needs REFERENCE: the schema describes your data (make up REFERENCE=data.csv "
                       "SCHEMA=data.schema.json; make schema FILE=data.csv TARGET=price writes one)")
    if not args.reference:
        return 0
    path = readable_file(args.reference, "REFERENCE")
    with open(path, "rb") as fh:
        head = [fh.readline(), fh.readline()]
    if not head[0].strip():
        raise OpsError(f"REFERENCE: {path} is empty")
    if b"," not in head[0]:
        raise OpsError(f"REFERENCE: {path} does not look like a CSV file (no comma in its header line)")
    if not head[1].strip():
        raise OpsError(f"REFERENCE: {path} has a header but no rows")
    if args.schema:
        reference_schema(path, args.schema)
    return 0


def reference_schema(reference: Path, schema_file: str) -> Schema:
    """The SCHEMA file, valid and matching the REFERENCE's header (OpsError naming what does not)."""
    try:
        schema = load_schema_file(readable_file(schema_file, "SCHEMA"))
    except SchemaFileError as err:
        raise OpsError(f"SCHEMA: {err} (make schema-check SCHEMA={schema_file} checks an edited file)") from None
    import pandas as pd

    try:
        header = [str(c) for c in pd.read_csv(reference, nrows=0).columns]
    except (ValueError, UnicodeDecodeError) as err:
        raise OpsError(f"REFERENCE: {reference} cannot be read as CSV: {err}") from None
    match = match_columns(schema, header)
    if not match.ok:
        raise OpsError(f"SCHEMA {schema_file} does not match REFERENCE {reference}: " + "; ".join(match.problems()))
    return schema


def cmd_bootstrap(cloud: Cloud, args: argparse.Namespace) -> int:
    registry = cloud.registry()
    current = registry.production()
    if current is not None and not args.force:
        if args.reference:
            # Refuse rather than retrain silently: the user's reference would otherwise be ignored.
            raise OpsError(f"REFERENCE={args.reference} not used: production {current['version']} exists; "
                           "use `make up FRESH=1 REFERENCE=...` to start over on it, or `make upload FILE=...` "
                           "to feed it to the running pipeline")
        print(f"production model {current['version']} already in place; bootstrap skipped")
        return 0
    bucket = cloud.outputs["DataBucketName"]
    schema_key = None
    if args.reference:
        path = readable_file(args.reference, "REFERENCE")
        body, source = path.read_bytes(), f"user file {path}"
        key = f"bootstrap/{path.name}"
        if args.schema:
            # FixData and Train use it; the version they make carries it in its manifest.
            schema = reference_schema(path, args.schema)
            schema_key = f"bootstrap/{path.stem}.schema.json"
            cloud.client("s3").put_object(Bucket=bucket, Key=schema_key, Body=dump_schema_file(schema).encode())
            print(f"schema {schema.name!r} ({len(schema.feature_names)} features, target {schema.target.name} "
                  f"in {schema.target.unit or 'the data units'}) -> s3://{bucket}/{schema_key}")
    else:
        from selfheal.datagen import load_reference, to_csv_bytes

        frame, source = load_reference(args.rows, seed=args.seed)
        body = to_csv_bytes(frame)
        key = f"bootstrap/reference-{source}.csv"
        if source == "synthetic":
            source = "SYNTHETIC data (selfheal.datagen; offline stand-in for California housing)"
    # Not under incoming/: the bootstrap batch must not trigger the drift function.
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    print(f"bootstrap data: {source} -> s3://{bucket}/{key}")
    sfn = cloud.client("stepfunctions")
    name = f"bootstrap-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    # The bootstrap takes no retraining lock (nothing else runs yet): no lock_owner.
    execution = ExecutionInput(trigger=Trigger.BOOTSTRAP, batches=[{"bucket": bucket, "key": key}],
                               schema_key=schema_key)
    arn = sfn.start_execution(stateMachineArn=cloud.outputs["StateMachineArn"], name=name,
                              input=json.dumps(execution.to_dict()))["executionArn"]
    print(f"started {arn}")
    desc = wait_execution(cloud, arn)
    print(f"execution {desc['status']}: {' -> '.join(state_path(cloud, arn))}")
    if desc["status"] != "SUCCEEDED":
        retry = "make bootstrap" + (f" REFERENCE={args.reference}" if args.reference else "")
        raise OpsError(f"bootstrap failed: {desc.get('error')}: {desc.get('cause')} (execution {arn}; see "
                       f"`make audit`). The cloud is still running: fix the data, then retry with `{retry}`")
    state = json.loads(desc.get("output") or "{}")
    validation = state.get("validation") or {}
    if validation.get("passed") is False:
        # The execution succeeded (a rejection is a decision), but the user's data is not serving.
        prod = registry.production()
        lineage_hint = (" Set PARAMS=\"AllowSchemaChange=true\" to promote a new schema on purpose."
                        if any(c.get("name") == "schema_lineage" and not c.get("passed")
                               for c in validation.get("checks") or []) else "")
        raise OpsError(f"bootstrap trained {validation.get('version')} but Validate rejected it: "
                       f"{'; '.join(validation.get('reasons') or [])}. Production stays "
                       f"{prod['version'] if prod else 'none'} (execution {arn}; see `make audit`).{lineage_hint}")
    prod = registry.production()
    version = prod["version"] if prod else None
    record = registry.get_version(version) if version else None
    metrics = record["metrics"] if record else {}
    unit = lineage.schema_of(record["manifest"], DEFAULT_SCHEMA).target.unit if record else ""
    print(f"model {version} in production: R2 {metrics.get('r2', float('nan')):.3f}, "
          f"RMSE {metrics.get('rmse', float('nan')):.4g} ({unit or 'data units'})")
    if cloud.api_url:
        r = _predict(cloud, None)
        print(f"POST {cloud.api_url}/predict -> {r.status_code} {r.text}")
    return 0


def production_schema(cloud: Cloud) -> Schema:
    """The production version's schema (selfheal.lineage), the default one before any model."""
    registry = cloud.registry()
    prod = registry.production()
    return (lineage.schema_of(registry.get_version(prod["version"])["manifest"], DEFAULT_SCHEMA) if prod
            else DEFAULT_SCHEMA)


def _predict(cloud: Cloud, payload: str | None) -> requests.Response:
    if payload:
        try:
            body = json.loads(payload)
        except ValueError as err:
            raise OpsError(f"JSON is not valid JSON ({err}): {payload[:80]!r}") from None
    else:
        body = production_schema(cloud).example_record()
    return requests.post(f"{cloud.api_url}/predict", json=body, timeout=60)


def for_people(value: Any) -> Any:
    """Predictions rounded to cents of the unit (2.28, not 2.2812345); --json keeps full precision."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, list):
        return [for_people(v) for v in value]
    if isinstance(value, dict):
        return {k: for_people(v) for k, v in value.items()}
    return value


def cmd_upload(cloud: Cloud, args: argparse.Namespace) -> int:
    path = readable_file(args.file, "FILE")
    bucket = cloud.outputs["DataBucketName"]
    key = f"incoming/{args.name or path.name}"
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    print(f"uploaded s3://{bucket}/{key}; the drift function decides what happens (see `make audit`)")
    return 0


def cmd_labels(cloud: Cloud, args: argparse.Namespace) -> int:
    path = readable_file(args.file, "FILE")
    bucket = cloud.outputs["DataBucketName"]
    key = f"labels/{args.name or path.name}"
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    print(f"uploaded s3://{bucket}/{key}; the next monitor run joins it to the captured predictions "
          "(`make monitor` runs one now)")
    return 0


def cmd_monitor(cloud: Cloud, args: argparse.Namespace) -> int:
    if "MonitorFunctionName" not in cloud.outputs:
        raise OpsError("the deployed stack has no MonitorFunction (output MonitorFunctionName): "
                       "restart `make up` to deploy the current template.yaml")
    record = _invoke(cloud, "MonitorFunctionName", {"mode": "on_demand"})
    share = record.get("feature_drift_share")
    print(f"monitor: {record.get('records')} records, {record.get('labelled_rows')} labelled, feature drift share "
          f"{'n/a' if share is None else f'{share:.2f}'}, actions: {', '.join(record.get('actions') or []) or 'none'}; "
          f"report s3://{cloud.outputs['DataBucketName']}/{record.get('report_key')}", file=sys.stderr)
    print(json.dumps(record, default=str, separators=(",", ":")))
    return 0


def cmd_predict(cloud: Cloud, args: argparse.Namespace) -> int:
    r = _predict(cloud, args.json)
    try:
        body = r.json()
    except ValueError:
        raise OpsError(f"POST /predict answered {r.status_code} with a body that is not JSON: {r.text[:200]!r}") from None
    print(json.dumps(body) if args.as_json else json.dumps(for_people(body) if r.ok else body))
    return 0 if r.ok else 1


def cmd_models(cloud: Cloud, args: argparse.Namespace) -> int:
    registry = cloud.registry()
    prod = registry.production()
    print(f"{'version':<8} {'status':<12} {'R2':>7} {'RMSE':>10} {'MAE':>10} {'unit':<8} {'parity':>9}  "
          "schema / created")
    for rec in registry.list_versions():
        m = rec["metrics"]
        schema = lineage.schema_of(rec["manifest"], DEFAULT_SCHEMA)
        print(f"{rec['version']:<8} {rec['status']:<12} {m.get('r2', 0):7.3f} {m.get('rmse', 0):10.4g} "
              f"{m.get('mae', 0):10.4g} {schema.target.unit or '-':<8} {m.get('parity', m.get('parity_max_abs_diff', 0)):9.1e}  "
              f"{schema.name} / {rec['created_at']}")
    print(f"production: {prod['version'] if prod else 'none'}")
    return 0


def cmd_audit(cloud: Cloud, args: argparse.Namespace) -> int:
    for item in cloud.audit().list(action=args.action, limit=args.limit):
        execution = (item.get("execution_arn") or "").rsplit(":", 1)[-1]
        keys = batch_keys(item)
        batch = (f"  {', '.join(keys[:3])}" + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")) if keys else ""
        print(f"{item['timestamp']}  {item['action']:<26} {item['reason']}{batch}"
              + (f"  [{execution}]" if execution else ""))
    return 0


def outbox_alerts(outbox: Path, topic_arn: str | None) -> list[dict[str, Any]] | None:
    """The alerts the local cloud's e-mail outbox received from `topic_arn`; None when there is no outbox.

    One file per delivery ({"to", "topic_arn", "subject", "message", "timestamp", ...}); an alert
    delivered to several addresses is one alert. CloudWatch alarm messages read as `canary_alarm`.
    """
    files = sorted(outbox.glob("*.json")) if outbox.is_dir() else []
    if not files:
        return None
    alerts: dict[str, dict[str, Any]] = {}
    for path in files:
        try:
            delivery = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            print(f"ops alerts: skipped {path}: {_one_line(err)}", file=sys.stderr)
            continue
        if not isinstance(delivery, dict) or (topic_arn and delivery.get("topic_arn") not in (None, topic_arn)):
            continue
        message = read_notification(str(delivery.get("message") or ""))
        if message is None:
            continue
        key = str(message.get("alert_id") or delivery.get("message_id") or path.name)
        alert = alerts.setdefault(key, {**message, "at": message.get("at") or delivery.get("timestamp"), "to": []})
        alert["to"].append(str(delivery.get("to")))
    return list(alerts.values())


def audited_alerts(audit: AuditTrail, limit: int) -> list[dict[str, Any]]:
    """The alerts as the `alert_sent` audit items recorded them (with whether each was published)."""
    out = []
    for item in audit.list(action=AuditAction.ALERT_SENT, limit=limit):
        details = item.get("details") or {}
        message = details.get("message") or {}
        out.append({**message, "at": message.get("at") or item["timestamp"],
                    "action": message.get("action") or details.get("kind"), "published": details.get("published")})
    return out


def alert_line(alert: dict[str, Any]) -> str:
    """One line per alert: when, its action, what happened and why, the execution, unpublished or not."""
    flat = {k: " ".join(str(alert.get(k) or "").split()) for k in ("summary", "reason")}  # one line, always
    text = flat["summary"] + (f": {flat['reason']}" if flat["reason"] else "")
    execution = str(alert.get("execution_arn") or "").rsplit(":", 1)[-1]
    return (f"{alert.get('at') or '?'}  {alert.get('action') or '?':<19} {text}" + (f"  [{execution}]" if execution else "")
            + ("  (not published)" if alert.get("published") is False else ""))


def cmd_alerts(cloud: Cloud, args: argparse.Namespace) -> int:
    outbox = args.outbox or Path(os.environ.get("STATE") or args.endpoints.parent) / "outbox"
    # The outbox only while the deployed stack subscribes an e-mail address: otherwise old e-mails
    # there would hide every newer alert, which the audit trail always has.
    use_outbox = args.outbox is not None or "AlertEmailSubscription" in (cloud.info["stack"].get("resources") or {})
    alerts = outbox_alerts(outbox, cloud.outputs.get("AlertTopicArn")) if use_outbox else None
    if alerts is None:
        print(f"alerts from the audit trail (no e-mail subscription delivering to {outbox}; see docs/monitoring.md)",
              file=sys.stderr)
        alerts = audited_alerts(cloud.audit(), limit=1000 if args.action else args.limit)  # kinds filtered below
    else:
        print(f"alerts from the e-mail outbox {outbox}", file=sys.stderr)
    if args.action:
        alerts = [a for a in alerts if a.get("action") == args.action]
    for alert in sorted(alerts, key=lambda a: str(a.get("at") or ""), reverse=True)[: args.limit]:
        print(alert_line(alert))
    return 0


def _invoke(cloud: Cloud, function_output: str, payload: dict[str, Any]) -> dict[str, Any]:
    resp = cloud.client("lambda").invoke(FunctionName=cloud.outputs[function_output], Payload=json.dumps(payload).encode())
    body = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        raise OpsError(f"{function_output} failed: {body.get('errorType')}: {body.get('errorMessage')}")
    return body


def cmd_rollback(cloud: Cloud, args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {"action": "rollback", "reason": args.reason, "execution_arn": None}
    if args.to:
        payload["to_version"] = args.to
    print(json.dumps(_invoke(cloud, "PromoteFunctionName", payload), indent=2))
    return 0


def cmd_recover(cloud: Cloud, args: argparse.Namespace) -> int:
    print(json.dumps(_invoke(cloud, "RecoverFunctionName", {"mode": "scheduled"}), indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoints", type=Path,
                   default=Path(os.environ.get("LOCALCLOUD_ENDPOINTS", ROOT / ".localcloud" / "endpoints.json")))
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check-reference")
    c.add_argument("--reference", default=os.environ.get("REFERENCE") or None)
    c.add_argument("--schema", default=os.environ.get("SCHEMA") or None)
    c.set_defaults(func=cmd_check_reference, needs_cloud=False)
    b = sub.add_parser("bootstrap")
    b.add_argument("--reference", default=os.environ.get("REFERENCE") or None, help="your labelled CSV")
    b.add_argument("--schema", default=os.environ.get("SCHEMA") or None, help="its schema file (make schema)")
    b.add_argument("--rows", type=int, default=int(os.environ.get("BOOTSTRAP_ROWS", "20000")))
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true")
    b.set_defaults(func=cmd_bootstrap)
    u = sub.add_parser("upload")
    u.add_argument("file")
    u.add_argument("--name", default=None, help="object name under incoming/ (default: the file name)")
    u.set_defaults(func=cmd_upload)
    lb = sub.add_parser("labels")
    lb.add_argument("file")
    lb.add_argument("--name", default=None, help="object name under labels/ (default: the file name)")
    lb.set_defaults(func=cmd_labels)
    sub.add_parser("monitor").set_defaults(func=cmd_monitor)
    pr = sub.add_parser("predict")
    pr.add_argument("json", nargs="?", default=None, help='a record or {"records": [...]} (default: an example)')
    pr.add_argument("--json", dest="as_json", action="store_true", help="print the answer as is, full precision")
    pr.set_defaults(func=cmd_predict)
    sub.add_parser("models").set_defaults(func=cmd_models)
    a = sub.add_parser("audit")
    a.add_argument("--action", default=None)
    a.add_argument("--limit", type=int, default=50)
    a.set_defaults(func=cmd_audit)
    al = sub.add_parser("alerts")
    al.add_argument("--action", default=None, help="only alerts of this kind (rollback, quarantine, canary_alarm, ...)")
    al.add_argument("--limit", type=int, default=50)
    al.add_argument("--outbox", type=Path, default=None,
                    help="the local cloud's e-mail outbox (default: $STATE/outbox, next to the endpoints file)")
    al.set_defaults(func=cmd_alerts)
    r = sub.add_parser("rollback")
    r.add_argument("--to", default=None, help="version to roll back to (default: last known good)")
    r.add_argument("--reason", default="manual rollback (make rollback)")
    r.set_defaults(func=cmd_rollback)
    sub.add_parser("recover").set_defaults(func=cmd_recover)
    args = p.parse_args(argv)
    try:
        if not getattr(args, "needs_cloud", True):
            return int(args.func(args) or 0)
        return int(args.func(Cloud(args.endpoints), args) or 0)
    except (OpsError, OSError, ValueError, ClientError, BotoCoreError, requests.RequestException) as err:
        if args.debug:
            raise
        print(f"ops {args.command}: {_one_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, OpsError) else 1


def _one_line(err: BaseException) -> str:
    if isinstance(err, requests.ConnectionError):
        url = err.request.url if err.request else "unknown URL"
        where = url.decode(errors="replace") if isinstance(url, bytes) else url
        return f"cannot reach the HTTP API ({where}): is `make up` running?"
    if isinstance(err, BotoCoreError) and "Could not connect" in str(err):
        return f"{err} (is `make up` running?)"
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
