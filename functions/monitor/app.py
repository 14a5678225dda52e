"""MonitorFunction: on its schedule or on demand (``make monitor``), monitor the live traffic captured
since the previous run: drift, labelled performance per model version, and retraining when needed.

Event ``{"mode": "scheduled"}`` (the schedule) or ``{"mode": "on_demand"}``; the result is the run's
monitoring record (also stored under ``monitoring/runs/``)."""

import logging

from selfheal.context import Context
from selfheal.flows.live import run_monitor

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env(services=("stepfunctions",), require=("state_machine_arn",))


def handler(event, context):
    return run_monitor(CTX, trigger=str((event or {}).get("mode") or "scheduled"))
