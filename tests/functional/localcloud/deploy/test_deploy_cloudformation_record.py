"""What the deployer records for CloudFormation's read API (cloudformation.py) when a deploy stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.parsers import QueryParser
from botocore.session import get_session

from infra.localcloud.cloudformation import CloudFormationApi
from infra.localcloud.deploy import ProvisionError, deploy, load_stack

from .support import Cloud

_TEMPLATE = """\
Resources:
  Good:
    Type: AWS::SNS::Topic
  Bad:
    Type: AWS::S3::Bucket
    DependsOn: Good
    Properties:
      BucketName: {name}
"""


def _call(api: CloudFormationApi, action: str, **params: str) -> dict:
    status, _, body = api(action, params, "us-east-1") or (0, {}, b"")
    model = get_session().get_service_model("cloudformation").operation_model(action)
    return QueryParser().parse({"body": body, "headers": {}, "status_code": status}, model.output_shape)


def test_a_deploy_that_stops_is_create_failed_then_an_update(cloud: Cloud, tmp_path: Path) -> None:
    template, state = tmp_path / "template.yaml", tmp_path / "state"
    template.write_text(_TEMPLATE.format(name="ab"))
    with pytest.raises(ProvisionError):
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="halfway", state_dir=state)
    assert load_stack(state, "halfway").status == "CREATE_FAILED"

    api = CloudFormationApi(state, "123456789012")
    stack = _call(api, "DescribeStacks", StackName="halfway")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_FAILED" and "Bad" in stack["StackStatusReason"]
    events = [(e["LogicalResourceId"], e["ResourceStatus"])
              for e in _call(api, "DescribeStackEvents", StackName="halfway")["StackEvents"]]
    assert events == [("halfway", "CREATE_FAILED"), ("Bad", "CREATE_FAILED"), ("Good", "CREATE_COMPLETE"),
                      ("halfway", "CREATE_IN_PROGRESS")]
    listed = _call(api, "ListStackResources", StackName="halfway")["StackResourceSummaries"]
    assert [(r["LogicalResourceId"], r["ResourceStatus"]) for r in listed] == [("Good", "CREATE_COMPLETE")]

    # Fixed and deployed again: a stack whose creation failed is created again, keeping its history.
    template.write_text(_TEMPLATE.format(name="halfway-fixed-bucket"))
    deploy(template, endpoint_url=cloud.endpoint_url, stack_name="halfway", state_dir=state)
    stack = _call(api, "DescribeStacks", StackName="halfway")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and "StackStatusReason" not in stack
    events = [(e["LogicalResourceId"], e["ResourceStatus"])
              for e in _call(api, "DescribeStackEvents", StackName="halfway")["StackEvents"]]
    assert events[:2] == [("halfway", "CREATE_COMPLETE"), ("Bad", "CREATE_COMPLETE")]
    assert events[-1] == ("halfway", "CREATE_IN_PROGRESS") and len(events) == 4 + 3  # Good is unchanged

    # A further deploy is an update.
    deploy(template, endpoint_url=cloud.endpoint_url, stack_name="halfway", state_dir=state)
    assert _call(api, "DescribeStacks", StackName="halfway")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
