"""Everything a handler needs, built once per cold start: settings, AWS clients, registry, audit, alerts.

Handlers call ``Context.from_env()`` at module level (cold start) and pass the context to the
service functions. Tests build a ``Context`` directly with their own clients and clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selfheal.alerts import Alerter
from selfheal.audit import AuditTrail
from selfheal.clock import Clock, utc_now
from selfheal.config import Settings
from selfheal.lineage import Schemas
from selfheal.locks import Cooldown, RetrainingLock
from selfheal.registry import ModelRegistry
from selfheal.schema import Schema
from selfheal.telemetry import Telemetry


def make_client(service: str) -> Any:
    """A boto3 client; honours AWS_ENDPOINT_URL, so the same code talks to AWS or the local cloud."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, config=Config(retries={"mode": "standard", "max_attempts": 3}))


@dataclass
class Context:
    settings: Settings
    s3: Any
    dynamodb: Any
    clock: Clock = utc_now
    stepfunctions: Any = None
    lambda_client: Any = None
    sns: Any = None  # only where an alert topic is configured (ALERT_TOPIC_ARN)
    telemetry: Telemetry = field(default_factory=Telemetry)
    registry: ModelRegistry = field(init=False)
    audit: AuditTrail = field(init=False)
    lock: RetrainingLock = field(init=False)
    cooldown: Cooldown = field(init=False)
    alerter: Alerter = field(init=False)
    schemas: Schemas = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.registry = ModelRegistry(self.s3, s.model_bucket, s.model_name, clock=self.clock)
        self.audit = AuditTrail(self.dynamodb, s.state_table, clock=self.clock)
        self.lock = RetrainingLock(self.dynamodb, s.state_table, clock=self.clock)
        self.cooldown = Cooldown(self.dynamodb, s.state_table, clock=self.clock)
        self.schemas = Schemas(self.registry, s.schema)
        self.alerter = Alerter(self.sns, s.alert_topic_arn, self.audit, console_url=s.console_url, clock=self.clock,
                               telemetry=self.telemetry)

    @property
    def schema(self) -> Schema:
        """Production's schema (``selfheal.lineage``): the columns the pipeline works with now."""
        return self.schemas.production()

    @classmethod
    def from_env(cls, *, services: tuple[str, ...] = (), require: tuple[str, ...] = ()) -> Context:
        settings = Settings.from_env(require=require)
        return cls(
            settings=settings,
            s3=make_client("s3"),
            dynamodb=make_client("dynamodb"),
            stepfunctions=make_client("stepfunctions") if "stepfunctions" in services else None,
            lambda_client=make_client("lambda") if "lambda" in services else None,
            sns=make_client("sns") if settings.alert_topic_arn else None,
        )
