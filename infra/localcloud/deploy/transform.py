"""Run the SAM transform (aws-sam-translator) locally, without real IAM."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

from .exceptions import TransformError

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


class _AnyManagedPolicy(dict[str, str]):
    """Managed-policy map that knows every name, as `arn:<partition>:iam::aws:policy/<name>`.

    samtranslator looks names up in its bundled map first; this is the fallback that the
    real transform fills from `iam:ListPolicies`, which a local cloud cannot answer truthfully.
    """

    def __init__(self, partition: str) -> None:
        super().__init__()
        self._partition = partition

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return f"arn:{self._partition}:iam::aws:policy/{name}"

    def __bool__(self) -> bool:  # samtranslator skips a falsy (empty) map
        return True


class StubManagedPolicyLoader:
    """Stands in for samtranslator's `ManagedPolicyLoader`, which calls IAM."""

    def __init__(self, partition: str = "aws") -> None:
        self._map = _AnyManagedPolicy(partition)

    def load(self) -> dict[str, str]:
        return self._map


def _transforms(template: Mapping[str, Any]) -> list[str]:
    declared = template.get("Transform")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def transform_template(
    template: Mapping[str, Any],
    parameter_values: Mapping[str, Any],
    *,
    region: str,
    partition: str = "aws",
) -> dict[str, Any]:
    """The CloudFormation template for a SAM template (a plain CloudFormation template is returned as is)."""
    transforms = _transforms(template)
    unsupported = [t for t in transforms if t != SAM_TRANSFORM]
    if unsupported:
        raise TransformError(
            f"transform {unsupported} not supported by the local cloud (only {SAM_TRANSFORM})"
        )
    if not transforms:
        return copy.deepcopy(dict(template))
    document = copy.deepcopy(dict(template))
    parameters = dict(parameter_values)
    to_py27_compatible_template(document, parameters)
    # The session only tells samtranslator the region (for ARNs); it makes no AWS calls.
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    loader = StubManagedPolicyLoader(partition)
    try:
        translated = translator.translate(
            document, parameter_values=parameters, get_managed_policy_map=loader.load
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes) or str(exc)
        raise TransformError(f"SAM transform failed: {causes}") from exc
    finally:
        # Metrics go to a no-op publisher; publishing stops the "unpublished metrics" warning.
        translator.metrics.publish()
    return undo_mark_unicode_str_in_template(translated)
