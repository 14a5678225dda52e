"""API Gateway REST APIs: the API with its resources, methods and integrations, deployments and stages.

SAM writes a REST API (`Events: Type: Api`, `AWS::Serverless::Api`) as one `AWS::ApiGateway::RestApi`
whose Swagger/OpenAPI `Body` carries an `x-amazon-apigateway-integration` per path and method, an
`AWS::ApiGateway::Deployment` and an `AWS::ApiGateway::Stage`. API Gateway's import turns the body
into resources, methods and integrations; this does the same through CreateResource, PutMethod and
PutIntegration (moto's PutRestApi imports OpenAPI 3 only), so the local gateway reads them back with
GetResources like any other API client, and `aws apigateway get-rest-apis` lists the API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import yaml

from .base import NameRule, Provisioned, Provisioner, ResourceRequest, pick, tags_to_dict, unless_not_found

LOG = logging.getLogger("localcloud.deploy")

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})
_ANY_METHOD = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_BINARY = "x-amazon-apigateway-binary-media-types"


def media_type(value: str) -> str:
    """A binary media type as API Gateway stores it (CloudFormation/SAM write `/` as `~1`)."""
    return value.replace("~1", "/").replace("~0", "~")


def _patch_path(value: str) -> str:
    return "/binaryMediaTypes/" + value.replace("~", "~0").replace("/", "~1")


def methods_from_openapi(body: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any] | None]]:
    """(resource path, HTTP method or ANY, integration) for every operation of a Swagger/OpenAPI body."""
    methods: list[tuple[str, str, Mapping[str, Any] | None]] = []
    for path, item in (body.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method != _ANY_METHOD and method not in _HTTP_METHODS:
                continue
            verb = "ANY" if method == _ANY_METHOD else method.upper()
            methods.append((str(path), verb, (operation or {}).get(_INTEGRATION)))
    return methods


class RestApiProvisioner(Provisioner):
    resource_type = "AWS::ApiGateway::RestApi"
    finds_by_recorded_id = True
    attributes = frozenset({"RootResourceId", "RestApiId"})
    handled_properties = frozenset(
        {
            "Name",
            "Body",
            "BodyS3Location",
            "Description",
            "BinaryMediaTypes",
            "Tags",
            "EndpointConfiguration",
            "FailOnWarnings",
            "Parameters",
            "Mode",
        }
    )
    naming = NameRule("Name", 128)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "api": pick(properties, ("Name", "Description", "BinaryMediaTypes")),
            "resources": pick(properties, ("Body", "BodyS3Location")),
            "tags": properties.get("Tags"),
        }

    @staticmethod
    def _provisioned(api: Mapping[str, Any]) -> Provisioned:
        return Provisioned(api["id"], {"RestApiId": api["id"], "RootResourceId": api["rootResourceId"]})

    @staticmethod
    def _stack_tags(request: ResourceRequest) -> dict[str, str]:
        return {
            "aws:cloudformation:stack-name": request.stack_name,
            "aws:cloudformation:logical-id": request.logical_id,
        }

    def find(self, request: ResourceRequest) -> Provisioned | None:
        gateway = self.clients("apigateway")
        if request.previous is None:
            wanted = self._stack_tags(request).items()
            matches = [a for a in gateway.get_rest_apis()["items"] if wanted <= (a.get("tags") or {}).items()]
            return self._provisioned(matches[0]) if matches else None
        api_id = request.previous.physical_id
        api = unless_not_found(lambda: gateway.get_rest_api(restApiId=api_id))
        return None if api is None else self._provisioned(api)

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

    def _name(self, request: ResourceRequest, body: Mapping[str, Any] | None) -> str:
        title = ((body or {}).get("info") or {}).get("title")
        return str(request.properties.get("Name") or title or self.physical_name(request))

    def _binary_types(self, request: ResourceRequest, body: Mapping[str, Any] | None) -> list[str]:
        declared = [*(request.properties.get("BinaryMediaTypes") or []), *((body or {}).get(_BINARY) or [])]
        return list(dict.fromkeys(media_type(str(t)) for t in declared))

    def create(self, request: ResourceRequest) -> Provisioned:
        body = self._body(request)
        arguments: dict[str, Any] = {
            "name": self._name(request, body),
            "tags": {**tags_to_dict(request.properties.get("Tags")), **self._stack_tags(request)},
        }
        if request.properties.get("Description"):
            arguments["description"] = str(request.properties["Description"])
        api = self.clients("apigateway").create_rest_api(**arguments)
        self._set_binary_types(api["id"], [], self._binary_types(request, body))
        self._create_resources(request, api["id"], api["rootResourceId"], body)
        return self._provisioned(api)

    def _set_binary_types(self, api_id: str, current: list[str], wanted: list[str]) -> None:
        # moto ignores binaryMediaTypes on CreateRestApi; UpdateRestApi's patch sets them (moto reads
        # the type from `value`, AWS from the path).
        operations = [{"op": "remove", "path": _patch_path(t), "value": t} for t in current if t not in wanted]
        operations += [{"op": "add", "path": _patch_path(t), "value": t} for t in wanted if t not in current]
        if operations:
            self.clients("apigateway").update_rest_api(restApiId=api_id, patchOperations=operations)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        gateway, api_id = self.clients("apigateway"), current.physical_id
        body = self._body(request)
        if "api" in changed:
            api = gateway.get_rest_api(restApiId=api_id)
            operations = [{"op": "replace", "path": "/name", "value": self._name(request, body)}]
            if request.properties.get("Description"):
                operations.append(
                    {"op": "replace", "path": "/description", "value": str(request.properties["Description"])}
                )
            gateway.update_rest_api(restApiId=api_id, patchOperations=operations)
            self._set_binary_types(api_id, list(api.get("binaryMediaTypes") or []),
                                   self._binary_types(request, body))
        if "resources" in changed:
            # Re-import ("overwrite") semantics: the resource tree is replaced as a whole.
            resources = gateway.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]
            root = current.attributes.get("RootResourceId") or next(r["id"] for r in resources if r["path"] == "/")
            for resource in sorted(resources, key=lambda r: r["path"].count("/"), reverse=True):
                if resource["id"] != root:
                    gateway.delete_resource(restApiId=api_id, resourceId=resource["id"])
            root_resource: dict[str, Any] = next((r for r in resources if r["id"] == root), {})
            for method in root_resource.get("resourceMethods") or {}:
                gateway.delete_method(restApiId=api_id, resourceId=root, httpMethod=method)
            self._set_binary_types(api_id, list(gateway.get_rest_api(restApiId=api_id).get("binaryMediaTypes") or []),
                                   self._binary_types(request, body))
            self._create_resources(request, api_id, str(root), body)
        if "tags" in changed and request.properties.get("Tags"):
            gateway.tag_resource(
                resourceArn=request.arn("apigateway", f"/restapis/{api_id}", account=False),
                tags=tags_to_dict(request.properties["Tags"]),
            )
        return self._provisioned(gateway.get_rest_api(restApiId=api_id))

    def _create_resources(self, request: ResourceRequest, api_id: str, root_id: str,
                          body: Mapping[str, Any] | None) -> None:
        gateway = self.clients("apigateway")
        ids = {"/": root_id}

        def resource_id(path: str) -> str:
            path = "/" + path.strip("/")
            if path not in ids:
                parent, _, part = path.rpartition("/")
                created = gateway.create_resource(restApiId=api_id, parentId=resource_id(parent or "/"),
                                                  pathPart=part)
                ids[path] = created["id"]
            return ids[path]

        for path, method, integration in methods_from_openapi(body or {}):
            rid = resource_id(path)
            gateway.put_method(restApiId=api_id, resourceId=rid, httpMethod=method, authorizationType="NONE")
            if not integration:
                continue
            kind = str(integration.get("type", "aws_proxy")).upper()
            if kind != "AWS_PROXY":
                LOG.warning("%s %s %s: only Lambda proxy (AWS_PROXY) integrations are served locally, not %s",
                            request.logical_id, method, path, kind)
            arguments: dict[str, Any] = {"type": kind, "integrationHttpMethod": str(integration.get("httpMethod", "POST"))}
            if integration.get("uri"):
                arguments["uri"] = str(integration["uri"])
            gateway.put_integration(restApiId=api_id, resourceId=rid, httpMethod=method, **arguments)


class DeploymentProvisioner(Provisioner):
    """`AWS::ApiGateway::Deployment`: a snapshot of the API; `StageName` also creates that stage."""

    resource_type = "AWS::ApiGateway::Deployment"
    finds_by_recorded_id = True
    attributes = frozenset({"DeploymentId"})
    handled_properties = frozenset({"RestApiId", "StageName", "Description", "StageDescription"})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if request.previous is None:
            return None
        deployment_id = request.previous.physical_id
        found = unless_not_found(
            lambda: self.clients("apigateway").get_deployment(
                restApiId=request.properties["RestApiId"], deploymentId=deployment_id
            )
        )
        return None if found is None else Provisioned(found["id"], {"DeploymentId": found["id"]})

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arguments: dict[str, Any] = {"restApiId": props["RestApiId"]}
        if props.get("StageName"):
            arguments["stageName"] = str(props["StageName"])
            variables = (props.get("StageDescription") or {}).get("Variables")
            if variables:
                arguments["variables"] = {str(k): str(v) for k, v in variables.items()}
        if props.get("Description"):
            arguments["description"] = str(props["Description"])
        deployment = self.clients("apigateway").create_deployment(**arguments)
        return Provisioned(deployment["id"], {"DeploymentId": deployment["id"]})


class RestStageProvisioner(Provisioner):
    """`AWS::ApiGateway::Stage`: its name is the first segment of the API's URLs."""

    resource_type = "AWS::ApiGateway::Stage"
    handled_properties = frozenset(
        {"RestApiId", "StageName", "DeploymentId", "Description", "Variables", "Tags", "MethodSettings",
         "TracingEnabled", "CacheClusterEnabled", "AccessLogSetting"}
    )
    naming = NameRule("StageName", 128)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        props = request.properties
        stage = unless_not_found(
            lambda: self.clients("apigateway").get_stage(restApiId=props["RestApiId"], stageName=props["StageName"])
        )
        return None if stage is None else Provisioned(stage["stageName"])

    def create(self, request: ResourceRequest) -> Provisioned:
        props, gateway = request.properties, self.clients("apigateway")
        # A Deployment's StageName may have made a stage of this name already; the template's wins.
        unless_not_found(lambda: gateway.delete_stage(restApiId=props["RestApiId"], stageName=props["StageName"]))
        arguments: dict[str, Any] = {
            "restApiId": props["RestApiId"],
            "stageName": str(props["StageName"]),
            "deploymentId": props["DeploymentId"],
        }
        if props.get("Description"):
            arguments["description"] = str(props["Description"])
        if props.get("Variables"):
            arguments["variables"] = {str(k): str(v) for k, v in props["Variables"].items()}
        if props.get("Tags"):
            arguments["tags"] = tags_to_dict(props["Tags"])
        stage = gateway.create_stage(**arguments)
        return Provisioned(stage["stageName"])

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        return self.create(request)
