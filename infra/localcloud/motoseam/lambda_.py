"""Lambda: every moto path that runs function code ends in the local Lambda runtime.

moto's Lambda runs function code only in Docker. Every moto path that runs code ends in
``LambdaFunction.invoke(body, request_headers, response_headers)``: the Invoke API (sync and
``InvocationType=Event``), Step Functions Task states (both ARN forms; moto's interpreter calls
Invoke over HTTP), S3 notifications (``moto.s3.notifications._invoke_awslambda``) and EventBridge
targets (``moto.events.notifications._invoke_lambda``). `MotoLambdaBridge.install` replaces those
entry points; the API server's fast path (`MotoLambdaBridge.fast_invoke`) skips moto's dispatch.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any, cast

import moto.events.notifications as events_notifications
import moto.s3.notifications as s3_notifications
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend
from moto.core.exceptions import JsonRESTError

from ..asyncinvoke import AsyncInvoker, AsyncPolicy
from ..limits import RequestEntityTooLargeError, check_invoke_payload
from ..runtime.errors import LambdaServiceError
from ..runtime.pool import LambdaRuntime
from ..runtime.spec import CodeStore, FunctionSpec, fingerprint_of
from ..runtime.worker import InvokeResult
from . import s3
from .patching import replace

logger = logging.getLogger("localcloud.lambda")

LOG_TAIL_BYTES = 4096  # X-Amz-Log-Result carries the last 4 KB of the log, base64-encoded
_MARK = "_localcloud_lambda_bridge"


class LambdaApiError(JsonRESTError):
    """A Lambda service error in the wire shape botocore parses (``__type`` + message).

    moto renders a raised JsonRESTError as its ``code`` and ``description``. Guarded by
    tests/unit/test_moto_seam.py::test_json_rest_errors_render_their_code_and_description.
    """

    def __init__(self, err: LambdaServiceError):
        super().__init__(err.error_type, str(err) or err.error_type)
        self.code = err.status
        body: dict[str, Any] = {"__type": err.error_type, "message": str(err) or err.error_type}
        if hasattr(err, "reason"):
            body["Reason"] = err.reason
        self.description = json.dumps(body)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for k, v in dict(headers).items():
        if k.lower() == name.lower():
            return cast(str, v)
    return None


def _as_bytes(body: Any) -> bytes:
    if body is None or body == "":
        return b"{}"
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class MotoLambdaBridge:
    """Turns moto Lambda functions into runtime specs and routes every invocation path to them.

    Reads moto's function model (code, handler, runtime, layers, event invoke configs). Guarded by
    tests/unit/test_moto_seam.py::test_lambda_function_model_has_what_the_bridge_reads.
    """

    def __init__(self, runtime: LambdaRuntime, code_store: CodeStore, *, account_id: str, region: str):
        self.runtime = runtime
        self.code_store = code_store
        self.account_id = account_id
        self.region = region
        self.async_invoker: AsyncInvoker | None = None
        self._specs: dict[str, tuple[str, FunctionSpec]] = {}
        self._lock = threading.Lock()

    # ---- specs -------------------------------------------------------------------------------
    def function(self, name_or_arn: str) -> LambdaFunction:
        region = name_or_arn.split(":")[3] if name_or_arn.startswith("arn:") else self.region
        return get_backend(self.account_id, region).get_function(name_or_arn)

    def spec_for(self, fn: LambdaFunction) -> FunctionSpec:
        layers = tuple(layer["Arn"] for layer in (fn.layers or []))
        key = fingerprint_of(fn.function_arn, fn.code_sha_256, fn.handler, fn.run_time, fn.timeout,
                             fn.memory_size, fn.environment_vars, layers, str(fn.version))
        with self._lock:
            cached = self._specs.get(fn.function_arn)
        if cached and cached[0] == key and cached[1].reserved_concurrency == _int(fn.reserved_concurrency):
            return cached[1]
        if not fn.code_bytes:
            raise LambdaApiError(_ServiceError("function has no zip code package (image functions need Docker)"))
        code_dir = self.code_store.extract("functions", fn.function_name, fn.code_bytes)
        backend = get_backend(self.account_id, fn.region)
        layer_dirs = []
        for arn in layers:
            lv = backend.layers_versions_by_arn(arn)
            if lv is None:
                raise LambdaApiError(_ServiceError(f"layer version not found: {arn}"))
            layer_dirs.append(self.code_store.extract("layers", lv.name, lv.code_bytes))
        spec = FunctionSpec(
            name=fn.function_name,
            arn=fn.function_arn,
            handler=cast(str, fn.handler),  # moto types it optional; every zip function has one
            runtime=fn.run_time or "python3.11",
            timeout=float(fn.timeout),
            memory_mb=int(fn.memory_size),
            environment=dict(fn.environment_vars or {}),
            code_dir=code_dir,
            layer_dirs=tuple(layer_dirs),
            reserved_concurrency=_int(fn.reserved_concurrency),
            version=str(fn.version) if str(fn.version) != "$LATEST" else "$LATEST",
            fingerprint=key,
        )
        with self._lock:
            self._specs[fn.function_arn] = (key, spec)
        return spec

    # ---- invoking ----------------------------------------------------------------------------
    def invoke_arn(self, arn: str, payload: bytes, request_id: str | None = None, *, wait: bool = False,
                   wait_timeout: float | None = None, tail: bool = False) -> InvokeResult:
        # An alias ARN (the HTTP API's integration with AutoPublishAlias) resolves to the version it
        # points at now; that version has its own spec and workers. The function sees the ARN it was
        # invoked by as context.invoked_function_arn, as on AWS.
        spec = self.spec_for(self.function(arn))
        invoked = arn if arn.startswith("arn:") else spec.arn
        return self.runtime.invoke(spec, payload, request_id=request_id, wait=wait, wait_timeout=wait_timeout,
                                   tail=tail, invoked_arn=invoked)

    def submit_async(self, arn: str, payload: bytes, source: str) -> str:
        assert self.async_invoker is not None, "async invoker not attached"
        fn = self.function(arn)  # fail now, as AWS does, for an unknown function
        return self.async_invoker.submit(fn.function_arn, payload, source=source)

    def policy_for(self, arn: str) -> AsyncPolicy:
        fn = self.function(arn)
        policy = AsyncPolicy()
        for cfg in getattr(fn, "event_invoke_config", []) or []:
            c = cfg.config
            if "MaximumRetryAttempts" in c:
                policy.max_retry_attempts = int(c["MaximumRetryAttempts"])
            if "MaximumEventAgeInSeconds" in c:
                policy.max_event_age_s = float(c["MaximumEventAgeInSeconds"])
            dest = c.get("DestinationConfig") or {}
            policy.on_failure = (dest.get("OnFailure") or {}).get("Destination") or policy.on_failure
            policy.on_success = (dest.get("OnSuccess") or {}).get("Destination") or policy.on_success
        # moto 5.2.5 does not keep a function's DeadLetterConfig, so this finds none today; guarded by
        # tests/unit/test_moto_seam.py::test_lambda_function_model_has_what_the_bridge_reads.
        dlq = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
        if dlq and not policy.on_failure:
            policy.on_failure = dlq
        return policy

    # ---- the patched moto entry points -------------------------------------------------------
    def _moto_invoke(self, fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any,
                     invoked_arn: str | None = None) -> bytes:
        payload = _as_bytes(body)
        inv_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        # The API server refuses an oversized body before reading it; this covers moto in-process too.
        try:
            check_invoke_payload(inv_type, len(payload))
        except RequestEntityTooLargeError as err:
            raise LambdaApiError(err) from err
        if inv_type == "DryRun":
            return b""
        if inv_type == "Event":
            self.submit_async(fn.function_arn, payload, source="lambda:Invoke")
            return b""
        tail = (_header(request_headers, "x-amz-log-type") or "") == "Tail"
        client_context = _header(request_headers, "x-amz-client-context")
        try:
            spec = self.spec_for(fn)
            result = self.runtime.invoke(spec, payload, tail=tail, client_context=client_context,
                                         invoked_arn=invoked_arn or spec.arn)
        except LambdaServiceError as err:
            raise LambdaApiError(err) from err
        if response_headers is not None:
            if result.function_error:
                response_headers["x-amz-function-error"] = result.function_error
            response_headers["x-amz-executed-version"] = spec.version
            tail_bytes = result.logs.encode()[-LOG_TAIL_BYTES:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail_bytes).decode()
        return result.payload

    def fast_invoke(self, name: str, qualifier: str | None, headers: dict[str, str], body: bytes
                    ) -> tuple[int, dict[str, str], bytes] | None:
        """The Invoke API without moto's dispatch (see apiserver.py); same semantics as _moto_invoke.

        None for an unknown function: moto then answers with its own ResourceNotFoundException.
        Guarded by tests/unit/test_moto_seam.py::test_lambda_get_function_takes_a_qualifier_and_raises_unknown.
        """
        from ..apiserver import error_response

        region = name.split(":")[3] if name.startswith("arn:") else self.region
        try:
            fn = get_backend(self.account_id, region).get_function(name, qualifier)
        except UnknownFunctionException:
            return None
        response_headers: dict[str, str] = {}
        # Qualifier "live" (an alias) resolved to the version it points at; the function is told the alias ARN.
        invoked = f"{fn.function_arn.rsplit(':', 1)[0]}:{qualifier}" if _qualified(fn) and qualifier else None
        try:
            payload = self._moto_invoke(fn, body, headers, response_headers, invoked)
        except LambdaApiError as err:
            data = json.loads(err.description)
            return error_response(err.code, data.pop("__type"), data.pop("message"), data)
        inv_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if inv_type == "Event":
            return 202, {}, b""
        if inv_type == "DryRun":
            return 204, {}, b""
        if headers.get("x-amz-log-type") != "Tail":
            response_headers.pop("x-amz-log-result", None)
        return 200, response_headers, payload

    def install(self) -> None:
        """Route moto's invocation paths to this bridge (each install replaces the previous bridge)."""
        bridge = self

        def invoke(fn: LambdaFunction, body: Any, request_headers: Any, response_headers: Any) -> bytes:
            # AWS runs the function; moto 5.2.5 runs it only in Docker. Guarded by
            # tests/unit/test_moto_seam.py::test_lambda_invoke_entry_points_exist_with_the_expected_signatures.
            return bridge._moto_invoke(fn, body, request_headers, response_headers)

        def docker_path(fn: LambdaFunction, event: Any = None) -> Any:
            # moto's Docker runner, unreachable once invoke is replaced: fail loudly if a moto path reaches it.
            # Guarded by tests/unit/test_moto_seam.py::test_lambda_invoke_entry_points_exist_with_the_expected_signatures.
            raise RuntimeError("moto tried to run a Lambda in Docker; the local cloud seam has moved")

        def s3_notify(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            # AWS: S3 notifications are delivered asynchronously, with retries, after PutObject returns;
            # moto calls the function inside PutObject and swallows its errors (bare except: pass).
            # Guarded by tests/unit/test_moto_seam.py::test_s3_and_events_notification_hooks_exist.
            try:
                bridge.submit_async(fn_arn, json.dumps(event_body).encode(), source="s3")
            except Exception:  # noqa: BLE001 - S3 must still accept the PUT (as on AWS); the failure is logged
                logger.exception("S3 notification to %s could not be queued", fn_arn)

        def events_notify(account_id: str, fn_arn: str, event: Any) -> None:
            # AWS: EventBridge invokes a Lambda target asynchronously, with retries; moto runs it in Docker.
            # Guarded by tests/unit/test_moto_seam.py::test_s3_and_events_notification_hooks_exist.
            try:
                bridge.submit_async(fn_arn, json.dumps(event).encode(), source="events")
            except Exception:  # noqa: BLE001 - same contract as S3 notifications
                logger.exception("EventBridge target %s could not be queued", fn_arn)

        replace(LambdaFunction, "invoke", invoke, mark=_MARK)
        replace(LambdaFunction, "_invoke_lambda", docker_path, mark=_MARK)
        replace(s3_notifications, "_invoke_awslambda", s3_notify, mark=_MARK)
        replace(events_notifications, "_invoke_lambda", events_notify, mark=_MARK)
        s3.install_event_records()


class _ServiceError(LambdaServiceError):
    error_type = "InvalidParameterValueException"
    status = 400


def _qualified(fn: LambdaFunction) -> bool:
    """A published version (its ARN ends in ``:<version>``), as opposed to ``$LATEST``."""
    return str(fn.version) != "$LATEST"


def _int(v: Any) -> int | None:
    return None if v in (None, "") else int(v)
