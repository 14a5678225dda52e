"""The drift reference: the data production was trained on, kept as a rolling window of its newest rows.

S3 layout in the data bucket::

    reference/current.csv              what the drift check compares every upload with
    reference/current.json             whose reference it is: version, source, rows kept, when
    reference/versions/<version>.csv   each promoted version's reference, written once, at its promotion

At promotion the version's training set becomes the reference. A training set is the previous
reference followed by the new batches (``flows/fix.py``), so its newest rows are its last ones: the
reference keeps the last ``REFERENCE_MAX_ROWS`` of them, and neither it nor the next training set
grows without bound. A rollback copies the reference of the version rolled back to over
``current.csv``, so drift is measured against the data the served model was trained on. A version
promoted before per-version copies existed is restored from the training set its manifest names
(cut the same way), and its copy is written then.

CSV through the standard library only: PromoteFunction and RecoverFunction ship without pandas.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from selfheal.clock import isoformat
from selfheal.context import Context
from selfheal.exceptions import ModelNotFoundError
from selfheal.flows.keys import REFERENCE_KEY, REFERENCE_META_KEY, reference_version_key
from selfheal.storage import read_bytes, write_json

logger = logging.getLogger(__name__)

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class Window:
    """A CSV cut to its newest rows."""

    body: bytes
    rows: int  # data rows kept
    rows_in: int  # data rows in the source


def newest_rows(body: bytes, max_rows: int) -> Window:
    """The header and the last ``max_rows`` rows of a CSV; the bytes unchanged when nothing is cut.

    Parsed with ``csv`` rather than split on newlines, so a quoted value holding a newline stays
    one row.
    """
    if max_rows < 1:
        raise ValueError("max_rows must be >= 1")
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader, None)
    kept: deque[list[str]] = deque(maxlen=max_rows)
    total = 0
    for row in reader:
        total += 1
        kept.append(row)
    if header is None or total <= max_rows:
        return Window(body, total, total)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # as pandas' to_csv writes them
    writer.writerow(header)
    writer.writerows(kept)
    return Window(out.getvalue().encode("utf-8"), len(kept), total)


def publish_reference(ctx: Context, *, version: str, training_key: str, execution_arn: str | None) -> dict[str, Any]:
    """At promotion: ``version``'s training set, cut to the newest rows, becomes the reference.

    The per-version copy is written once; a retried Promote reuses it.
    """
    s = ctx.settings
    key = reference_version_key(version)
    head = _head(ctx, key)
    if head is None:
        window = newest_rows(read_bytes(ctx.s3, s.data_bucket, training_key), s.reference_max_rows)
        metadata = {"version": version, "source": training_key, "rows": str(window.rows),
                    "rows-in": str(window.rows_in)}
        ctx.s3.put_object(Bucket=s.data_bucket, Key=key, Body=window.body, ContentType="text/csv",
                          Metadata=metadata)
        if window.rows < window.rows_in:
            logger.info("reference of %s: the newest %d of %d rows (REFERENCE_MAX_ROWS)", version, window.rows,
                        window.rows_in)
    else:
        metadata = head.get("Metadata") or {}
    return _make_current(ctx, version, key, metadata, execution_arn)


def restore_reference(ctx: Context, *, version: str, execution_arn: str | None) -> dict[str, Any] | None:
    """At rollback: make ``version``'s reference the current one; ``None`` when it cannot be found."""
    key = reference_version_key(version)
    head = _head(ctx, key)
    if head is not None:
        return _make_current(ctx, version, key, head.get("Metadata") or {}, execution_arn)
    source = _training_key(ctx, version)
    if source is None or _head(ctx, source) is None:
        logger.warning("no reference for %s (no %s, and its training set is gone)", version, key)
        return None
    return publish_reference(ctx, version=version, training_key=source, execution_arn=execution_arn)


def _make_current(ctx: Context, version: str, key: str, metadata: dict[str, str],
                  execution_arn: str | None) -> dict[str, Any]:
    s = ctx.settings
    ctx.s3.copy_object(Bucket=s.data_bucket, Key=REFERENCE_KEY, CopySource={"Bucket": s.data_bucket, "Key": key})
    info = {"version": version, "reference_key": key, "source": metadata.get("source"),
            "rows": _int(metadata.get("rows")), "rows_in": _int(metadata.get("rows-in"))}
    write_json(ctx.s3, s.data_bucket, REFERENCE_META_KEY,
               {**info, "execution_arn": execution_arn, "at": isoformat(ctx.clock())})
    return info


def _training_key(ctx: Context, version: str) -> str | None:
    """The key, in the data bucket, of the training set ``version``'s manifest names."""
    try:
        uri = str(ctx.registry.get_version(version)["manifest"].get("training_key") or "")
    except ModelNotFoundError:
        return None
    prefix = f"s3://{ctx.settings.data_bucket}/"
    return uri.removeprefix(prefix) if uri.startswith(prefix) else None


def _head(ctx: Context, key: str) -> dict[str, Any] | None:
    try:
        return dict(ctx.s3.head_object(Bucket=ctx.settings.data_bucket, Key=key))
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
