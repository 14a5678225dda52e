"""MonitorFunction: on its schedule or on demand (``make monitor``), monitor the live traffic captured
since the previous run: drift, labelled performance per model version, and retraining when needed.

Event: ``selfheal.contracts.MonitorEvent``, ``{"mode": "scheduled"}`` (the schedule) or
``{"mode": "on_demand"}``; the result is the run's monitoring record (also stored under
``monitoring/runs/``)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import MonitorEvent
from selfheal.flows.live import run_monitor

logger = Logger(service="MonitorFunction")
CTX = Context.from_env(services=("stepfunctions",), require=("state_machine_arn",))


@logger.inject_lambda_context
def handler(event: dict | None, context: LambdaContext) -> dict[str, Any]:
    request = MonitorEvent.from_event(event)
    return run_monitor(CTX, trigger=request.mode.value)
