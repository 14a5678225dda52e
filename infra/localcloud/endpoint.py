"""A boto3 client for a local cloud: its endpoint, dummy credentials, and reads long enough for a
synchronous Invoke of a function that trains for minutes (boto3's 60 s default would time out and
retry, invoking the function a second time)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def local_client(service: str, endpoint_url: str, region: str = "us-east-1", *, max_attempts: int = 1) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": max_attempts}, read_timeout=900))
