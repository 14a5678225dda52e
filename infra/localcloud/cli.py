"""Command line of the local cloud: ``up``, ``invoke`` (our ``sam local invoke``) and ``generate-event``.

    python -m infra.localcloud.cli up --template template.yaml
    python -m infra.localcloud.cli invoke TrainFunction --event events/train.json
    python -m infra.localcloud.cli generate-event s3-put --bucket b --key incoming/x.csv
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import events as sample_events
from .endpoint import local_client
from .savedparams import PARAMETERS_FILE, EffectiveOverrides, SavedParameters
from .statelock import StateDirBusyError, StateDirLock, wipe_except_lock

STATE_DIR = Path(os.environ.get("LOCALCLOUD_STATE_DIR", ".localcloud"))
ENDPOINTS_FILE = "endpoints.json"


class _Formatter(logging.Formatter):
    """Function output as ``[FunctionName] line``; everything else as ``[localcloud] message``."""

    def format(self, record: logging.LogRecord) -> str:
        fn = getattr(record, "function", None)
        if fn:
            return f"[{fn}] {record.getMessage()}"
        msg = super().format(record)
        return f"[{record.name.split('.')[0]}] {msg}"


def _setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "moto", "samtranslator"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cloud_config(args: argparse.Namespace, *, port: int, api_port: int):
    from .server import CloudConfig

    host = args.host
    if host not in ("127.0.0.1", "localhost"):
        logging.getLogger("localcloud").warning(
            "binding to %s: every listener is reachable from other machines, without authentication", host)
    return CloudConfig(
        host=host,
        port=port,
        api_port=api_port,
        state_dir=args.state_dir,
        use_awslambdaric=not args.pure_python_runtime,
        default_concurrency=args.default_concurrency,
        async_retry_delays_s=tuple(float(x) for x in args.async_retry_delays.split(",")),
        schedule_speedup=args.schedule_speedup,
        persist=getattr(args, "persist", False),
        fsync=getattr(args, "fsync", False),
    )


def _deploy(cloud: Any, args: argparse.Namespace, *, reapply: bool = False,
            overrides: dict[str, str] | None = None) -> Any:
    from .deploy import deploy, parse_parameter_overrides

    if overrides is None:
        overrides = parse_parameter_overrides(args.parameter_overrides) if args.parameter_overrides else None
    return deploy(Path(args.template), endpoint_url=cloud.config.endpoint_url, stack_name=args.stack_name,
                  parameter_overrides=overrides, region=cloud.config.region, state_dir=args.state_dir,
                  reapply=reapply)


def _effective_overrides(args: argparse.Namespace) -> EffectiveOverrides:
    """This run's --parameter-overrides on top of the ones remembered from the last `up` (samconfig-like)."""
    from .deploy import load_template, parse_parameter_overrides
    from .deploy.parameters import resolve_parameters

    saved = SavedParameters(args.state_dir)
    if args.reset_parameters:
        saved.forget(args.stack_name)
    declared = load_template(Path(args.template)).get("Parameters") or {}
    merged = saved.merge(args.stack_name, parse_parameter_overrides(args.parameter_overrides), declared)
    resolve_parameters(declared, merged.values)  # a value out of range fails here, before anything starts
    return merged


def _stack_dict(stack: Any) -> dict[str, Any]:
    return stack.to_dict() if hasattr(stack, "to_dict") else dict(stack.__dict__)


