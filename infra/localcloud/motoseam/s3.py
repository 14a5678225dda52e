"""S3: event records as AWS writes them, and keys over 1,024 bytes refused.

(Where S3 notifications go, the Lambda bridge decides: see lambda_.py.)
"""

from __future__ import annotations

import functools
import inspect
import itertools
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import moto.s3.notifications as s3_notifications
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend

from ..limits import s3_key_too_long
from .patching import is_patched, replace

_MARK = "_localcloud_s3_fix"

_moto_get_s3_event = s3_notifications._get_s3_event
_sequencer = itertools.count(time.time_ns())


def aws_s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
    """moto's S3 event record, completed as AWS writes it (for Lambda, SQS and SNS targets alike).

    AWS: the key is URL-encoded like a form value (spaces become '+', '/' stays), a versioned
    bucket's records carry ``versionId``, and every record a ``sequencer`` that grows with each
    event (consumers deduplicate at-least-once deliveries on them); moto 5.2.5 percent-encodes '/'
    too ("incoming%2Fa.csv") and sends neither field. Replaces ``moto.s3.notifications._get_s3_event``.
    Guarded by tests/unit/test_moto_seam.py::test_s3_notifications_build_records_in_get_s3_event.
    """
    body: dict[str, Any] = _moto_get_s3_event(event_name, bucket, key, notification_id)
    for record in body.get("Records", []):
        obj = record.get("s3", {}).get("object", {})
        obj["key"] = quote_plus(key.name, safe="/")
        version = getattr(key, "version_id", None)
        if version and version != "null":
            obj["versionId"] = version
        obj["sequencer"] = f"{next(_sequencer):018X}"
    return body


def install_event_records() -> None:
    """Every S3 notification moto sends (to Lambda, SQS or SNS) carries AWS's record shape (`aws_s3_event`).

    Guarded by tests/unit/test_moto_seam.py::test_s3_notifications_build_records_in_get_s3_event.
    """
    if not is_patched(s3_notifications._get_s3_event, _MARK):
        replace(s3_notifications, "_get_s3_event", aws_s3_event, mark=_MARK)


class KeyTooLongError(S3ClientError):
    """AWS refuses an object key over 1,024 bytes of UTF-8 (400 KeyTooLongError); moto 5.2.5 stores it."""

    code = "KeyTooLongError"

    def __init__(self) -> None:
        super().__init__("Your key is too long")


# The S3 backend methods that create a key, and the argument naming it. PutObject, POST object and
# CompleteMultipartUpload all reach put_object; CopyObject and CreateMultipartUpload are refused
# before they start.
KEY_WRITES = {"put_object": "key_name", "copy_object": "dest_key_name", "create_multipart_upload": "key_name"}


def refusing_long_keys(method: Callable[..., Any], argument: str) -> Callable[..., Any]:
    """`method` (an S3Backend method creating a key), raising KeyTooLongError first for a long key.

    AWS: PutObject, CopyObject and CreateMultipartUpload refuse a key over 1,024 bytes; moto 5.2.5
    stores it. Guarded by
    tests/unit/test_moto_seam.py::test_s3_backend_methods_that_create_keys_take_the_key_argument.
    """
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if s3_key_too_long(signature.bind(self, *args, **kwargs).arguments[argument]):
            raise KeyTooLongError()
        return method(self, *args, **kwargs)

    return wrapper


def install_key_limit() -> None:
    """S3Backend's key-creating methods refuse keys over 1,024 bytes (see `refusing_long_keys`).

    Guarded by tests/unit/test_moto_seam.py::test_s3_backend_methods_that_create_keys_take_the_key_argument.
    """
    for name, argument in KEY_WRITES.items():
        method = getattr(S3Backend, name)
        if not is_patched(method, _MARK):
            replace(S3Backend, name, refusing_long_keys(method, argument), mark=_MARK)
