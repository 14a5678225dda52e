"""DriftFunction: S3 trigger on incoming/*.csv. Checks drift and degradation; may start retraining.

On its schedule (event ``{"mode": "drain"}``) it starts a retraining for deferred batches."""

import logging
from urllib.parse import unquote_plus

from selfheal.context import Context
from selfheal.flows.monitor import check_upload, drain_pending

logging.getLogger().setLevel(logging.INFO)
CTX = Context.from_env(services=("stepfunctions",), require=("state_machine_arn",))


def handler(event, context):
    if event.get("mode") == "drain":
        return drain_pending(CTX)
    results = []
    for record in event.get("Records", []):
        s3 = record["s3"]
        # S3 event keys are URL-encoded (spaces arrive as '+').
        results.append(check_upload(CTX, bucket=s3["bucket"]["name"], key=unquote_plus(s3["object"]["key"])))
    return {"results": results}
