"""Errors of the local Lambda service, shaped like the AWS ones they stand for."""

from __future__ import annotations


class LambdaServiceError(Exception):
    """An error of the Lambda service itself (not of the function's code)."""

    error_type = "ServiceException"
    status = 500


class TooManyRequestsError(LambdaServiceError):
    """Synchronous invoke past the function's concurrency (AWS: 429 TooManyRequestsException)."""

    error_type = "TooManyRequestsException"
    status = 429
    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"


class ResourceNotFoundError(LambdaServiceError):
    error_type = "ResourceNotFoundException"
    status = 404


class RuntimeStoppedError(LambdaServiceError):
    """The local cloud is shutting down."""

    error_type = "ServiceException"
    status = 503