# ---- up ------------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from .deploy import DeployError
    from .server import LocalCloud

    _setup_logging()
    log = logging.getLogger("localcloud")
    # Before anything in the state directory is read, compacted, wiped or written.
    lock = StateDirLock(args.state_dir)
    try:
        lock.acquire({"pid": os.getpid(), "port": args.port, "api_port": args.api_port,
                      "template": str(args.template)})
    except StateDirBusyError as err:
        log.error("%s", err)
        return 2
    if args.fresh:
        wipe_except_lock(args.state_dir, keep=frozenset({PARAMETERS_FILE}))
    cloud = LocalCloud(_cloud_config(args, port=args.port, api_port=args.api_port))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    endpoints_path = args.state_dir / ENDPOINTS_FILE
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        overrides = _effective_overrides(args)
    except DeployError as err:  # an unreadable template or a malformed PARAMS: nothing has started
        log.error("%s", err)
        lock.release()
        return 2
    try:
        try:
            cloud.start()
        except OSError as err:
            log.error("cannot listen on %s:%s or %s (%s); is LocalStack or another program using them? "
                      "Choose other ports: make up PORT=... API_PORT=... (a PORT other than 4566 gets its own "
                      "state directory, .localcloud-PORT)", args.host, args.port, args.api_port, err)
            return 2
        try:
            # Restored data, rebuilt control plane: every resource is applied again on top.
            stack = _deploy(cloud, args, reapply=cloud.persistence is not None, overrides=overrides.values)
        except DeployError as err:
            log.error("deploy of %s failed: %s", args.template, err)
            return 2
        SavedParameters(args.state_dir).save(args.stack_name, overrides.values)
        cloud.restore_executions()
        cloud.reload()
        api_url = f"http://{args.host}:{cloud.gateway.port}" if cloud.gateway else None
        info = {
            "endpoint_url": cloud.config.endpoint_url,
            "api_url": api_url,
            "region": cloud.config.region,
            "pid": os.getpid(),
            "stack_name": args.stack_name,
            "template": str(Path(args.template).resolve()),
            "stack": _stack_dict(stack),
        }
        endpoints_path.write_text(json.dumps(info, indent=2, default=str))
        _print_summary(info, overrides)
        env = dict(os.environ, AWS_ENDPOINT_URL=cloud.config.endpoint_url, AWS_DEFAULT_REGION=cloud.config.region,
                   AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   LOCALCLOUD_ENDPOINTS=str(endpoints_path.resolve()), LOCALCLOUD_API_URL=api_url or "")
        for command in args.after or []:
            log.info("running: %s", command)
            children.append((command, _start_child(command, env)))
        worst = 0
        while not stop.is_set():
            for command, child in list(children):
                code = child.poll()
                if code is None:
                    continue
                children.remove((command, child))
                if code != 0:
                    log.error("%s failed with exit code %d", command, code)
                    worst = worst or code
                else:
                    log.info("%s finished", command)
            if args.exit_after and not children:
                return worst
            stop.wait(0.2)
        log.info("stopping (Ctrl-C)")
        return 0
    finally:
        for _, child in children:
            _signal_group(child, signal.SIGTERM)
        for _, child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait(5)
        try:
            if endpoints_path.exists() and json.loads(endpoints_path.read_text()).get("pid") == os.getpid():
                endpoints_path.unlink()
        except (OSError, ValueError):
            pass  # best effort: a missing or half-written file means there is nothing of ours to remove
        cloud.stop()
        lock.release()


