"""``python -m console``: serve the console on 127.0.0.1:8080 and print its link with the session token."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path

import uvicorn

# The console starts retrainings through the selfheal layer's lock, cooldown and audit trail; the layer
# is a folder of the repository (a Lambda layer), not an installed package.
LAYER = Path(__file__).resolve().parents[1] / "layers" / "selfheal" / "python"
if LAYER.is_dir() and str(LAYER) not in sys.path:
    sys.path.append(str(LAYER))

from console.api.deps import ConsoleState  # noqa: E402
from console.api.metrics import collect  # noqa: E402
from console.app import create_app  # noqa: E402
from console.cloud import Cloud  # noqa: E402
from console.metrics import DEFAULT_NAMESPACE, Pusher, redacted  # noqa: E402

TOKEN_FILE = "console-token"
log = logging.getLogger("console")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m console", description=__doc__)
    p.add_argument("--endpoints", type=Path,
                   default=Path(os.environ.get("LOCALCLOUD_ENDPOINTS", ".localcloud/endpoints.json")),
                   help="the local cloud's endpoints.json (default: $LOCALCLOUD_ENDPOINTS)")
    p.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "127.0.0.1"),
                   help="bind address (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("CONSOLE_PORT", "8080")))
    p.add_argument("--stack-name", default=None,
                   help="CloudFormation stack to read outputs from when there is no endpoints.json (LocalStack, AWS)")
    p.add_argument("--model", default=None, help="model name in the registry (default: house-prices)")
    p.add_argument("--token-file", type=Path, default=None,
                   help=f"where to write the session token (default: {TOKEN_FILE} beside endpoints.json)")
    p.add_argument("--metrics-namespace", default=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE),
                   help="CloudWatch namespace served at /metrics (default: $POWERTOOLS_METRICS_NAMESPACE or "
                        f"{DEFAULT_NAMESPACE})")
    p.add_argument("--pushgateway-url", default=os.environ.get("PUSHGATEWAY_URL") or None,
                   help="also push /metrics to this Prometheus Pushgateway (default: $PUSHGATEWAY_URL; off)")
    p.add_argument("--push-interval", type=float, default=float(os.environ.get("PUSH_INTERVAL_SECONDS", "15")),
                   help="seconds between pushes (default 15)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[console] %(levelname)s %(message)s")
    loopback = is_loopback(args.host)
    if not loopback:
        log.warning("binding to %s: the console is reachable from other machines; promote and rollback "
                    "are still token-protected, but everything else is readable", args.host)
    token = secrets.token_urlsafe(24)
    token_file = args.token_file or args.endpoints.parent / TOKEN_FILE
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    cloud = Cloud(args.endpoints, stack_name=args.stack_name)
    state = ConsoleState(cloud=cloud, token=token, model_name=args.model, metrics_namespace=args.metrics_namespace)
    app = create_app(state, loopback=loopback)
    pusher = None
    if args.pushgateway_url:
        pusher = Pusher(args.pushgateway_url, lambda: collect(state), interval_s=args.push_interval).start()
        log.info("pushing metrics to %s every %.0f s", redacted(args.pushgateway_url), args.push_interval)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}/?token={token}"
    print(f"\n  Console    {url}\n             (token also in {token_file})\n", file=sys.stderr, flush=True)  # noqa: T201
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    finally:
        if pusher is not None:
            pusher.stop()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
