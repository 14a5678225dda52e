"""`deploy()`: package, transform, validate and provision a SAM template into the local cloud."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import history
from .clients import Clients
from .exceptions import DeployError, ProvisionError, StackNotFoundError
from .intrinsics import NO_VALUE, IntrinsicResolver, ResolvedResource
from .naming import is_valid_stack_name
from .packaging import Artifact, Packager, upload_artifacts
from .parameters import resolve_parameters
from .plan import PlannedResource, plan_stack
from .provisioners import PROVISIONERS, Previous, Provisioner, ResourceRequest
from .stack import StackResult, exports_of_other_stacks, load_stack, save_stack
from .template import load_template
from .transform import transform_template

LOG = logging.getLogger("localcloud.deploy")


def staging_bucket_name(stack_name: str) -> str:
    """Where packaged code and definitions go, like the bucket `sam deploy --resolve-s3` manages."""
    suffix = "-deploy-artifacts"
    return stack_name.lower()[: 63 - len(suffix)] + suffix


def stack_id(*, stack_name: str, region: str, account_id: str) -> str:
    """The stack's ARN (`AWS::StackId`): the same for every deploy of a stack name in a region."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"localcloud/{region}/{stack_name}")
    return f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/{stack_uuid}"


def pseudo_parameters(*, stack_name: str, region: str, account_id: str) -> dict[str, Any]:
    """CloudFormation's `AWS::*` pseudo parameters for this stack."""
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": stack_id(stack_name=stack_name, region=region, account_id=account_id),
        "AWS::Partition": partition,
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
        "AWS::NotificationARNs": [],
        "AWS::NoValue": NO_VALUE,
    }


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _arn_of(physical_id: str, attributes: Mapping[str, Any]) -> str | None:
    if isinstance(attributes.get("Arn"), str):
        return str(attributes["Arn"])
    if physical_id.startswith("arn:"):
        return physical_id
    named = [v for k, v in sorted(attributes.items()) if k.endswith("Arn") and isinstance(v, str)]
    return named[0] if named else None


def _source_path(properties: Mapping[str, Any], artifacts: Mapping[tuple[str, str], Artifact]) -> str | None:
    """The local folder a function's code or a layer's content was packaged from."""
    for key in ("Code", "Content"):
        location = properties.get(key)
        if isinstance(location, dict):
            artifact = artifacts.get((str(location.get("S3Bucket")), str(location.get("S3Key"))))
            if artifact is not None:
                return str(artifact.source)
    return None


