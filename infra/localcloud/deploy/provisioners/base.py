"""The provisioner contract: find, create and update one resource type through AWS APIs."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from botocore.exceptions import ClientError

from ..clients import Clients
from ..naming import physical_name


@dataclass(frozen=True)
class Previous:
    """What the last deploy recorded for this logical id."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceRequest:
    """A resource to bring in line with the template: properties have every intrinsic resolved."""

    logical_id: str
    resource_type: str
    properties: Mapping[str, Any]
    stack_name: str
    region: str
    account_id: str
    previous: Previous | None = None

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account_id if account else ''}:{resource}"
        )


@dataclass(frozen=True)
class Provisioned:
    """A resource as it exists in the local cloud: `physical_id` is its Ref value."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NameRule:
    """How a resource type is named: the property that names it explicitly, and the service's limits."""

    property: str | None
    max_length: int
    lowercase: bool = False


class Provisioner(ABC):
    """Brings one resource type in line with the template.

    The deployer calls `find`; if the resource is missing it calls `create`, otherwise it
    calls `update` with the fingerprint parts that changed since the last deploy (nothing is
    called when none did).
    """

    resource_type: ClassVar[str]
    #: GetAtt attributes this type exposes.
    attributes: ClassVar[frozenset[str]] = frozenset()
    #: Properties that are applied; others are reported as ignored. None means all.
    handled_properties: ClassVar[frozenset[str] | None] = None
    naming: ClassVar[NameRule] = NameRule(None, 128)
    #: `find` looks up the id the last deploy recorded (an id the service chose: an API id, a
    #: mapping's UUID, a version number), so when it finds nothing, the recorded resource is gone.
    #: Otherwise `find` looks up the template's name, and a different recorded id is a resource the
    #: template renamed, which the local cloud leaves in place.
    finds_by_recorded_id: ClassVar[bool] = False

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def physical_name(self, request: ResourceRequest) -> str:
        """The explicit name from the template, else `<stack>-<LogicalId>-<SUFFIX>`."""
        rule = self.naming
        if rule.property and request.properties.get(rule.property):
            return str(request.properties[rule.property])
        return physical_name(
            request.stack_name, request.logical_id, max_length=rule.max_length, lowercase=rule.lowercase
        )

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """Named parts of the properties; `update` learns which of these changed."""
        return {"properties": properties}

    @abstractmethod
    def find(self, request: ResourceRequest) -> Provisioned | None:
        """The live resource, or None if it does not exist in the local cloud."""

    @abstractmethod
    def create(self, request: ResourceRequest) -> Provisioned:
        """Create the resource."""

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        """Apply changed properties; by default a type is immutable and gets a new version."""
        return self.create(request)


# ---- helpers shared by provisioners ---------------------------------------------------------------


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError, *codes: str) -> bool:
    """Whether an AWS error means 'no such resource' (services spell it differently)."""
    known = {"ResourceNotFoundException", "NotFoundException", "NoSuchEntity", "404", "NotFound"}
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error_code(exc) in known.union(codes) or status == 404


T = TypeVar("T")


def unless_not_found(call: Callable[[], T], *codes: str) -> T | None:
    """``call()``, or None when AWS answers that the resource does not exist; other errors raise."""
    try:
        return call()
    except ClientError as exc:
        if is_not_found(exc, *codes):
            return None
        raise


def tags_to_dict(tags: Any) -> dict[str, str]:
    """CloudFormation `[{Key, Value}]` (or an already-flat dict) as `{key: value}`."""
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t["Key"]): str(t["Value"]) for t in tags or []}


def tags_to_list(tags: Any) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags_to_dict(tags).items()]


def as_json_text(value: Any) -> str:
    """Policies and patterns: CloudFormation takes an object or a string; APIs take a string."""
    return value if isinstance(value, str) else json.dumps(value)


def as_bool(value: Any) -> bool:
    """CloudFormation booleans may arrive as strings from parameters ("true")."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def pick(properties: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The named properties that are present."""
    return {name: properties[name] for name in names if name in properties}


def lower_first_keys(value: Any) -> Any:
    """CloudFormation `PascalCase` keys as the `camelCase` some APIs (Step Functions) use."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: lower_first_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [lower_first_keys(v) for v in value]
    return value


def upper_first_keys(value: Any) -> Any:
    """OpenAPI extension `camelCase` keys as the `PascalCase` the API Gateway v2 API uses."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: upper_first_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [upper_first_keys(v) for v in value]
    return value
