"""Helpers shared by the deploy tests: where the fixture app lives, and clients for the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

FIXTURE_APP = Path(__file__).resolve().parents[3] / "fixtures" / "deploy_app"
REGION = "us-east-1"


@dataclass(frozen=True)
class Cloud:
    """The endpoint under test and a way to build clients for it."""

    endpoint_url: str

    def session(self) -> boto3.Session:
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def client(self, service: str, session: boto3.Session | None = None) -> Any:
        return (session or self.session()).client(service, endpoint_url=self.endpoint_url)
