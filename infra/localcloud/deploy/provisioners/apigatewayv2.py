"""API Gateway HTTP APIs: the API, its routes and integrations (from the OpenAPI `Body`), and stages.

SAM writes an HTTP API as one `AWS::ApiGatewayV2::Api` whose OpenAPI `Body` carries an
`x-amazon-apigateway-integration` per path and method. API Gateway's import turns that into
integrations and routes; this does the same through CreateIntegration/CreateRoute, so the local
gateway reads the routes back with GetRoutes/GetIntegrations like any other API client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    pick,
    tags_to_dict,
    unless_not_found,
    upper_first_keys,
)

LOG = logging.getLogger("localcloud.deploy")

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})
_ANY_METHOD = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
# arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/<function arn>/invocations
_LAMBDA_INVOCATION_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]*:lambda:path/[^/]+/functions/(arn:.+)/invocations$"
)


@dataclass(frozen=True)
class RouteSpec:
    """One route of an HTTP API and the integration it targets (CreateIntegration arguments)."""

    route_key: str
    integration: Mapping[str, Any]
    authorization: Any = None


def integration_target(uri: str) -> str:
    """The function ARN inside an API Gateway Lambda invocation URI (other URIs are returned as is).

    For payload format 2.0 HTTP APIs, AWS accepts and reports the bare function ARN.
    """
    match = _LAMBDA_INVOCATION_URI.match(uri)
    return match.group(1) if match else uri


def routes_from_openapi(body: Mapping[str, Any]) -> list[RouteSpec]:
    """Routes as API Gateway's OpenAPI import creates them: `METHOD /path`, `ANY /path` or `$default`."""
    routes: list[RouteSpec] = []
    for path, item in (body.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method != _ANY_METHOD and method not in _HTTP_METHODS:
                continue  # `parameters`, `summary`, other extensions
            integration = (operation or {}).get(_INTEGRATION)
            if not integration:
                continue
            verb = "ANY" if method == _ANY_METHOD else method.upper()
            route_key = "$default" if path == "$default" else f"{verb} {path}"
            arguments: dict[str, Any] = {
                "IntegrationType": str(integration.get("type", "aws_proxy")).upper(),
                "IntegrationUri": integration_target(str(integration.get("uri", ""))),
                # Required for HTTP APIs; SAM always writes it, and 2.0 is what it writes.
                "PayloadFormatVersion": str(integration.get("payloadFormatVersion", "2.0")),
            }
            if integration.get("httpMethod"):
                arguments["IntegrationMethod"] = integration["httpMethod"]
            if integration.get("timeoutInMillis"):
                arguments["TimeoutInMillis"] = int(integration["timeoutInMillis"])
            routes.append(RouteSpec(route_key, arguments, operation.get("security")))
    return routes


class ApiProvisioner(Provisioner):
    resource_type = "AWS::ApiGatewayV2::Api"
    finds_by_recorded_id = True
    attributes = frozenset({"ApiEndpoint", "ApiId"})
    handled_properties = frozenset(
        {
            "Name",
            "ProtocolType",
            "Body",
            "BodyS3Location",
            "Description",
            "CorsConfiguration",
            "Tags",
            "DisableExecuteApiEndpoint",
            "Target",
            "RouteKey",
            "Version",
            "FailOnWarnings",
        }
    )
    naming = NameRule("Name", 128)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "api": pick(
                properties, ("Name", "Description", "CorsConfiguration", "DisableExecuteApiEndpoint")
            ),
            "routes": pick(properties, ("Body", "BodyS3Location", "Target", "RouteKey")),
            "tags": properties.get("Tags"),
        }

    @staticmethod
    def _provisioned(api: Mapping[str, Any]) -> Provisioned:
        return Provisioned(api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]})

    @staticmethod
    def _stack_tags(request: ResourceRequest) -> dict[str, str]:
        # The tags CloudFormation puts on what it creates; they identify the API when the
        # stack record is gone but the API is not (API ids are chosen by the service).
        return {
            "aws:cloudformation:stack-name": request.stack_name,
            "aws:cloudformation:logical-id": request.logical_id,
        }

    def find(self, request: ResourceRequest) -> Provisioned | None:
        gateway = self.clients("apigatewayv2")
        if request.previous is None:
            wanted = self._stack_tags(request).items()
            matches = [
                api for api in gateway.get_apis()["Items"] if wanted <= (api.get("Tags") or {}).items()
            ]
            return self._provisioned(matches[0]) if matches else None
        api_id = request.previous.physical_id
        api = unless_not_found(lambda: gateway.get_api(ApiId=api_id))
        if api is None:
            return None
        return self._provisioned(api)

    def _body(self, request: ResourceRequest) -> Mapping[str, Any] | None:
        props = request.properties
        if "Body" in props:
            return props["Body"]
        if "BodyS3Location" in props:
            location = props["BodyS3Location"]
            extra = {"VersionId": location["Version"]} if location.get("Version") else {}
            obj = self.clients("s3").get_object(Bucket=location["Bucket"], Key=location["Key"], **extra)
            return yaml.safe_load(obj["Body"].read())
        return None

    def _settings(self, request: ResourceRequest, body: Mapping[str, Any] | None) -> dict[str, Any]:
        props = request.properties
        info = (body or {}).get("info") or {}
        settings: dict[str, Any] = {
            "Name": str(props.get("Name") or info.get("title") or self.physical_name(request))
        }
        settings.update(pick(props, ("Description", "DisableExecuteApiEndpoint")))
        cors = props.get("CorsConfiguration") or (body or {}).get("x-amazon-apigateway-cors")
        if cors:
            settings["CorsConfiguration"] = upper_first_keys(cors)
        if info.get("version") is not None:
            settings["Version"] = str(info["version"])
        return settings

    def create(self, request: ResourceRequest) -> Provisioned:
        body = self._body(request)
        arguments = {
            "ProtocolType": request.properties.get("ProtocolType", "HTTP"),
            "Tags": {**tags_to_dict(request.properties.get("Tags")), **self._stack_tags(request)},
            **self._settings(request, body),
        }
        api = self.clients("apigatewayv2").create_api(**arguments)
        self._create_routes(request, api["ApiId"], body)
        return self._provisioned(api)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        gateway, api_id = self.clients("apigatewayv2"), current.physical_id
        body = self._body(request)
        if "api" in changed:
            gateway.update_api(ApiId=api_id, **self._settings(request, body))
        if "routes" in changed:
            # Re-import semantics: the route table is replaced as a whole.
            for route in gateway.get_routes(ApiId=api_id)["Items"]:
                gateway.delete_route(ApiId=api_id, RouteId=route["RouteId"])
            for integration in gateway.get_integrations(ApiId=api_id)["Items"]:
                gateway.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
            self._create_routes(request, api_id, body)
        if "tags" in changed and request.properties.get("Tags"):
            gateway.tag_resource(
                ResourceArn=request.arn("apigateway", f"/apis/{api_id}", account=False),
                Tags=tags_to_dict(request.properties["Tags"]),
            )
        return self._provisioned(gateway.get_api(ApiId=api_id))

    def _create_routes(self, request: ResourceRequest, api_id: str, body: Mapping[str, Any] | None) -> None:
        gateway = self.clients("apigatewayv2")
        if body is not None:
            routes = routes_from_openapi(body)
        elif request.properties.get("Target"):
            # Quick create: one Lambda proxy integration behind the given (or $default) route.
            target = integration_target(str(request.properties["Target"]))
            integration = {
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": target,
                "PayloadFormatVersion": "2.0",
            }
            routes = [RouteSpec(str(request.properties.get("RouteKey", "$default")), integration)]
        else:
            routes = []
        for route in routes:
            if route.authorization:
                LOG.warning(
                    "%s %s: authorizers are not enforced by the local cloud",
                    request.logical_id,
                    route.route_key,
                )
            integration_id = gateway.create_integration(ApiId=api_id, **route.integration)["IntegrationId"]
            gateway.create_route(
                ApiId=api_id, RouteKey=route.route_key, Target=f"integrations/{integration_id}"
            )


