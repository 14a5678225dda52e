"""Check a CloudFormation template against what the local cloud supports, and order its resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import (
    DependencyCycleError,
    TemplateError,
    UnsupportedAttributeError,
    UnsupportedIntrinsicError,
    UnsupportedResourceError,
)
from .intrinsics import SUPPORTED_FUNCTIONS, IntrinsicResolver, iter_intrinsics, references

# Resource keys the deployer reads or can safely ignore (the local cloud deletes nothing).
_RESOURCE_KEYS = frozenset(
    {
        "Type",
        "Properties",
        "DependsOn",
        "Condition",
        "Metadata",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "UpdatePolicy",
        "CreationPolicy",
    }
)


@dataclass(frozen=True)
class PlannedResource:
    """One resource to provision, with the resources it must wait for."""

    logical_id: str
    resource_type: str
    properties: Mapping[str, Any]
    depends_on: frozenset[str]


def _depends_on(resource: Mapping[str, Any], logical_id: str) -> list[str]:
    value = resource.get("DependsOn", [])
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TemplateError(f"Resources.{logical_id}.DependsOn must be a name or a list of names")
    return names


def active_resources(
    template: Mapping[str, Any], resolver: IntrinsicResolver
) -> dict[str, Mapping[str, Any]]:
    """Resources whose Condition (if any) is true, in template order."""
    active: dict[str, Mapping[str, Any]] = {}
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError(f"Resources.{logical_id} needs a Type")
        condition = resource.get("Condition")
        if condition is None or resolver.condition(condition, f"Resources.{logical_id}.Condition"):
            active[logical_id] = resource
    return active


def _check_intrinsics(
    value: Any,
    where: str,
    resolver: IntrinsicResolver,
    declared_types: Mapping[str, str],
    active: Mapping[str, Any],
    attributes: Mapping[str, frozenset[str]],
) -> None:
    for name, argument, at in iter_intrinsics(value, where):
        if name not in SUPPORTED_FUNCTIONS:
            raise UnsupportedIntrinsicError(
                f"intrinsic function {name} at {at} is not supported by the local cloud"
            )
        if name == "Fn::If" and isinstance(argument, list) and argument and isinstance(argument[0], str):
            if not resolver.has_condition(argument[0]):
                raise TemplateError(f"{at}: condition {argument[0]!r} is not declared in Conditions")
    for target, attribute, at in references(value, where):
        if not resolver.is_referenceable(target):
            raise TemplateError(f"{at}: {target!r} is not a parameter, pseudo parameter or resource")
        if attribute is not None and target in active:
            supported = attributes[declared_types[target]]
            if attribute not in supported:
                raise UnsupportedAttributeError(
                    f"{at}: Fn::GetAtt {target}.{attribute}: {declared_types[target]} exposes "
                    f"{sorted(supported) or 'no attributes'} in the local cloud"
                )


def plan_stack(
    template: Mapping[str, Any],
    resolver: IntrinsicResolver,
    attributes: Mapping[str, frozenset[str]],
) -> list[PlannedResource]:
    """Validate the whole template, then return its active resources in dependency order.

    `attributes` maps every provisionable type to the GetAtt attributes it exposes. Everything
    that can be checked without calling AWS is checked here, so a bad template fails before
    anything is created.
    """
    declared_types = {
        lid: r.get("Type", "") for lid, r in template["Resources"].items() if isinstance(r, dict)
    }
    active = active_resources(template, resolver)
    unsupported = [
        f"{r['Type']} in resource {lid}" for lid, r in active.items() if r["Type"] not in attributes
    ]
    if unsupported:
        raise UnsupportedResourceError(
            "resource type not supported by the local cloud: " + "; ".join(unsupported)
        )

    planned: dict[str, PlannedResource] = {}
    for logical_id, resource in active.items():
        unknown_keys = set(resource) - _RESOURCE_KEYS
        if unknown_keys:
            raise TemplateError(f"Resources.{logical_id} has unknown keys {sorted(unknown_keys)}")
        properties = resource.get("Properties") or {}
        where = f"Resources.{logical_id}.Properties"
        _check_intrinsics(properties, where, resolver, declared_types, active, attributes)
        depends = set(_depends_on(resource, logical_id))
        for name in depends:
            if name not in active:
                raise TemplateError(
                    f"Resources.{logical_id}.DependsOn: {name!r} is not a resource that is created"
                )
        depends.update(target for target, _, _ in references(properties, where) if target in active)
        depends.discard(logical_id)
        planned[logical_id] = PlannedResource(logical_id, resource["Type"], properties, frozenset(depends))

    for name, output in (template.get("Outputs") or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise TemplateError(f"Outputs.{name} needs a Value")
        _check_intrinsics(output, f"Outputs.{name}", resolver, declared_types, active, attributes)
    return _topological_order(planned)


def _topological_order(planned: Mapping[str, PlannedResource]) -> list[PlannedResource]:
    """Depth-first order that keeps template order among independent resources."""
    order: list[PlannedResource] = []
    state: dict[str, str] = {}  # "visiting" | "done"
    stack: list[str] = []

    def visit(logical_id: str) -> None:
        if state.get(logical_id) == "done":
            return
        if state.get(logical_id) == "visiting":
            cycle = stack[stack.index(logical_id) :] + [logical_id]
            raise DependencyCycleError("circular dependency between resources: " + " -> ".join(cycle))
        state[logical_id] = "visiting"
        stack.append(logical_id)
        for dependency in sorted(planned[logical_id].depends_on, key=list(planned).index):
            visit(dependency)
        stack.pop()
        state[logical_id] = "done"
        order.append(planned[logical_id])

    for logical_id in planned:
        visit(logical_id)
    return order
