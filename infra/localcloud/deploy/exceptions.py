"""Errors raised while deploying a template; one class per way a deploy can fail."""

from __future__ import annotations


class DeployError(Exception):
    """Base class: the template could not be deployed to the local cloud."""


class TemplateError(DeployError):
    """The template is malformed (bad YAML, dangling reference, wrong intrinsic arguments)."""


class ParameterError(DeployError):
    """A parameter value is missing, unknown or violates its constraints."""


class PackagingError(DeployError):
    """A local artifact (CodeUri, ContentUri, DefinitionUri...) could not be packaged."""


class TransformError(DeployError):
    """aws-sam-translator rejected the template."""


class UnsupportedResourceError(DeployError):
    """The template uses a resource type the local cloud cannot provision."""


class UnsupportedIntrinsicError(DeployError):
    """The template uses an intrinsic function the local cloud cannot evaluate."""


class DependencyCycleError(DeployError):
    """Resources depend on each other in a circle, so there is no order to create them in."""


class ProvisionError(DeployError):
    """An AWS API call failed while creating or updating a resource."""


class StackNotFoundError(DeployError):
    """No deployed stack with that name in the state directory."""


class UnsupportedAttributeError(DeployError):
    """`Fn::GetAtt` asks for an attribute the local cloud does not expose for that resource type."""