def _start_child(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Run an --after command so that it can never outlive the cloud.

    ``exec`` makes the command itself (not a shell around it) our child, in its own process group,
    with PR_SET_PDEATHSIG: a Ctrl-C stops the whole group, and even a kill -9 of the cloud takes it down.
    """

    from .runtime.worker import die_with_parent

    return subprocess.Popen(["/bin/sh", "-c", f"exec {command}"], env=env, preexec_fn=die_with_parent(signal.SIGTERM))


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass  # the group already exited between poll() and killpg()


def _parameter_lines(parameters: dict[str, Any], overrides: EffectiveOverrides | None) -> list[str]:
    """Every parameter value in effect, wrapped; the overridden ones named with where they came from."""
    if not parameters:
        return []
    lines, line = [], "  Parameters"
    for name, value in parameters.items():
        text = f"{name}={','.join(value) if isinstance(value, list) else value}"
        if len(line) + len(text) > 110:
            lines.append(line)
            line = " " * 12
        line += " " + text
    lines.append(line)
    if overrides is not None and overrides.values:
        origin = [f"{k}={v} ({'PARAMS' if k in overrides.given else 'remembered from an earlier make up'})"
                  for k, v in sorted(overrides.values.items())]
        lines.append("    overridden: " + "; ".join(origin))
        lines.append(f"    (kept in {PARAMETERS_FILE} of the state directory until overridden; "
                     "make up RESET_PARAMS=1 goes back to the template defaults)")
    return lines


def _print_summary(info: dict[str, Any], overrides: EffectiveOverrides | None = None) -> None:
    stack = info["stack"]
    lines = [
        "",
        f"  AWS APIs   {info['endpoint_url']}   (AWS_ENDPOINT_URL={info['endpoint_url']})",
    ]
    if info.get("api_url"):
        lines.append(f"  HTTP API   {info['api_url']}")
    lines.append(f"  Stack      {info['stack_name']}")
    lines += _parameter_lines(stack.get("parameters") or {}, overrides)
    for logical, res in sorted((stack.get("resources") or {}).items()):
        lines.append(f"    {logical:<32} {res.get('type', ''):<34} {res.get('physical_id', '')}")
    outputs = stack.get("outputs") or {}
    if outputs:
        lines.append("  Outputs")
        for k, v in outputs.items():
            lines.append(f"    {k:<32} {v}")
    lines.append("  Ctrl-C stops everything.")
    print("\n".join(lines), file=sys.stderr, flush=True)


# ---- invoke --------------------------------------------------------------------------------------
def _running_cloud(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / ENDPOINTS_FILE
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (ValueError, KeyError, OSError):
        return None
    return info


def _physical_function(stack: dict[str, Any], name: str) -> str:
    res = (stack.get("resources") or {}).get(name)
    if res is None:
        known = [k for k, v in (stack.get("resources") or {}).items() if v.get("type") == "AWS::Lambda::Function"]
        if name in [v.get("physical_id") for v in (stack.get("resources") or {}).values()]:
            return name
        raise SystemExit(f"no function {name!r} in the stack; functions: {', '.join(sorted(known))}")
    return res["physical_id"]


def _invoke(lambda_client: Any, function: str, payload: bytes) -> int:
    resp = lambda_client.invoke(FunctionName=function, Payload=payload, LogType="Tail")
    logs = base64.b64decode(resp.get("LogResult") or b"").decode(errors="replace")
    if logs:
        sys.stderr.write(logs.rstrip("\n") + "\n")
    body = resp["Payload"].read().decode(errors="replace")
    sys.stdout.write(body + "\n")
    sys.stdout.flush()
    return 1 if resp.get("FunctionError") else 0


def _read_event(name: str | None) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    if not name:
        return b"{}"
    path = Path(name)
    if path.is_dir():
        raise CliError(f"EVENT={name} is a directory, not an event file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"no such event file: {name}") from None


def cmd_invoke(args: argparse.Namespace) -> int:
    payload = _read_event(args.event)
    try:
        json.loads(payload or b"{}")
    except ValueError as err:
        raise CliError(f"event {args.event or ''} is not valid JSON: {err}") from None
    info = _running_cloud(args.state_dir)
    if info is not None:
        client = local_client("lambda", info["endpoint_url"], info["region"])
        return _invoke(client, _physical_function(info["stack"], args.function), payload)
    # Standalone: a throwaway cloud on free ports, like `sam local invoke` starting a container.
    from .deploy import DeployError
    from .server import LocalCloud

    _setup_logging(logging.WARNING)
    args.state_dir = args.state_dir / "invoke"
    cloud = LocalCloud(_cloud_config(args, port=free_port(), api_port=0))
    try:
        cloud.start()
        try:
            stack = _stack_dict(_deploy(cloud, args))
        except DeployError as err:
            sys.stderr.write(f"deploy failed: {err}\n")
            return 2
        cloud.reload()
        # Quiet the terminal echo: the function's log is printed once, from the invoke's log tail.
        logging.getLogger("localcloud.functions").setLevel(logging.WARNING)
        return _invoke(cloud.client("lambda"), _physical_function(stack, args.function), payload)
    finally:
        cloud.stop()


# ---- generate-event ------------------------------------------------------------------------------
def cmd_generate_event(args: argparse.Namespace) -> int:
    event = sample_events.generate(args.kind, bucket=args.bucket, key=args.key, method=args.method, path=args.path,
                                   body=args.body)
    print(json.dumps(event, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--template", default="template.yaml")
        sp.add_argument("--stack-name", default=os.environ.get("LOCALCLOUD_STACK", "selfheal"))
        sp.add_argument("--state-dir", type=Path, default=STATE_DIR)
        sp.add_argument("--parameter-overrides", default=None, help='"Key=Value Key2=Value2", as sam deploy takes')
        sp.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
        sp.add_argument("--pure-python-runtime", action="store_true",
                        help="use the bundled pure-Python runtime client instead of awslambdaric")
        sp.add_argument("--default-concurrency", type=int, default=10)
        sp.add_argument("--async-retry-delays", default="60,120", help="seconds before async retries 1 and 2")
        sp.add_argument("--schedule-speedup", type=float, default=1.0, help="compress rate() schedules by this factor")

    up = sub.add_parser("up", help="start the local cloud and deploy a SAM template (foreground)")
    common(up)
    up.add_argument("--port", type=int, default=4566)
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--fresh", action="store_true",
                    help="start from an empty state directory (remembered parameter overrides are kept)")
    up.add_argument("--reset-parameters", action="store_true",
                    help="forget the parameter overrides remembered from earlier runs")
    up.add_argument("--no-persist", dest="persist", action="store_false",
                    help="keep nothing: S3, DynamoDB, logs and executions live in memory only")
    up.add_argument("--fsync", action="store_true",
                    help="flush every acknowledged write to disk (survives a power cut, not only a crash)")
    up.add_argument("--after", action="append", default=None,
                    help="shell command to run once deployed (repeatable), e.g. a bootstrap or a console")
    up.add_argument("--exit-after", action="store_true", help="exit when every --after command has finished")
    up.set_defaults(func=cmd_up)

    inv = sub.add_parser("invoke", help="invoke one function with one event (like sam local invoke)")
    common(inv)
    inv.add_argument("function", help="logical ID (or physical name) of the function")
    inv.add_argument("--event", "-e", default=None, help="event JSON file ('-' for stdin; default {})")
    inv.set_defaults(func=cmd_invoke)

    ge = sub.add_parser("generate-event", help="print a sample event, like sam local generate-event")
    ge.add_argument("kind", choices=sample_events.KINDS)
    ge.add_argument("--bucket", default="example-bucket")
    ge.add_argument("--key", default="incoming/batch.csv")
    ge.add_argument("--method", default="GET")
    ge.add_argument("--path", default="/")
    ge.add_argument("--body", default=None)
    ge.set_defaults(func=cmd_generate_event)
    return p


class CliError(Exception):
    """A problem the user can fix, reported as one line."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, OSError, ValueError, ClientError, BotoCoreError) as err:
        if args.debug:
            raise
        sys.stderr.write(f"localcloud {args.command}: {' '.join(str(err).split()) or type(err).__name__}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
