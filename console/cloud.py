"""Where the AWS APIs are, and boto3 clients for them.

The local cloud writes ``endpoints.json`` (endpoint URL, region, stack resources and outputs) and
rewrites it on every start, so it is re-read when it changes: a console left running survives a
restart of the cloud. Without the file (LocalStack, AWS) the endpoint comes from
``AWS_ENDPOINT_URL`` and the stack's outputs from CloudFormation, given ``--stack-name``.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

AwsClient = Any  # botocore builds client classes at runtime


class CloudUnavailableError(Exception):
    """The AWS endpoint did not answer (the local cloud is down, or not started yet)."""

    def __init__(self, endpoint: str, detail: str) -> None:
        super().__init__(f"{endpoint}: {detail}")
        self.endpoint = endpoint
        self.detail = detail


@dataclass
class StackInfo:
    """What the console needs to know about the deployed stack."""

    endpoint_url: str | None
    region: str
    stack_name: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    api_url: str | None = None

    def physical_ids(self, resource_type: str) -> dict[str, str]:
        """``{logical id: physical id}`` of the stack's resources of one type."""
        return {k: v.get("physical_id", "") for k, v in self.resources.items() if v.get("type") == resource_type}


class Cloud:
    """Clients for one endpoint, rebuilt when ``endpoints.json`` changes."""

    def __init__(self, endpoints_file: Path | None, *, stack_name: str | None = None,
                 endpoint_url: str | None = None, region: str | None = None,
                 connect_timeout: float = 2.0, read_timeout: float = 60.0) -> None:
        self.endpoints_file = endpoints_file
        self._stack_name = stack_name
        self._endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        self._region = region or os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"
        self._config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                              retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32)
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._info: StackInfo | None = None
        self._clients: dict[str, AwsClient] = {}

    # ---- stack -------------------------------------------------------------------------------
    def info(self) -> StackInfo:
        """The current stack info (re-read if ``endpoints.json`` changed since last time)."""
        with self._lock:
            mtime = self._file_mtime()
            if self._info is None or mtime != self._mtime:
                self._info = self._load()
                self._mtime = mtime
                self._clients.clear()
            return self._info

    def _file_mtime(self) -> float | None:
        try:
            return self.endpoints_file.stat().st_mtime if self.endpoints_file else None
        except OSError:
            return None

    def _load(self) -> StackInfo:
        if self.endpoints_file is not None and self.endpoints_file.exists():
            try:
                raw = json.loads(self.endpoints_file.read_text())
            except ValueError:
                raw = None  # being rewritten; the next call re-reads it
            if raw:
                stack = raw.get("stack") or {}
                return StackInfo(endpoint_url=raw.get("endpoint_url") or self._endpoint_url,
                                 region=raw.get("region") or self._region,
                                 stack_name=raw.get("stack_name") or self._stack_name,
                                 outputs=dict(stack.get("outputs") or {}),
                                 resources=dict(stack.get("resources") or {}), api_url=raw.get("api_url"))
        info = StackInfo(endpoint_url=self._endpoint_url, region=self._region, stack_name=self._stack_name)
        if self._stack_name:
            self._clients.clear()
            self._fill_from_cloudformation(info)
        return info

    def _fill_from_cloudformation(self, info: StackInfo) -> None:
        try:
            cfn = self._build("cloudformation", info)
            stack = cfn.describe_stacks(StackName=info.stack_name)["Stacks"][0]
            info.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=info.stack_name):
                for r in page["StackResourceSummaries"]:
                    info.resources[r["LogicalResourceId"]] = {"type": r["ResourceType"],
                                                              "physical_id": r.get("PhysicalResourceId", "")}
        except (BotoCoreError, ClientError):
            pass  # the pages report the endpoint as unreachable on their own calls

    # ---- clients -----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.info().endpoint_url or f"https://<service>.{self._region}.amazonaws.com"

    def client(self, service: str) -> AwsClient:
        info = self.info()
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._build(service, info)
            return self._clients[service]

    def _build(self, service: str, info: StackInfo) -> AwsClient:
        kwargs: dict[str, Any] = {"region_name": info.region, "config": self._config}
        if info.endpoint_url:
            kwargs["endpoint_url"] = info.endpoint_url
            # The local cloud and LocalStack take any credentials; real ones win when set.
            if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
                kwargs.update(aws_access_key_id="test", aws_secret_access_key="test")
        return boto3.client(service, **kwargs)


def unavailable(cloud: Cloud, exc: BaseException) -> CloudUnavailableError | None:
    """The ``CloudUnavailableError`` an exception stands for, if it is a connection failure."""
    if isinstance(exc, EndpointConnectionError | ConnectionError):
        return CloudUnavailableError(cloud.endpoint, "connection refused")
    name = type(exc).__name__
    if name in ("ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return CloudUnavailableError(cloud.endpoint, name)
    return None