class _StackDeployment:
    """One run of `deploy`: the state shared by the steps, kept off module globals."""

    def __init__(
        self, *, stack_name: str, region: str, clients: Clients, previous: StackResult | None,
        reapply: bool = False,
    ) -> None:
        self.stack_name = stack_name
        self.region = region
        self.clients = clients
        self.previous = previous
        self.reapply = reapply
        self.account_id = clients.account_id()
        self.resolved: dict[str, ResolvedResource] = {}
        self.entries: dict[str, dict[str, Any]] = {}
        self.changes: dict[str, str] = {}
        # CloudFormation's view: CREATE for a new stack (or one whose creation failed), else UPDATE.
        self.operation = "CREATE" if previous is None or previous.status == "CREATE_FAILED" else "UPDATE"
        self.stack_id = stack_id(stack_name=stack_name, region=region, account_id=self.account_id)
        self.events: list[dict[str, Any]] = []

    def stack_event(self, status: str, reason: str | None = None) -> None:
        self.events.append(history.event(self.stack_name, self.stack_id, history.STACK_TYPE, status, reason))

    def failed(self, planned: PlannedResource | None, error: DeployError) -> None:
        """Events of a deploy that stopped: the resource at fault (if any), then the stack."""
        if planned is not None:
            old = (self.previous.resources if self.previous else {}).get(planned.logical_id)
            action = "UPDATE" if old is not None else "CREATE"
            self.events.append(history.event(planned.logical_id, old["physical_id"] if old else "",
                                             planned.resource_type, f"{action}_FAILED", str(error)))
        self.stack_event(f"{self.operation}_FAILED", str(error))

    def provision(
        self,
        planned: PlannedResource,
        resolver: IntrinsicResolver,
        artifacts: Mapping[tuple[str, str], Artifact],
    ) -> None:
        logical_id, resource_type = planned.logical_id, planned.resource_type
        properties = resolver.resolve(dict(planned.properties), f"Resources.{logical_id}.Properties")
        provisioner = PROVISIONERS[resource_type](self.clients)
        self._warn_ignored(provisioner, logical_id, properties)
        old = (self.previous.resources if self.previous else {}).get(logical_id)
        if old is not None and old.get("type") != resource_type:
            old = None
        request = ResourceRequest(
            logical_id=logical_id,
            resource_type=resource_type,
            properties=properties,
            stack_name=self.stack_name,
            region=self.region,
            account_id=self.account_id,
            previous=Previous(old["physical_id"], old.get("attributes", {})) if old else None,
        )
        fingerprint = {part: _digest(value) for part, value in provisioner.fingerprint(properties).items()}
        try:
            current = provisioner.find(request)
            if current is None:
                result, action = provisioner.create(request), "created"
            else:
                recorded = {} if self.reapply else (old or {}).get("fingerprint", {})
                changed = frozenset(part for part in fingerprint if fingerprint[part] != recorded.get(part))
                if changed:
                    result, action = provisioner.update(request, current, changed), "updated"
                else:
                    result, action = current, "unchanged"
        except (ClientError, BotoCoreError) as exc:
            raise ProvisionError(f"{resource_type} {logical_id}: {exc}") from exc
        except KeyError as exc:
            raise ProvisionError(f"{resource_type} {logical_id}: missing required property {exc}") from exc

        if old is not None and old["physical_id"] != result.physical_id and action == "created":
            if provisioner.finds_by_recorded_id:
                # `find` looked the recorded id up and it was gone: nothing was replaced or left
                # behind. After a restart this is the rule (the control plane is not persisted).
                LOG.info("%s %s: %s no longer exists; created %s", resource_type, logical_id,
                         old["physical_id"], result.physical_id)
            else:
                LOG.warning("%s %s replaced: %s left in place", resource_type, logical_id, old["physical_id"])
        LOG.info("%-9s %s %s (%s)", action, resource_type, logical_id, result.physical_id)
        self.resolved[logical_id] = ResolvedResource(result.physical_id, dict(result.attributes))
        if action == "unchanged" and old is not None:
            status, timestamp = old.get("status", "CREATE_COMPLETE"), old.get("timestamp") or history.now()
        else:
            status = "CREATE_COMPLETE" if action == "created" else "UPDATE_COMPLETE"
            timestamp = history.now()
            self.events.append(history.event(logical_id, result.physical_id, resource_type, status))
        entry: dict[str, Any] = {
            "type": resource_type,
            "physical_id": result.physical_id,
            "attributes": dict(result.attributes),
            "fingerprint": fingerprint,
            "status": status,
            "timestamp": timestamp,
        }
        arn = _arn_of(result.physical_id, result.attributes)
        if arn:
            entry["arn"] = arn
        source = _source_path(properties, artifacts)
        if source:
            entry["source_path"] = source
        self.entries[logical_id] = entry
        self.changes[logical_id] = action

    @staticmethod
    def _warn_ignored(provisioner: Provisioner, logical_id: str, properties: Mapping[str, Any]) -> None:
        handled = provisioner.handled_properties
        ignored = sorted(set(properties) - handled) if handled is not None else []
        if ignored:
            LOG.warning(
                "%s %s: properties %s are not applied by the local cloud",
                provisioner.resource_type,
                logical_id,
                ignored,
            )

    def warn_removed(self) -> None:
        for logical_id, entry in (self.previous.resources if self.previous else {}).items():
            if logical_id not in self.entries:
                # CloudFormation would delete it; the local cloud never deletes, so data survives redeploys.
                LOG.warning(
                    "%s %s (%s) is no longer in the template; left in place",
                    entry.get("type"),
                    logical_id,
                    entry.get("physical_id"),
                )


def _outputs(
    template: Mapping[str, Any], resolver: IntrinsicResolver
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, str]]]:
    """Output values, exports by name, and each output's Description and ExportName."""
    outputs: dict[str, Any] = {}
    exports: dict[str, Any] = {}
    details: dict[str, dict[str, str]] = {}
    for name, output in (template.get("Outputs") or {}).items():
        condition = output.get("Condition")
        if condition is not None and not resolver.condition(condition, f"Outputs.{name}.Condition"):
            continue
        outputs[name] = resolver.resolve(output["Value"], f"Outputs.{name}.Value")
        details[name] = {}
        if "Description" in output:
            details[name]["Description"] = str(resolver.resolve(output["Description"], f"Outputs.{name}.Description"))
        if "Export" in output:
            export_name = str(resolver.resolve(output["Export"]["Name"], f"Outputs.{name}.Export"))
            exports[export_name] = outputs[name]
            details[name]["ExportName"] = export_name
    return outputs, exports, details


def _plan(
    cfn: Mapping[str, Any], deployment: _StackDeployment, parameters: Mapping[str, Any], state_dir: Path
) -> tuple[IntrinsicResolver, list[PlannedResource]]:
    """Build the resolver for this stack and validate/order the transformed template."""
    resolver = IntrinsicResolver(
        parameters=parameters,
        pseudo=pseudo_parameters(
            stack_name=deployment.stack_name, region=deployment.region, account_id=deployment.account_id
        ),
        mappings=cfn.get("Mappings") or {},
        conditions=cfn.get("Conditions") or {},
        declared={lid: r.get("Type", "") for lid, r in cfn["Resources"].items()},
        resources=deployment.resolved,
        exports=exports_of_other_stacks(state_dir, deployment.stack_name),
        region=deployment.region,
    )
    order = plan_stack(cfn, resolver, {kind: p.attributes for kind, p in PROVISIONERS.items()})
    LOG.info(
        "deploying stack %s: %d resources to %s",
        deployment.stack_name,
        len(order),
        deployment.clients.endpoint_url,
    )
    return resolver, order


