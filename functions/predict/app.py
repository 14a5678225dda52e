"""PredictFunction: the FastAPI prediction app behind Mangum (HTTP API payload format 2.0).

Powertools' Logger carries the Lambda request id and, as correlation id, API Gateway's request id
(``requestContext.requestId``, read through Powertools' ``APIGatewayProxyEventV2``) on every log
line. The event is never logged (``log_event=False``, whatever ``POWERTOOLS_LOGGER_LOG_EVENT``
says): requests hold the inputs, which stay out of logs."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from selfheal.serving import app_from_env

logger = Logger(service="PredictFunction")
app = app_from_env()  # cold start: settings checked, clients built once
asgi = Mangum(app, lifespan="off")


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayProxyEventV2(event)  # payload format 2.0, as the HTTP API (and the health check) send
    if "requestContext" in request:  # a bare `aws lambda invoke` event gets Mangum's own error, not a KeyError
        logger.set_correlation_id(request.request_context.request_id)
    # Mangum declares its own context Protocol; it is the same Lambda context object.
    return asgi(event, context)  # type: ignore[arg-type]
