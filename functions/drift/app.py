"""DriftFunction: S3 trigger on incoming/*.csv. Checks drift and degradation; may start retraining.

Each object version is checked once, however often S3 delivers its event (selfheal/idempotency.py).
On its schedule (event ``{"mode": "drain"}``) it starts a retraining for deferred batches."""

import logging

from selfheal.context import Context
from selfheal.flows.monitor import check_delivery, drain_pending
from selfheal.idempotency import ObjectVersion

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env(services=("stepfunctions",), require=("state_machine_arn",))


def handler(event, context):
    if event.get("mode") == "drain":
        return drain_pending(CTX)
    results = []
    for record in event.get("Records", []):
        # The claim lasts as long as this invocation can (its request id is kept by Lambda's retries).
        lease = max(context.get_remaining_time_in_millis() / 1000, 1.0)
        results.append(check_delivery(CTX, ObjectVersion.from_s3_record(record), owner=context.aws_request_id,
                                      lease_seconds=lease))
    return {"results": results}
