"""Small corrections to moto where it differs from AWS in ways users hit. Each says what AWS does.

Installed once by the local cloud at start-up; ``tests/unit/test_moto_seam.py`` checks the names.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import uuid
from collections.abc import Callable
from typing import Any

from jsonpath_ng.ext import parse as parse_json_path
from moto.cloudwatch.models import CloudWatchBackend
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from .limits import s3_key_too_long

_original_start_execution = StepFunctionsParserBackend.start_execution


def _start_execution(self: Any, state_machine_arn: str, name: str | None = None, execution_input: Any = None,
                     trace_header: Any = None) -> Any:
    # AWS: "If you don't provide a name for the execution, Step Functions automatically generates a
    # universally unique identifier (UUID)". moto's interpreter backend uses the literal "None".
    return _original_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)


# A JSONPath is "indefinite" (always yields a list on AWS) when it has a wildcard, slice, filter,
# union or deep scan; any other path yields the single value it names.
_INDEFINITE = re.compile(r"\[\s*(\*|-?\d*\s*:|\?|'[^']*'\s*,|\d+\s*,)|\.\.|\.\*")
_original_extract_json = json_path.extract_json
_MODULES_USING_EXTRACT_JSON = (
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.eval.states",
)


def _extract_json(path: str, data: Any) -> Any:
    # AWS: "$.squares[0].square" is a definite path and yields 16. moto 5.2.5 yields [16] for any path
    # through an array index (its fix for getmoto/moto#7825), which silently breaks Choice rules.
    if _INDEFINITE.search(path):
        return _original_extract_json(path, data)
    matches = parse_json_path(path).find(data)
    if not matches:
        return _original_extract_json(path, data)  # raises moto's NoSuchJsonPathError, as before
    return matches[0].value


def _get_filtered_metrics(self: Any, metric_name: str, namespace: str, dimensions: list[dict[str, str]]) -> list[Any]:
    # AWS ListMetrics returns each metric (namespace, name, dimension set) once. moto 5.2.5 compares
    # dimension sets pairwise per dimension, so a metric with two or more dimensions is listed once per
    # datapoint (and the comparison is quadratic in them).
    seen: set[tuple[Any, ...]] = set()
    found = []
    for datum in self.get_all_metrics():
        if not datum.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
            continue
        key = (datum.namespace, datum.name, tuple(sorted((d.name, d.value) for d in datum.dimensions)))
        if key not in seen:
            seen.add(key)
            found.append(datum)
    return found


class KeyTooLongError(S3ClientError):
    """AWS refuses an object key over 1,024 bytes of UTF-8 (400 KeyTooLongError); moto 5.2.5 stores it."""

    code = "KeyTooLongError"

    def __init__(self) -> None:
        super().__init__("Your key is too long")


# The S3 backend methods that create a key, and the argument naming it. PutObject, POST object and
# CompleteMultipartUpload all reach put_object; CopyObject and CreateMultipartUpload are refused
# before they start.
_KEY_WRITES = {"put_object": "key_name", "copy_object": "dest_key_name", "create_multipart_upload": "key_name"}
_KEY_CHECK = "_localcloud_refuses_long_keys"  # marks a wrapped method, so install() is idempotent


def _refusing_long_keys(method: Callable[..., Any], argument: str) -> Callable[..., Any]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if s3_key_too_long(signature.bind(self, *args, **kwargs).arguments[argument]):
            raise KeyTooLongError()
        return method(self, *args, **kwargs)

    setattr(wrapper, _KEY_CHECK, True)
    return wrapper


def install() -> None:
    for name, argument in _KEY_WRITES.items():
        method = getattr(S3Backend, name)
        if not getattr(method, _KEY_CHECK, False):
            setattr(S3Backend, name, _refusing_long_keys(method, argument))
    CloudWatchBackend.get_filtered_metrics = _get_filtered_metrics  # type: ignore[method-assign]
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]
    json_path.extract_json = _extract_json
    for name in _MODULES_USING_EXTRACT_JSON:
        module = importlib.import_module(name)
        if getattr(module, "extract_json", None) is _original_extract_json:
            module.extract_json = _extract_json
