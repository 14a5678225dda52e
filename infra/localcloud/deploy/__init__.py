"""Deploy SAM templates into the local cloud (moto in server mode) through AWS APIs.

from infra.localcloud.deploy import deploy, load_stack
stack = deploy(Path("template.yaml"), endpoint_url="http://127.0.0.1:4566", state_dir=Path(".localcloud"))
stack.outputs["ApiUrl"]; load_stack(Path(".localcloud"), "local").physical_id("TrainFunction")
"""

from __future__ import annotations

from .deployer import deploy, staging_bucket_name
from .exceptions import (
    DependencyCycleError,
    DeployError,
    PackagingError,
    ParameterError,
    ProvisionError,
    StackNotFoundError,
    TemplateError,
    TransformError,
    UnsupportedAttributeError,
    UnsupportedIntrinsicError,
    UnsupportedResourceError,
)
from .parameters import parse_parameter_overrides
from .provisioners import PROVISIONERS
from .stack import StackResult, load_stack, stack_file
from .template import load_template, loads_template

SUPPORTED_RESOURCE_TYPES = frozenset(PROVISIONERS)

__all__ = [
    "SUPPORTED_RESOURCE_TYPES",
    "DependencyCycleError",
    "DeployError",
    "PackagingError",
    "ParameterError",
    "ProvisionError",
    "StackNotFoundError",
    "StackResult",
    "TemplateError",
    "TransformError",
    "UnsupportedAttributeError",
    "UnsupportedIntrinsicError",
    "UnsupportedResourceError",
    "deploy",
    "load_stack",
    "load_template",
    "loads_template",
    "parse_parameter_overrides",
    "stack_file",
    "staging_bucket_name",
]
