"""DriftFunction: S3 trigger on incoming/*.csv. Checks drift and degradation; may start retraining.

Each object version is checked once, however often S3 delivers its event (selfheal/idempotency.py).
On its schedule (``selfheal.contracts.DrainEvent``, ``{"mode": "drain"}``) it starts a retraining for
deferred batches."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from selfheal.context import Context
from selfheal.contracts import DrainEvent
from selfheal.exceptions import StepInputError
from selfheal.flows.monitor import check_delivery, drain_pending
from selfheal.idempotency import ObjectVersion

logger = Logger(service="DriftFunction")
CTX = Context.from_env(services=("stepfunctions",), require=("state_machine_arn",))


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict[str, Any]:
    if DrainEvent.matches(event):
        return drain_pending(CTX)
    if "Records" not in event:
        raise StepInputError('DriftFunction: expected an S3 event notification ("Records") or {"mode": "drain"}')
    results = []
    for record in S3Event(event).records:
        # The claim lasts as long as this invocation can (its request id is kept by Lambda's retries).
        lease = max(context.get_remaining_time_in_millis() / 1000, 1.0)
        obj = ObjectVersion.from_s3_record(record)
        logger.info("checking %s", obj.describe() if obj.version else obj.uri)
        results.append(check_delivery(CTX, obj, owner=context.aws_request_id, lease_seconds=lease))
    return {"results": results}