def deploy(
    template_path: Path,
    *,
    endpoint_url: str,
    stack_name: str = "local",
    parameter_overrides: Mapping[str, str] | None = None,
    region: str = "us-east-1",
    state_dir: Path,
    session: boto3.Session | None = None,
    reapply: bool = False,
    tags: Mapping[str, str] | None = None,
) -> StackResult:
    """Deploy a SAM (or plain CloudFormation) template into the local cloud at `endpoint_url`.

    Like `sam deploy`: local `CodeUri`/`ContentUri`/`DefinitionUri` paths (relative to the
    template's folder) are zipped and uploaded to `<stack>-deploy-artifacts`, the SAM transform
    runs, and each resource is created or updated through the service's own API, in dependency
    order. The whole template is validated before anything is created.

    A redeploy is idempotent: resources are found by name (or by the id recorded last time) and
    updated only when their properties changed. Resources dropped from the template are left in
    place with a warning. The result is saved to `state_dir/stacks/<stack_name>.json`.
    `reapply` updates every existing resource even when its properties did not change: after a
    restart the data is restored but the settings the template applies (notifications, ...) are not.
    The record also keeps what CloudFormation would (status, timestamps, templates, events, `tags`),
    for the local cloud's CloudFormation API (see history.py and ../cloudformation.py).

    Raises a `DeployError` subclass naming the resource, property or intrinsic at fault.
    """
    if not is_valid_stack_name(stack_name):
        raise DeployError(f"invalid stack name {stack_name!r}: a letter, then letters, digits and hyphens")
    template_path = Path(template_path).resolve()
    state_dir = Path(state_dir).resolve()
    template = load_template(template_path)
    template_text = template_path.read_text(encoding="utf-8")
    parameters = resolve_parameters(template.get("Parameters") or {}, parameter_overrides)

    clients = Clients(endpoint_url=endpoint_url, region=region, session=session)
    try:
        previous: StackResult | None = load_stack(state_dir, stack_name)
    except StackNotFoundError:
        previous = None
    deployment = _StackDeployment(stack_name=stack_name, region=region, clients=clients, previous=previous,
                                  reapply=reapply)

    bucket = staging_bucket_name(stack_name)
    with tempfile.TemporaryDirectory(prefix="localcloud-package-") as build_dir:
        packager = Packager(template_dir=template_path.parent, build_dir=Path(build_dir), bucket=bucket)
        packaged, artifacts = packager.package(template)
        cfn = transform_template(packaged, parameters, region=region)
        resolver, order = _plan(cfn, deployment, parameters, state_dir)
        upload_artifacts(clients("s3"), bucket, artifacts, region=region)
    by_key = {(a.bucket, a.key): a for a in artifacts}

    keeps_creation = deployment.operation == "UPDATE" and previous is not None and previous.creation_time
    created = previous.creation_time if keeps_creation and previous is not None else history.now()
    deployment.stack_event(f"{deployment.operation}_IN_PROGRESS", "User Initiated")

    def record(
        resources: dict[str, dict[str, Any]], outputs: dict[str, Any], exports: dict[str, Any],
        details: dict[str, dict[str, str]], status: str, reason: str = "",
    ) -> StackResult:
        result = StackResult(
            stack_name=stack_name,
            region=region,
            endpoint_url=endpoint_url,
            template_path=str(template_path),
            parameters=dict(parameters),
            resources=resources,
            outputs=outputs,
            exports=exports,
            changes=dict(deployment.changes),
            stack_id=deployment.stack_id,
            account_id=deployment.account_id,
            status=status,
            status_reason=reason,
            creation_time=created,
            last_updated_time=history.now() if deployment.operation == "UPDATE" else "",
            description=str(template.get("Description") or ""),
            capabilities=history.required_capabilities(template, cfn),
            tags=dict(tags if tags is not None else (previous.tags if previous else {})),
            output_details=details,
        )
        history.save_templates(state_dir, stack_name, template_text, cfn)
        history.append_events(state_dir, stack_name, deployment.events)
        save_stack(state_dir, result)
        return result

    current: PlannedResource | None = None
    try:
        for current in order:
            deployment.provision(current, resolver, by_key)
        current = None
        outputs, exports, details = _outputs(cfn, resolver)
    except DeployError as error:
        # Record what exists, so the next deploy finds it instead of creating duplicates.
        deployment.failed(current, error)
        kept = {**(previous.resources if previous else {}), **deployment.entries}
        record(kept, previous.outputs if previous else {}, previous.exports if previous else {},
               previous.output_details if previous else {}, f"{deployment.operation}_FAILED", str(error))
        raise
    deployment.warn_removed()
    if deployment.operation == "UPDATE":
        deployment.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    deployment.stack_event(f"{deployment.operation}_COMPLETE")
    result = record(deployment.entries, outputs, exports, details, f"{deployment.operation}_COMPLETE")
    counts = {a: list(deployment.changes.values()).count(a) for a in ("created", "updated", "unchanged")}
    LOG.info("stack %s deployed: %s", stack_name, ", ".join(f"{n} {a}" for a, n in counts.items()))
    return result
