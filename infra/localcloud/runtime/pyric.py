"""A pure-Python Lambda Runtime Interface Client: the fallback where awslambdaric does not build.

Standard library only, because it runs inside the function's worker process before any of the
function's own dependencies are importable. It speaks the documented Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) exactly as awslambdaric does:

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error

Usage: ``python pyric.py module.handler`` with AWS_LAMBDA_RUNTIME_API and LAMBDA_TASK_ROOT set.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
from typing import Any

API_PREFIX = "/2018-06-01/runtime"


class LambdaContext:
    """The context object handed to the handler; same fields as the real runtime's."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_arn: str, client_context: Any, identity: Any):
        # The request id of this invocation (also in every log line).
        self.aws_request_id = request_id
        # Name, version and memory of the function, from the runtime environment.
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        # The ARN the caller used (may carry a version or alias qualifier).
        self.invoked_function_arn = invoked_arn
        # CloudWatch Logs destination of this execution environment.
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        # Mobile SDK extras (None unless the caller sent them).
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the platform kills this invocation."""
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _setup_logging() -> _RequestIdFilter:
    # Same line format as the managed python runtime: "[LEVEL]\t<time>Z\t<request id>\t<message>".
    handler = logging.StreamHandler(sys.stdout)
    flt = _RequestIdFilter()
    handler.addFilter(flt)
    handler.setFormatter(
        logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S")
    )
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper())
    return flt


def _error_body(exc: BaseException) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        # Drop this client's own frame, as the managed runtime does.
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]),
    }


class RuntimeClient:
    def __init__(self, endpoint: str):
        host, _, port = endpoint.partition(":")
        self._conn = http.client.HTTPConnection(host, int(port or 80))

    def _request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        self._conn.request(method, API_PREFIX + path, body=body, headers=headers or {})
        resp = self._conn.getresponse()
        return resp, resp.read()

    def next(self) -> tuple[dict[str, str], bytes]:
        resp, body = self._request("GET", "/invocation/next")
        return {k.lower(): v for k, v in resp.getheaders()}, body

    def respond(self, request_id: str, payload: bytes) -> None:
        self._request("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})

    def error(self, request_id: str, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self._request(
            "POST",
            f"/invocation/{request_id}/error",
            data,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Unhandled"},
        )

    def init_error(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self._request("POST", "/init/error", data, {"Content-Type": "application/json",
                                                    "Lambda-Runtime-Function-Error-Type": body["errorType"]})


def _load_handler(spec: str):
    module_name, _, func_name = spec.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, func_name)


def main(argv: list[str]) -> int:
    # Run as a script, Python put this file's folder first on sys.path; the function must not see it.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    req_filter = _setup_logging()
    try:
        handler = _load_handler(argv[1] if len(argv) > 1 else os.environ["_HANDLER"])
    except Exception as exc:  # any import-time failure is an init error, reported as AWS does
        body = _error_body(exc)
        body["errorType"] = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else body["errorType"]
        body["errorMessage"] = f"Unable to import module '{argv[1] if len(argv) > 1 else ''}': {exc}"
        sys.stdout.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n")
        client.init_error(body)
        return 1
    while True:
        headers, payload = client.next()
        request_id = headers["lambda-runtime-aws-request-id"]
        req_filter.request_id = request_id
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms", "0")),
            headers.get("lambda-runtime-invoked-function-arn", ""),
            json.loads(headers["lambda-runtime-client-context"]) if headers.get("lambda-runtime-client-context") else None,
            json.loads(headers["lambda-runtime-cognito-identity"]) if headers.get("lambda-runtime-cognito-identity") else None,
        )
        try:
            event = json.loads(payload) if payload else {}
            result = handler(event, context)
            out = json.dumps(result).encode()
        except Exception as exc:  # the handler's failure is the caller's error payload, never a crash
            body = _error_body(exc)
            body["requestId"] = request_id
            sys.stdout.write(f"[ERROR] {body['errorType']}: {body['errorMessage']}\n")
            sys.stdout.flush()
            client.error(request_id, body)
            continue
        sys.stdout.flush()
        client.respond(request_id, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
