"""A Lambda context for calling a handler in-process, with the fields the handlers and Powertools'
``Logger.inject_lambda_context`` read."""

from __future__ import annotations


class FakeLambdaContext:
    def __init__(self, request_id: str = "req-1", function_name: str = "under-test") -> None:
        self.aws_request_id = request_id  # kept by Lambda's retries of an asynchronous event
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:  # until the platform stops this invocation
        return 300_000
