"""CSV and JSON objects on S3: the only place the pipeline turns S3 objects into DataFrames."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from selfheal.exceptions import DataQualityError

if TYPE_CHECKING:  # pandas is imported where frames are read or written: Promote and Recover ship without it
    import pandas as pd


def read_bytes(s3: Any, bucket: str, key: str, *, max_bytes: int | None = None) -> bytes:
    if max_bytes is not None:
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > max_bytes:
            raise DataQualityError(f"s3://{bucket}/{key} is {size} bytes, over the {max_bytes}-byte limit",
                                   reason="too_large", details={"size": size, "limit": max_bytes})
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def read_frame(s3: Any, bucket: str, key: str) -> pd.DataFrame:
    """A CSV the pipeline itself wrote (curated, reference, holdout): trusted, typed.

    Only an empty cell is missing (``write_frame`` writes NaN so): a categorical level spelled
    "None" or "NA" (no garage) reads back as that level, not as a missing value."""
    import pandas as pd

    return pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()),
                       keep_default_na=False, na_values=[""])


def write_frame(s3: Any, bucket: str, key: str, df: pd.DataFrame, *, metadata: dict[str, str] | None = None) -> str:
    body = df.to_csv(index=False).encode()
    resp = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv", Metadata=metadata or {})
    return resp.get("VersionId") or ""


def write_json(s3: Any, bucket: str, key: str, data: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(data, indent=2, default=str).encode(),
                  ContentType="application/json")


def read_json(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
