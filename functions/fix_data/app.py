"""FixDataFunction: fix raw batches into curated/ (action "fix"), or quarantine them (action "quarantine").

Events: ``selfheal.contracts.FixRequest`` and ``QuarantineRequest`` (the FixData and Quarantine states)."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import FixAction, FixRequest, FixResult, QuarantineRequest, QuarantineResult
from selfheal.exceptions import StepInputError
from selfheal.flows.fix import fix_batches, quarantine_after_failure

logger = Logger(service="FixDataFunction")
CTX = Context.from_env()  # cold start: settings validated, clients built once


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> FixResult | QuarantineResult:
    action = event.get("action", FixAction.FIX)
    if action == FixAction.QUARANTINE:
        quarantine = QuarantineRequest.from_event(event)
        logger.info("quarantining %d batch(es) after %s", len(quarantine.batches), quarantine.error.error)
        return quarantine_after_failure(CTX, quarantine.batches, quarantine.error,
                                        execution_arn=quarantine.execution_arn)
    if action != FixAction.FIX:
        raise StepInputError(f"FixDataFunction: unknown action {action!r}; expected one of {[a.value for a in FixAction]}")
    fix = FixRequest.from_event(event)
    logger.info("fixing %d batch(es) (trigger %s)", len(fix.execution.batches), fix.execution.trigger)
    return fix_batches(CTX, fix.execution.batches, include_reference=fix.execution.include_reference,
                       execution_arn=fix.execution_arn, schema_key=fix.execution.schema_key)
