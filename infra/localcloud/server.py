"""The local cloud: moto's AWS APIs on one port, with Lambda, async delivery, schedules, HTTP API,
SNS and EventBridge delivery, and CloudWatch alarms."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from . import motoseam
from .asyncinvoke import AsyncInvoker
from .emf import EmfExtractor
from .endpoint import local_client
from .lambdametrics import LambdaMetrics
from .logretention import RetentionSweeper
from .logsink import LogSink
from .messaging.outbox import Outbox
from .messaging.sns import DEFAULT_HTTP_RETRY_DELAYS_S
from .messaging.workqueue import WorkQueue
from .runtime.pool import LambdaRuntime, RuntimeConfig
from .runtime.spec import CodeStore
from .runtime.worker import WorkerSettings

if TYPE_CHECKING:
    # Types only: start() imports these late, because moto reads its settings when it is imported.
    from .alarms import AlarmEvaluator
    from .apiserver import AwsApiServer
    from .faults import FaultInjector
    from .gateway import HttpApiGateway
    from .messaging.sns import SnsDelivery
    from .motoseam.lambda_ import MotoLambdaBridge
    from .persistence import Persistence
    from .scheduler import Scheduler

logger = logging.getLogger("localcloud")

ACCOUNT_ID = "123456789012"  # moto's default account
SNS_RETRY_DELAYS_ENV = "LOCALCLOUD_SNS_RETRY_DELAYS"  # e.g. "0.2,0.2,0.2": seconds between HTTP/S retries


def _sns_retry_delays() -> tuple[float, ...]:
    raw = os.environ.get(SNS_RETRY_DELAYS_ENV, "").strip()
    return tuple(float(x) for x in raw.split(",")) if raw else DEFAULT_HTTP_RETRY_DELAYS_S


@dataclass
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 4566  # LocalStack's port, so awslocal / localstack-client work unchanged
    api_port: int = 3000  # HTTP API gateway; 0 disables it
    region: str = "us-east-1"
    state_dir: Path = field(default_factory=lambda: Path(".localcloud"))
    use_awslambdaric: bool = True
    default_concurrency: int = 10
    async_retry_delays_s: tuple[float, ...] = (60.0, 120.0)
    schedule_speedup: float = 1.0
    persist: bool = True  # keep S3, DynamoDB, logs and executions in state_dir/data across restarts
    fsync: bool = False  # also survive a power cut (a disk flush per acknowledged write)
    # SNS's default HTTP/S delivery policy retries 3 times, 20 s apart; tests shorten it.
    sns_http_retry_delays_s: tuple[float, ...] = field(default_factory=_sns_retry_delays)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class LocalCloud:
    """Starts and stops every part; the parts themselves live in their own modules."""

    def __init__(self, config: CloudConfig):
        self.config = config
        self.moto_server: AwsApiServer | None = None
        self.runtime: LambdaRuntime | None = None
        self.faults: FaultInjector | None = None
        self.bridge: MotoLambdaBridge | None = None
        self.async_invoker: AsyncInvoker | None = None
        self.gateway: HttpApiGateway | None = None
        self.scheduler: Scheduler | None = None
        self.logsink: LogSink | None = None
        self.persistence: Persistence | None = None
        self.log_retention: RetentionSweeper | None = None
        self.deliveries: WorkQueue | None = None
        self.outbox: Outbox | None = None
        self.sns_delivery: SnsDelivery | None = None
        self.alarms: AlarmEvaluator | None = None
        self._stopped = threading.Event()

    def client(self, service: str) -> Any:
        return local_client(service, self.config.endpoint_url, self.config.region)

    def start(self) -> LocalCloud:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        motoseam.use_port(cfg.port)
        os.environ.setdefault("AWS_DEFAULT_REGION", cfg.region)
        # Imported late: moto reads settings at import time.
        from .apiserver import AwsApiServer
        from .gateway import HttpApiGateway
        from .scheduler import Scheduler

        self.moto_server = AwsApiServer(cfg.host, cfg.port)
        self.moto_server.start()
        self._wait_ready()
        motoseam.enable_state_machine_execution(cfg.endpoint_url)
        self.moto_server.app.extra_targets["AWSStepFunctions.RedriveExecution"] = self._redrive
        from .cloudformation import CloudFormationApi

        # The stacks the deployer records in state_dir answer CloudFormation's read actions.
        self.moto_server.app.query_apis["cloudformation"] = CloudFormationApi(
            cfg.state_dir, ACCOUNT_ID, api_url=f"http://{cfg.host}:{cfg.api_port}" if cfg.api_port else None)
        if cfg.persist:
            from .persistence import Persistence

            self.persistence = Persistence(cfg.state_dir / "data", fsync=cfg.fsync)
            self.persistence.restore_data(ACCOUNT_ID)
            self.moto_server.app.persistence = self.persistence

        # CloudWatch Logs turns embedded-metric-format lines into metrics; so does our log pipeline.
        metrics = EmfExtractor.into_moto(ACCOUNT_ID, cfg.region)
        if self.persistence is not None:
            # Metrics are derived data: rebuilt from the EMF lines of the restored logs.
            self.persistence.replay_logs(metrics, cfg.region)
        self.logsink = LogSink(self._write_cloudwatch, metrics=metrics)
        self.log_retention = RetentionSweeper(self._log_groups).start()
        worker = WorkerSettings(endpoint_url=cfg.endpoint_url, region=cfg.region, account_id=ACCOUNT_ID,
                                use_awslambdaric=cfg.use_awslambdaric)
        from .faults import FaultInjector

        self.faults = FaultInjector()
        # Lambda publishes AWS/Lambda metrics (Invocations, Errors, Duration, Throttles) for every invocation.
        lambda_metrics = LambdaMetrics(motoseam.metric_store(ACCOUNT_ID, cfg.region))
        self.runtime = LambdaRuntime(RuntimeConfig(worker, cfg.default_concurrency, faults=self.faults,
                                                   observe=lambda_metrics), self.logsink.emit)
        app = self.moto_server.app
        app.faults, app.function_names, app.kill_running = (self.faults, self.runtime.function_names,
                                                             self.runtime.kill_running)
        bridge = self.bridge = motoseam.lambda_bridge(self.runtime, CodeStore(cfg.state_dir / "code"),
                                                      account_id=ACCOUNT_ID, region=cfg.region)
        self.async_invoker = AsyncInvoker(
            lambda arn, payload, rid: bridge.invoke_arn(arn, payload, rid, wait=True),
            bridge.policy_for, self._deliver, retry_delays_s=cfg.async_retry_delays_s)
        bridge.async_invoker = self.async_invoker
        bridge.install()
        motoseam.install_fixes()
        self.moto_server.app.fast_invoke = bridge.fast_invoke
        self._start_messaging()

        if cfg.api_port:
            # AWS would scale a function far past the local default concurrency; an HTTP request that
            # finds every local worker busy waits for one (up to 30 s) instead of failing.
            self.gateway = HttpApiGateway(cfg.host, cfg.api_port,
                                          lambda arn, payload: bridge.invoke_arn(arn, payload, wait=True,
                                                                                 wait_timeout=30.0))
            self.gateway.start()
        self.scheduler = Scheduler(self.client("events"), bridge.submit_async, account_id=ACCOUNT_ID,
                                   region=cfg.region, speedup=cfg.schedule_speedup)
        self.scheduler.start()
        logger.info("AWS APIs on %s", cfg.endpoint_url)
        return self

    def _start_messaging(self) -> None:
        """SNS delivery, EventBridge targets and service events, and alarm evaluation (motoseam hooks)."""
        from .alarms import AlarmEvaluator, AlarmNotifier
        from .messaging.eventbus import EventEmitter, EventRouter, execution_status_change
        from .messaging.sns import SnsDelivery

        cfg = self.config
        assert self.bridge is not None
        work = self.deliveries = WorkQueue(threads=8)
        sns, sqs = self.client("sns"), self.client("sqs")
        self.outbox = Outbox(cfg.state_dir / "outbox")
        self.sns_delivery = SnsDelivery(work, submit_lambda=self.bridge.submit_async, sqs=sqs, outbox=self.outbox,
                                        endpoint_url=cfg.endpoint_url, http_retry_delays_s=cfg.sns_http_retry_delays_s)
        router = EventRouter(work, submit_lambda=self.bridge.submit_async, sns=sns, sqs=sqs,
                             stepfunctions=self.client("stepfunctions"))
        emitter = EventEmitter(work, self.client("events"))
        motoseam.install_hooks(
            deliver=self.sns_delivery.deliver, route=router.route,
            on_execution=lambda ex: emitter.emit(*execution_status_change(ex)))

        def publish(topic_arn: str, subject: str, message: str) -> None:
            work.submit(partial(sns.publish, TopicArn=topic_arn, Subject=subject, Message=message),
                        label=f"alarm notification to {topic_arn}")

        from .messaging.ec2events import Ec2StateEvents

        assert self.moto_server is not None
        # EC2 instance state changes, from the EC2 API's answers (moto emits none).
        self.moto_server.app.query_observers["ec2"] = Ec2StateEvents(emitter.emit, account_id=ACCOUNT_ID).observe
        notifier = AlarmNotifier(publish, emitter.emit, account_id=ACCOUNT_ID, region=cfg.region)
        # Alarms are evaluated every Period, or Period / --schedule-speedup (at most once a second).
        self.alarms = AlarmEvaluator(self.client("cloudwatch"), motoseam.metric_source(ACCOUNT_ID, cfg.region),
                                     notifier, speedup=cfg.schedule_speedup).start()

    def restore_executions(self) -> int:
        """After the deploy: executions from before the restart join their state machines again."""
        return self.persistence.restore_executions(ACCOUNT_ID, self.config.region) if self.persistence else 0

    def _redrive(self, request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        from .apiserver import error_response
        from .persistence.executions import ExecutionDoesNotExist, ExecutionNotRedrivable, redrive

        arn = request.get("executionArn")
        if not isinstance(arn, str) or not arn:
            return error_response(400, "ValidationException", "executionArn is required")
        try:
            moment = redrive(ACCOUNT_ID, self.config.region, arn)
        except ExecutionDoesNotExist as exc:
            return error_response(400, "ExecutionDoesNotExist", str(exc))
        except ExecutionNotRedrivable as exc:
            return error_response(400, "ExecutionNotRedrivable", str(exc))
        return 200, {}, json.dumps({"redriveDate": moment.timestamp()}).encode()

    def _wait_ready(self, timeout: float = 15.0) -> None:
        end = time.time() + timeout
        while time.time() < end:
            try:
                requests.get(f"{self.config.endpoint_url}/moto-api/", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"moto server did not start on {self.config.endpoint_url}")

    def reload(self) -> None:
        """After a deploy: pick up routes and schedules through the APIs."""
        if self.gateway is not None:
            n = self.gateway.reload(self.client("apigatewayv2"), self.client("apigateway"))
            logger.info("HTTP API: %d route(s) on http://%s:%d", n, self.config.host, self.gateway.port)
            for api in self.gateway.rest_apis.apis:
                logger.info("REST API %s: stage(s) %s on http://%s:%d/{stage}/...", api.api_id,
                            ", ".join(sorted(api.stages)), self.config.host, self.gateway.port)
        if self.scheduler is not None:
            self.scheduler.reload()

    def _log_groups(self) -> list[Any]:
        return motoseam.log_groups(ACCOUNT_ID, self.config.region)

    def _write_cloudwatch(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        motoseam.write_log_events(ACCOUNT_ID, self.config.region, group, stream, events)

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        body = json.dumps(record)
        service = destination.split(":")[2]
        if service == "sqs":
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self.client("sns").publish(TopicArn=destination, Message=body)
        elif service == "lambda":
            self.client("lambda").invoke(FunctionName=destination, InvocationType="Event", Payload=body.encode())
        elif service == "events":
            self.client("events").put_events(Entries=[{"Source": "lambda", "DetailType": "Lambda Function Invocation Result - Failure",
                                                       "Detail": body, "EventBusName": destination}])
        else:
            raise ValueError(f"unsupported destination {destination}")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if ((self.async_invoker is None or self.async_invoker.idle())
                    and (self.deliveries is None or self.deliveries.idle())):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.alarms is not None:
            self.alarms.stop()
        if self.deliveries is not None:
            self.deliveries.close()
        if self.async_invoker is not None:
            self.async_invoker.close()
        if self.gateway is not None:
            self.gateway.stop()
        if self.runtime is not None:
            self.runtime.shutdown()
        if self.log_retention is not None:
            self.log_retention.stop()
        if self.logsink is not None:
            self.logsink.flush()
            self.logsink.close()
        if self.moto_server is not None:
            self.moto_server.stop()
        if self.persistence is not None:
            self.persistence.close()
        logger.info("local cloud stopped")