class StageProvisioner(Provisioner):
    resource_type = "AWS::ApiGatewayV2::Stage"
    handled_properties = frozenset(
        {
            "ApiId",
            "StageName",
            "AutoDeploy",
            "Description",
            "StageVariables",
            "DefaultRouteSettings",
            "RouteSettings",
            "AccessLogSettings",
            "Tags",
            "DeploymentId",
        }
    )
    naming = NameRule("StageName", 128)
    _SETTINGS = (
        "AutoDeploy",
        "Description",
        "StageVariables",
        "DefaultRouteSettings",
        "RouteSettings",
        "AccessLogSettings",
        "DeploymentId",
    )

    def find(self, request: ResourceRequest) -> Provisioned | None:
        stage = unless_not_found(
            lambda: self.clients("apigatewayv2").get_stage(
                ApiId=request.properties["ApiId"], StageName=request.properties["StageName"]
            )
        )
        if stage is None:
            return None
        return Provisioned(stage["StageName"])

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arguments = {"ApiId": props["ApiId"], "StageName": props["StageName"], **pick(props, self._SETTINGS)}
        if props.get("Tags"):
            arguments["Tags"] = tags_to_dict(props["Tags"])
        stage = self.clients("apigatewayv2").create_stage(**arguments)
        return Provisioned(stage["StageName"])

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        # moto 5.2.5 has no UpdateStage; a stage holds no state of its own locally, so it is
        # recreated with the new settings (AWS updates it in place).
        gateway, props = self.clients("apigatewayv2"), request.properties
        gateway.delete_stage(ApiId=props["ApiId"], StageName=props["StageName"])
        return self.create(request)


