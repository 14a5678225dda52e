"""CloudFormation's read API for the stacks the local deployer deployed.

The deployer (deploy/) provisions each resource through the service's own API and keeps the
stack's record in `state_dir/stacks/` (stack.py: resources, outputs, status, timestamps;
history.py: templates and events). This module answers CloudFormation's read actions from those
records, in the query protocol's XML, so `aws cloudformation describe-stacks` and boto3 find what
`make up` deployed: DescribeStacks, ListStacks, ListStackResources, DescribeStackResources,
DescribeStackResource, GetTemplate, GetTemplateSummary (of a stack) and DescribeStackEvents.
The records are files, so the answers survive a restart of the cloud. Every other CloudFormation
action (CreateStack, ValidateTemplate, ...) goes on to moto.

moto's own CloudFormation backend is not used for these stacks: registering one there means
building moto's parsed resource map by hand, and moto would compute outputs and resource types
with its own template engine instead of reporting what the deployer provisioned.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .deploy import history
from .deploy.deployer import stack_id as make_stack_id
from .deploy.exceptions import TemplateError
from .deploy.stack import StackResult
from .deploy.template import loads_template

logger = logging.getLogger("localcloud.cloudformation")

XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
PAGE_SIZE = 100
NOT_CHECKED = "NOT_CHECKED"

Response = tuple[int, dict[str, str], bytes]


class ValidationError(Exception):
    """CloudFormation's ValidationError (HTTP 400)."""


