"""Recover: health-check serving; recycle, then roll back to the last known good version.

The health check has two halves: the production artifact itself (it loads, its checksum holds) and
the live predict function (a known record through the same event API Gateway would send).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from selfheal.alerts import AlertKind
from selfheal.audit import AuditAction
from selfheal.capture import HEALTH_CHECK_HEADER
from selfheal.context import Context
from selfheal.contracts import HealthFailure, HealthResult
from selfheal.exceptions import ModelLoadError, ModelNotFoundError, NoHealthyModelError, RecoveryFailedError
from selfheal.flows.promote import rollback
from selfheal.inference import OnnxModel
from selfheal.telemetry import HealingAction

logger = logging.getLogger(__name__)


@dataclass
class Health:
    healthy: bool
    reason: str  # for people: the audit and the alert say it
    failure: HealthFailure | None = None  # for the code: recovery decides on it
    alias_version: str | None = None
    served_version: str | None = None
    prediction: float | None = None
    latency_ms: float | None = None


def _predict_event(record: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(record)
    return {
        "version": "2.0", "routeKey": "POST /predict", "rawPath": "/predict", "rawQueryString": "",
        # The health-check header keeps this fixed record out of the prediction capture (not traffic).
        "headers": {"content-type": "application/json", "user-agent": "selfheal-recover",
                    HEALTH_CHECK_HEADER.lower(): "1"},
        "requestContext": {"http": {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "selfheal-recover"},
                           "routeKey": "POST /predict", "stage": "$default", "requestId": "health-check",
                           "timeEpoch": int(time.time() * 1000)},
        "body": body, "isBase64Encoded": False,
    }


def health_check(ctx: Context) -> Health:
    s = ctx.settings
    alias = ctx.registry.production()
    if alias is None:
        return Health(False, "no production model", HealthFailure.NO_MODEL)
    version = alias["version"]
    try:
        schema = ctx.schemas.of_version(version)
        OnnxModel.from_bytes(ctx.registry.load_model_bytes(version), schema)
    except (ModelLoadError, ModelNotFoundError) as err:
        return Health(False, f"production artifact {version} is broken: {err}", HealthFailure.BROKEN_ARTIFACT,
                      alias_version=version)
    start = time.perf_counter()
    # Through the alias the HTTP API invokes, so the check sees the version users are served.
    qualifier = {"Qualifier": s.predict_function_alias} if s.predict_function_alias else {}
    resp = ctx.lambda_client.invoke(FunctionName=s.predict_function_name, **qualifier,
                                    Payload=json.dumps(_predict_event(schema.example_record())).encode())
    latency = (time.perf_counter() - start) * 1000
    payload = json.loads(resp["Payload"].read() or b"null")
    if resp.get("FunctionError"):
        return Health(False, f"predict function error: {payload}", HealthFailure.PREDICT_ERROR, alias_version=version,
                      latency_ms=latency)
    status = payload.get("statusCode") if isinstance(payload, dict) else None
    try:
        body = json.loads(payload.get("body") or "{}")
    except (ValueError, AttributeError):
        body = {}
    if status != 200:
        return Health(False, f"predict answered {status}: {str(body)[:300]}", HealthFailure.BAD_STATUS,
                      alias_version=version, latency_ms=latency)
    prediction = body.get("prediction")
    served = body.get("model_version")
    if not isinstance(prediction, (int, float)) or not math.isfinite(prediction):
        return Health(False, f"predict returned a non-finite prediction {prediction!r}", HealthFailure.NON_FINITE,
                      version, served, None, latency)
    return Health(True, "ok", None, version, served, float(prediction), latency)


def verify(ctx: Context, *, expected_version: str, execution_arn: str | None, attempts: int = 10,
           sleep=time.sleep) -> HealthResult:
    """The post-promotion smoke test: the new version must be what serving answers with."""
    health = health_check(ctx)
    for _ in range(attempts):
        if not health.healthy or health.served_version == expected_version:
            break
        sleep(0.5)  # serving re-reads the alias every ALIAS_CHECK_SECONDS
        health = health_check(ctx)
    ok = health.healthy and health.served_version == expected_version
    if health.healthy and not ok:
        health = Health(False, f"serving answers with {health.served_version}, expected {expected_version}",
                        HealthFailure.WRONG_VERSION, health.alias_version, health.served_version, health.prediction, health.latency_ms)
    ctx.audit.record(AuditAction.HEALTH_OK if ok else AuditAction.HEALTH_FAILED,
                     f"smoke test of {expected_version}: {health.reason}", execution_arn=execution_arn,
                     details=dict(_result(health)))
    return _result(health)  # healthy only if serving answers with expected_version


def _result(health: Health, actions: list[dict[str, Any]] | None = None) -> HealthResult:
    result: HealthResult = {"healthy": health.healthy, "reason": health.reason,
                            "failure": health.failure.value if health.failure else None,
                            "alias_version": health.alias_version, "served_version": health.served_version,
                            "prediction": health.prediction, "latency_ms": health.latency_ms}
    if actions is not None:
        result["actions"] = actions
    return result


def recover(ctx: Context, *, execution_arn: str | None = None, sleep=time.sleep) -> HealthResult:
    """The scheduled health check; on failure: recycle once, then roll back, at most N attempts."""
    s = ctx.settings
    health = health_check(ctx)
    if health.healthy:
        return _result(health, actions=[])
    ctx.audit.record(AuditAction.HEALTH_FAILED, health.reason, execution_arn=execution_arn, details=dict(_result(health)))
    actions: list[dict[str, Any]] = []
    for attempt in range(1, s.max_recovery_attempts + 1):
        # A broken artifact is not fixed by fresh workers: roll back at once. Anything else may be
        # a bad worker (a leak, a poisoned cache): replace them first.
        if attempt == 1 and health.failure is not HealthFailure.BROKEN_ARTIFACT:
            action = recycle(ctx, attempt=attempt, execution_arn=execution_arn)
        else:
            try:
                result = rollback(ctx, reason=f"recovery attempt {attempt}: {health.reason}", execution_arn=execution_arn)
                action = {"attempt": attempt, "action": "rollback", **result}
            except NoHealthyModelError as err:
                action = {"attempt": attempt, "action": "rollback", "error": str(err)}
        actions.append(action)
        sleep(min(2.0, s.alias_check_seconds + 0.5))
        health = health_check(ctx)
        if health.healthy:
            ctx.audit.record(AuditAction.RECOVERED, f"healthy again after {attempt} attempt(s): "
                             + ", ".join(a["action"] for a in actions), execution_arn=execution_arn,
                             details={"actions": actions, **_result(health)})
            return _result(health, actions=actions)
    item = ctx.audit.record(AuditAction.RECOVERY_FAILED,
                            f"still unhealthy after {len(actions)} attempt(s): {health.reason}",
                            execution_arn=execution_arn, details={"actions": actions})
    # Rollbacks on the way sent their own alerts; this one says a human is needed now.
    ctx.alerter.send(AlertKind.RECOVERY_FAILED, f"recovery failed after {len(actions)} attempt(s): a human is needed",
                     reason=health.reason, versions={"production": health.alias_version},
                     details={"actions": [a["action"] + (f" ({a['error']})" if a.get("error") else "") for a in actions]},
                     execution_arn=execution_arn, about=item)
    raise RecoveryFailedError(f"still unhealthy after {len(actions)} attempt(s): {health.reason}",
                              details={"actions": actions})


def recycle(ctx: Context, *, attempt: int, execution_arn: str | None,
            waiter_config: dict[str, int] | None = None) -> dict[str, Any]:
    """Replace every warm execution environment that serves predictions.

    A configuration update makes Lambda replace the environments of ``$LATEST``. A published
    version is immutable, though, so when the HTTP API invokes an alias (``AutoPublishAlias``) the
    update alone would leave the served version's environments warm: the updated configuration is
    then published as a new version and the alias moved to it, all at once (a recovery does not
    wait for a canary; it also ends a canary in flight). Needs ``lambda:GetFunctionConfiguration``,
    ``UpdateFunctionConfiguration``, ``PublishVersion`` and ``UpdateAlias`` on the function.
    """
    s = ctx.settings
    name, lam = s.predict_function_name, ctx.lambda_client
    env = lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    env["RECYCLED_AT"] = ctx.clock().isoformat()
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": env})
    details: dict[str, Any] = {"function": name}
    if s.predict_function_alias:
        # PublishVersion fails while the update is still in progress (LastUpdateStatus InProgress).
        lam.get_waiter("function_updated").wait(FunctionName=name,
                                                WaiterConfig=waiter_config or {"Delay": 1, "MaxAttempts": 60})
        version = lam.publish_version(FunctionName=name, Description=f"recycled by recovery attempt {attempt}")["Version"]
        lam.update_alias(FunctionName=name, Name=s.predict_function_alias, FunctionVersion=version,
                         RoutingConfig={"AdditionalVersionWeights": {}})
        details.update(alias=s.predict_function_alias, version=version)
    target = f"{name}:{s.predict_function_alias}" if s.predict_function_alias else name
    ctx.telemetry.healing_action(HealingAction.RECYCLE)
    ctx.audit.record(AuditAction.RECYCLED, f"recovery attempt {attempt}: recycled {target}"
                     + (f" (alias moved to version {details['version']})" if "version" in details else ""),
                     execution_arn=execution_arn, details=details)
    return {"attempt": attempt, "action": "recycle", **details}
