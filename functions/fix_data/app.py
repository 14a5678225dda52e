"""FixDataFunction: fix raw batches into curated/ (action "fix"), or quarantine them (action "quarantine")."""

import logging

from selfheal.context import Context
from selfheal.flows.fix import fix_batches, quarantine_after_failure

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env()  # cold start: settings validated, clients built once


def handler(event, context):
    action = event.get("action", "fix")
    request = event.get("input", event)
    batches = request.get("batches") or []
    if action == "quarantine":
        return quarantine_after_failure(CTX, batches, request.get("error") or {}, execution_arn=event.get("execution_arn"))
    return fix_batches(CTX, batches, include_reference=bool(request.get("include_reference", False)),
                       execution_arn=event.get("execution_arn"))