EXECUTE_API_URL = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(?P<path>/[^?#]*)?$")
API_TYPES = {"AWS::ApiGateway::RestApi": "rest", "AWS::ApiGatewayV2::Api": "http"}


def local_api_url(value: str, api_kinds: Mapping[str, str], api_url: str | None) -> str:
    """An output's `execute-api` URL of one of the stack's APIs as the local API port serves it.

    `https://{id}.execute-api.{region}.amazonaws.com/{stage}/{path}` of a REST API becomes
    `{api_url}/restapis/{id}/{stage}/_user_request_/{path}` (the form that names the API); an HTTP
    API's becomes `{api_url}/{path}`. Anything else, and every value when no API port runs, is kept.
    """
    match = EXECUTE_API_URL.match(value) if api_url else None
    kind = api_kinds.get(match["api"]) if match else None
    if match is None or kind is None or not api_url:
        return value
    path = match["path"] or "/"
    if kind == "http":
        return api_url.rstrip("/") + path
    stage, _, rest = path.lstrip("/").partition("/")
    if not stage:
        return value  # no stage: nothing the API port could serve
    return f"{api_url.rstrip('/')}/restapis/{match['api']}/{stage}/_user_request_/{rest}"


def _text(value: Any) -> str:
    """A parameter or output value as CloudFormation reports it: lists comma-joined."""
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_xml(value: Any) -> str:
    """The query protocol's XML for a value: structures as elements, lists as <member>s; None omitted."""
    if isinstance(value, Mapping):
        return "".join(f"<{key}>{to_xml(item)}</{key}>" for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return "".join(f"<member>{to_xml(item)}</member>" for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def xml_response(action: str, result: Mapping[str, Any]) -> Response:
    body = (f'<{action}Response xmlns="{XMLNS}"><{action}Result>{to_xml(result)}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>")
    return 200, {"Content-Type": "text/xml"}, body.encode()


def error_response(code: str, message: str, status: int = 400) -> Response:
    body = (f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return status, {"Content-Type": "text/xml"}, body.encode()


def _page(items: list[Any], params: Mapping[str, str]) -> tuple[list[Any], str | None]:
    token = params.get("NextToken") or "0"
    if not token.isdigit():
        raise ValidationError("Invalid NextToken")
    start = int(token)
    end = start + PAGE_SIZE
    return items[start:end], (str(end) if end < len(items) else None)


def _members(params: Mapping[str, str], name: str) -> list[str]:
    """A query-protocol list parameter (`Name.member.1`, `Name.member.2`, ...)."""
    prefix = f"{name}.member."
    numbered = [(int(k[len(prefix):]), v) for k, v in params.items()
                if k.startswith(prefix) and k[len(prefix):].isdigit()]
    return [v for _, v in sorted(numbered)]


class CloudFormationApi:
    """Answers CloudFormation's read actions from the stack records under `state_dir`."""

    def __init__(self, state_dir: Path, account_id: str, api_url: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.account_id = account_id
        # Outputs that are execute-api URLs of the stack's APIs are reported as this API port's URLs,
        # so a test written for AWS that calls the stack's URL output reaches the local API.
        self.api_url = api_url
        self._templates: dict[tuple[str, str], dict[str, Any]] = {}
        self._actions: dict[str, Callable[[Mapping[str, str], str], Mapping[str, Any]]] = {
            "DescribeStacks": self._describe_stacks,
            "ListStacks": self._list_stacks,
            "ListStackResources": self._list_stack_resources,
            "DescribeStackResources": self._describe_stack_resources,
            "DescribeStackResource": self._describe_stack_resource,
            "GetTemplate": self._get_template,
            "GetTemplateSummary": self._get_template_summary,
            "DescribeStackEvents": self._describe_stack_events,
        }

    def __call__(self, action: str, params: Mapping[str, str], region: str) -> Response | None:
        """The answer to one request, or None when moto should answer it."""
        handler = self._actions.get(action)
        if handler is None or (action == "GetTemplateSummary" and not params.get("StackName")):
            return None
        try:
            return xml_response(action, handler(params, region))
        except ValidationError as exc:
            return error_response("ValidationError", str(exc))

    # ---- the records -------------------------------------------------------------------------------
    def _stacks(self, region: str) -> list[StackResult]:
        return [s for s in history.list_stacks(self.state_dir) if s.region == region]

    def _id(self, stack: StackResult) -> str:
        return stack.stack_id or make_stack_id(stack_name=stack.stack_name, region=stack.region,
                                               account_id=stack.account_id or self.account_id)

    def _stack(self, name: str | None, region: str) -> StackResult:
        if not name:
            raise ValidationError("1 validation error detected: Value null at 'stackName' failed to satisfy "
                                  "constraint: Member must not be null")
        for stack in self._stacks(region):
            if name in (stack.stack_name, self._id(stack)):
                return stack
        raise ValidationError(f"Stack with id {name} does not exist")

    def _template(self, stack: StackResult) -> dict[str, Any]:
        """The stack's original template, parsed (cached per text)."""
        text = history.read_template(self.state_dir, stack.stack_name) or ""
        key = (stack.stack_name, text)
        if key not in self._templates:
            try:
                parsed = loads_template(text, source=stack.stack_name) if text else {}
            except TemplateError:
                parsed = {}
            self._templates = {key: parsed}  # one stack's template at a time is all a caller needs
        return self._templates[key]

    @staticmethod
    def _status(stack: StackResult) -> str:
        return stack.status or "CREATE_COMPLETE"

    # ---- actions -----------------------------------------------------------------------------------
    def _describe_stacks(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        name = params.get("StackName")
        stacks = [self._stack(name, region)] if name else self._stacks(region)
        page, token = _page(stacks, params)
        return {"Stacks": [self._stack_description(s) for s in page], "NextToken": token}

    def _stack_description(self, stack: StackResult) -> dict[str, Any]:
        declared = self._template(stack).get("Parameters") or {}
        parameters = [
            {"ParameterKey": key,
             "ParameterValue": "****" if str((declared.get(key) or {}).get("NoEcho", "")).lower() == "true"
             else _text(value)}
            for key, value in stack.parameters.items()
        ]
        api_kinds = {str(r["physical_id"]): API_TYPES[r["type"]] for r in stack.resources.values()
                     if r.get("type") in API_TYPES}
        outputs = []
        for key, value in stack.outputs.items():
            details = stack.output_details.get(key, {})
            outputs.append({"OutputKey": key, "OutputValue": local_api_url(_text(value), api_kinds, self.api_url), "Description": details.get("Description"),
                            "ExportName": details.get("ExportName")})
        return {
            "StackId": self._id(stack),
            "StackName": stack.stack_name,
            "Description": stack.description or None,
            "Parameters": parameters,
            "CreationTime": stack.creation_time or None,
            "LastUpdatedTime": stack.last_updated_time or None,
            "RollbackConfiguration": {},
            "StackStatus": self._status(stack),
            "StackStatusReason": stack.status_reason or None,
            "DisableRollback": True,  # the local cloud rolls nothing back
            "NotificationARNs": [],
            "Capabilities": list(stack.capabilities),
            "Outputs": outputs,
            "Tags": [{"Key": k, "Value": v} for k, v in stack.tags.items()],
            "EnableTerminationProtection": False,
            "DriftInformation": {"StackDriftStatus": NOT_CHECKED},
        }

    def _list_stacks(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        wanted = set(_members(params, "StackStatusFilter"))
        stacks = [s for s in self._stacks(region) if not wanted or self._status(s) in wanted]
        page, token = _page(stacks, params)
        return {
            "StackSummaries": [
                {"StackId": self._id(s), "StackName": s.stack_name, "TemplateDescription": s.description or None,
                 "CreationTime": s.creation_time or None, "LastUpdatedTime": s.last_updated_time or None,
                 "StackStatus": self._status(s), "DriftInformation": {"StackDriftStatus": NOT_CHECKED}}
                for s in page
            ],
            "NextToken": token,
        }

    def _resource(self, stack: StackResult, logical_id: str, entry: Mapping[str, Any], timestamp_key: str
                  ) -> dict[str, Any]:
        return {
            "StackName": stack.stack_name,
            "StackId": self._id(stack),
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": entry.get("physical_id") or None,
            "ResourceType": entry.get("type"),
            timestamp_key: entry.get("timestamp") or stack.last_updated_time or stack.creation_time or None,
            "ResourceStatus": entry.get("status") or "CREATE_COMPLETE",
            "DriftInformation": {"StackResourceDriftStatus": NOT_CHECKED},
        }

    def _list_stack_resources(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        stack = self._stack(params.get("StackName"), region)
        page, token = _page(list(stack.resources.items()), params)
        summaries = []
        for logical_id, entry in page:
            resource = self._resource(stack, logical_id, entry, "LastUpdatedTimestamp")
            del resource["StackName"], resource["StackId"]
            summaries.append(resource)
        return {"StackResourceSummaries": summaries, "NextToken": token}

    def _describe_stack_resources(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        name, physical = params.get("StackName"), params.get("PhysicalResourceId")
        if name:
            stack = self._stack(name, region)
        elif physical:
            owners = [s for s in self._stacks(region)
                      if any(r.get("physical_id") == physical for r in s.resources.values())]
            if not owners:
                raise ValidationError(f"Stack for {physical} does not exist")
            stack = owners[0]
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified")
        logical = params.get("LogicalResourceId")
        return {"StackResources": [self._resource(stack, lid, entry, "Timestamp")
                                   for lid, entry in stack.resources.items() if logical in (None, "", lid)]}

    def _describe_stack_resource(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        stack = self._stack(params.get("StackName"), region)
        logical = params.get("LogicalResourceId") or ""
        entry = stack.resources.get(logical)
        if entry is None:
            raise ValidationError(f"Resource {logical} does not exist for stack {stack.stack_name}")
        detail = self._resource(stack, logical, entry, "LastUpdatedTimestamp")
        processed = json.loads(history.read_template(self.state_dir, stack.stack_name, history.PROCESSED) or "{}")
        metadata = ((processed.get("Resources") or {}).get(logical) or {}).get("Metadata")
        detail["Metadata"] = json.dumps(metadata) if metadata is not None else None
        return {"StackResourceDetail": detail}

    def _get_template(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        stack = self._stack(params.get("StackName"), region)
        stage = params.get("TemplateStage") or history.ORIGINAL
        if stage not in (history.ORIGINAL, history.PROCESSED):
            raise ValidationError(f"1 validation error detected: Value '{stage}' at 'templateStage' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: [Original, Processed]")
        body = history.read_template(self.state_dir, stack.stack_name, stage)
        if body is None and stage == history.ORIGINAL:
            try:  # a record from before templates were kept: the file it was deployed from
                body = Path(stack.template_path).read_text(encoding="utf-8")
            except OSError:
                body = None
        if body is None:
            raise ValidationError(f"Template for stack {stack.stack_name} is not available")
        return {"TemplateBody": body, "StagesAvailable": [history.ORIGINAL, history.PROCESSED]}

    def _get_template_summary(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        stack = self._stack(params.get("StackName"), region)
        template = self._template(stack)
        parameters = []
        for key, spec in (template.get("Parameters") or {}).items():
            spec = spec if isinstance(spec, dict) else {}
            allowed = spec.get("AllowedValues")
            parameters.append({
                "ParameterKey": key,
                "DefaultValue": _text(spec["Default"]) if "Default" in spec else None,
                "ParameterType": spec.get("Type", "String"),
                "NoEcho": str(spec.get("NoEcho", "")).lower() == "true",
                "Description": spec.get("Description"),
                "ParameterConstraints": {"AllowedValues": [_text(v) for v in allowed]} if allowed else {},
            })
        types: list[str] = []
        for resource in (template.get("Resources") or {}).values():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            if isinstance(kind, str) and kind not in types:
                types.append(kind)
        transforms = template.get("Transform")
        declared = [transforms] if isinstance(transforms, str) else [t for t in transforms or [] if isinstance(t, str)]
        metadata = template.get("Metadata")
        return {
            "Parameters": parameters,
            "Description": template.get("Description"),
            "Capabilities": list(stack.capabilities),
            "ResourceTypes": types,
            "Version": template.get("AWSTemplateFormatVersion"),
            "Metadata": json.dumps(metadata) if metadata is not None else None,
            "DeclaredTransforms": declared,
        }

    def _describe_stack_events(self, params: Mapping[str, str], region: str) -> Mapping[str, Any]:
        stack = self._stack(params.get("StackName"), region)
        events = list(reversed(history.read_events(self.state_dir, stack.stack_name)))  # newest first, as AWS
        page, token = _page(events, params)
        return {
            "StackEvents": [{"StackId": self._id(stack), "StackName": stack.stack_name, **e} for e in page],
            "NextToken": token,
        }
