"""A template the local cloud cannot honour fails loudly, before anything is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.localcloud.deploy import (
    PackagingError,
    ParameterError,
    UnsupportedIntrinsicError,
    UnsupportedResourceError,
    deploy,
    staging_bucket_name,
)

from .support import FIXTURE_APP, Cloud

_FUNCTION = """
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          VALUE: {value}
"""


def _template(tmp_path: Path, extra: str = "", value: str = "plain") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n" + _FUNCTION.format(value=value) + extra
    )
    return path


def _nothing_created(cloud: Cloud, stack_name: str) -> bool:
    functions = cloud.client("lambda").list_functions()["Functions"]
    buckets = cloud.client("s3").list_buckets()["Buckets"]
    return not any(f["FunctionName"].startswith(f"{stack_name}-") for f in functions) and not any(
        b["Name"] == staging_bucket_name(stack_name) for b in buckets
    )


def test_unsupported_resource_type_is_named_and_nothing_is_created(cloud: Cloud, tmp_path: Path) -> None:
    template = _template(
        tmp_path, "\n  Network:\n    Type: AWS::EC2::VPC\n    Properties:\n      CidrBlock: 10.0.0.0/16\n"
    )

    with pytest.raises(UnsupportedResourceError, match=r"AWS::EC2::VPC in resource Network"):
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="novpc", state_dir=tmp_path / "state")

    assert _nothing_created(cloud, "novpc")


def test_unknown_intrinsic_is_named_with_its_location(cloud: Cloud, tmp_path: Path) -> None:
    template = _template(tmp_path, value="!Cidr [10.0.0.0/16, 2, 8]")

    with pytest.raises(
        UnsupportedIntrinsicError, match=r"Fn::Cidr at Resources\.Worker\.Properties\.Environment"
    ):
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="nocidr", state_dir=tmp_path / "state")

    assert _nothing_created(cloud, "nocidr")


def test_missing_code_folder_is_a_packaging_error(cloud: Cloud, tmp_path: Path) -> None:
    template = _template(tmp_path)
    template.write_text(template.read_text().replace("CodeUri: src/", "CodeUri: missing/"))

    with pytest.raises(
        PackagingError, match=r"Resources\.Worker\.Properties\.CodeUri: .*missing does not exist"
    ):
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="nocode", state_dir=tmp_path / "state")


def test_parameter_outside_allowed_values_is_rejected(cloud: Cloud, tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"Stage must be one of \['dev', 'prod'\], got 'qa'"):
        deploy(
            FIXTURE_APP / "template.yaml",
            endpoint_url=cloud.endpoint_url,
            stack_name="badparam",
            state_dir=tmp_path,
            parameter_overrides={"Stage": "qa"},
        )
