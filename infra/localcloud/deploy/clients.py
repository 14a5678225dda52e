"""boto3 clients pointed at the local cloud, built once per deploy."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# The local cloud never talks to real AWS; moto accepts any key, these are the ones its docs use.
_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def local_session(region: str) -> boto3.Session:
    """A session for `region` that has credentials even on a machine with no AWS profile."""
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        session = boto3.Session(region_name=region, **_DUMMY_CREDENTIALS)
    return session


class Clients:
    """Caches one client per service, all on the same endpoint and region."""

    def __init__(self, *, endpoint_url: str, region: str, session: boto3.Session | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = session or local_session(region)
        # Path-style S3 addressing: bucket names never become DNS labels of 127.0.0.1.
        self._config = Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 2, "mode": "standard"}
        )
        self._clients: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, region_name=self.region, config=self._config
            )
        return self._clients[service]

    def account_id(self) -> str:
        """The account the endpoint serves (123456789012 for moto's default)."""
        return str(self("sts").get_caller_identity()["Account"])