_INTEGRATION_SETTINGS = (
    "IntegrationType",
    "IntegrationUri",
    "IntegrationMethod",
    "PayloadFormatVersion",
    "TimeoutInMillis",
    "ConnectionType",
    "ConnectionId",
    "CredentialsArn",
    "Description",
    "RequestParameters",
    "ResponseParameters",
    "RequestTemplates",
    "TemplateSelectionExpression",
    "PassthroughBehavior",
    "IntegrationSubtype",
)


class IntegrationProvisioner(Provisioner):
    """A standalone `AWS::ApiGatewayV2::Integration` (templates that do not use an OpenAPI body)."""

    resource_type = "AWS::ApiGatewayV2::Integration"
    finds_by_recorded_id = True
    handled_properties = frozenset({"ApiId", *_INTEGRATION_SETTINGS})

    def _arguments(self, request: ResourceRequest) -> dict[str, Any]:
        arguments = pick(request.properties, _INTEGRATION_SETTINGS)
        if "IntegrationUri" in arguments:
            arguments["IntegrationUri"] = integration_target(str(arguments["IntegrationUri"]))
        if "TimeoutInMillis" in arguments:
            arguments["TimeoutInMillis"] = int(arguments["TimeoutInMillis"])
        return arguments

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if request.previous is None:
            return None
        integration_id = request.previous.physical_id
        integration = unless_not_found(
            lambda: self.clients("apigatewayv2").get_integration(
                ApiId=request.properties["ApiId"], IntegrationId=integration_id
            )
        )
        if integration is None:
            return None
        return Provisioned(integration["IntegrationId"])

    def create(self, request: ResourceRequest) -> Provisioned:
        integration = self.clients("apigatewayv2").create_integration(
            ApiId=request.properties["ApiId"], **self._arguments(request)
        )
        return Provisioned(integration["IntegrationId"])

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        self.clients("apigatewayv2").update_integration(
            ApiId=request.properties["ApiId"], IntegrationId=current.physical_id, **self._arguments(request)
        )
        return current


_ROUTE_SETTINGS = (
    "RouteKey",
    "Target",
    "AuthorizationType",
    "AuthorizerId",
    "AuthorizationScopes",
    "ApiKeyRequired",
    "OperationName",
    "RequestParameters",
)


class RouteProvisioner(Provisioner):
    """A standalone `AWS::ApiGatewayV2::Route`; `Target` is `integrations/<IntegrationId>`."""

    resource_type = "AWS::ApiGatewayV2::Route"
    handled_properties = frozenset({"ApiId", *_ROUTE_SETTINGS})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        # A route key is unique within an API, so it identifies the route without a record.
        routes = self.clients("apigatewayv2").get_routes(ApiId=request.properties["ApiId"])["Items"]
        matches = [r for r in routes if r["RouteKey"] == request.properties["RouteKey"]]
        return Provisioned(matches[0]["RouteId"]) if matches else None

    def create(self, request: ResourceRequest) -> Provisioned:
        route = self.clients("apigatewayv2").create_route(
            ApiId=request.properties["ApiId"], **pick(request.properties, _ROUTE_SETTINGS)
        )
        return Provisioned(route["RouteId"])

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        self.clients("apigatewayv2").update_route(
            ApiId=request.properties["ApiId"],
            RouteId=current.physical_id,
            **pick(request.properties, _ROUTE_SETTINGS),
        )
        return current
