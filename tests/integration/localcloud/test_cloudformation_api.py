"""CloudFormation's read API knows the stacks `localcloud up` deployed (issue #13, item 1).

AWS's sample integration tests find resources through DescribeStacks and ListStackResources, never
by name; these calls go through boto3's cloudformation client to the cloud's endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.localcloud.deploy import deploy
from tests.integration.conftest import ROOT, RunningCloud, start_cloud, stop_cloud

pytestmark = pytest.mark.integration

DEPLOY_APP = ROOT / "tests" / "fixtures" / "deploy_app" / "template.yaml"
STACK = "cfnapp"


@pytest.fixture(scope="module")
def app_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    tmp = tmp_path_factory.mktemp("cfn-cloud")
    cloud = start_cloud(tmp, DEPLOY_APP, stack_name=STACK)
    yield cloud
    stop_cloud(cloud)


def _cfn(cloud: RunningCloud) -> Any:
    return cloud.client("cloudformation")


def _resources(cfn: Any, stack: str) -> list[dict[str, Any]]:
    return [r for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
            for r in page["StackResourceSummaries"]]


def _events(cfn: Any, stack: str) -> list[dict[str, Any]]:
    return [e for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
            for e in page["StackEvents"]]


def test_the_product_fixture_stack_is_described_as_endpoints_json_says(fixture_cloud: RunningCloud) -> None:
    cfn = _cfn(fixture_cloud)
    stack = cfn.describe_stacks(StackName=fixture_cloud.stack_name)["Stacks"][0]
    recorded = fixture_cloud.info["stack"]
    assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {
        k: ",".join(v) if isinstance(v, list) else str(v) for k, v in recorded["outputs"].items()}
    listed = {r["LogicalResourceId"]: r for r in _resources(cfn, fixture_cloud.stack_name)}
    assert set(listed) == set(recorded["resources"])
    for logical_id, entry in recorded["resources"].items():
        assert listed[logical_id]["PhysicalResourceId"] == entry["physical_id"]
        assert listed[logical_id]["ResourceType"] == entry["type"]


def test_describe_stacks_reports_the_deployed_stack(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    recorded = app_cloud.info["stack"]
    [stack] = cfn.describe_stacks(StackName=STACK)["Stacks"]
    assert stack["StackName"] == STACK
    assert stack["StackId"].startswith(f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "CreationTime" in stack and "LastUpdatedTime" not in stack
    assert stack["Description"].startswith("Small SAM app")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Stage": "dev", "Threshold": "5", "ApiToken": "****"}  # NoEcho is masked, as AWS does
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # The HTTP API's execute-api URL is reported as the local API port's (the record keeps AWS's).
    assert recorded["outputs"]["ApiUrl"].startswith("https://")
    assert outputs == {k: str(v) for k, v in recorded["outputs"].items()} | {"ApiUrl": app_cloud.api_url + "/predict"}
    assert set(stack["Capabilities"]) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert stack["Tags"] == []
    # Without StackName: every stack; by ARN as by name.
    assert STACK in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert cfn.describe_stacks(StackName=stack["StackId"])["Stacks"][0]["StackName"] == STACK


def test_every_resource_is_listed_with_its_physical_id_and_cloudformation_type(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    recorded = app_cloud.info["stack"]["resources"]
    listed = {r["LogicalResourceId"]: r for r in _resources(cfn, STACK)}
    assert set(listed) == set(recorded)
    for logical_id, entry in recorded.items():
        assert listed[logical_id]["PhysicalResourceId"] == entry["physical_id"], logical_id
        assert listed[logical_id]["ResourceType"] == entry["type"], logical_id
        assert listed[logical_id]["ResourceStatus"] == "CREATE_COMPLETE"
        assert "LastUpdatedTimestamp" in listed[logical_id]
    # After the SAM transform: no AWS::Serverless::* types.
    assert listed["IngestFunction"]["ResourceType"] == "AWS::Lambda::Function"
    assert listed["DataBucket"]["ResourceType"] == "AWS::S3::Bucket"
    assert listed["Pipeline"]["ResourceType"] == "AWS::StepFunctions::StateMachine"

    described = cfn.describe_stack_resources(StackName=STACK)["StackResources"]
    assert {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in described} == {
        k: v["physical_id"] for k, v in recorded.items()}
    by_physical = cfn.describe_stack_resources(PhysicalResourceId=recorded["DataBucket"]["physical_id"])
    assert {r["StackName"] for r in by_physical["StackResources"]} == {STACK}
    one = cfn.describe_stack_resources(StackName=STACK, LogicalResourceId="RecordsTable")["StackResources"]
    assert [(r["LogicalResourceId"], r["ResourceType"]) for r in one] == [("RecordsTable", "AWS::DynamoDB::Table")]
    detail = cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="IngestFunction")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == recorded["IngestFunction"]["physical_id"]
    assert detail["ResourceType"] == "AWS::Lambda::Function"
    # The physical id is the real one: the function answers by it.
    assert app_cloud.client("lambda").get_function(FunctionName=detail["PhysicalResourceId"])
    with pytest.raises(ClientError) as missing:
        cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="NoSuchThing")
    assert missing.value.response["Error"]["Code"] == "ValidationError"


def test_get_template_returns_the_template_as_deployed_and_processed(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    original = cfn.get_template(StackName=STACK)
    assert original["TemplateBody"] == DEPLOY_APP.read_text(encoding="utf-8")
    assert original["StagesAvailable"] == ["Original", "Processed"]
    processed = cfn.get_template(StackName=STACK, TemplateStage="Processed")["TemplateBody"]
    if isinstance(processed, str):
        processed = json.loads(processed)
    assert "Transform" not in processed
    assert processed["Resources"]["IngestFunction"]["Type"] == "AWS::Lambda::Function"

    summary = cfn.get_template_summary(StackName=STACK)
    assert [p["ParameterKey"] for p in summary["Parameters"]] == ["Stage", "Threshold", "ApiToken"]
    stage = summary["Parameters"][0]
    assert stage["DefaultValue"] == "dev" and stage["ParameterConstraints"]["AllowedValues"] == ["dev", "prod"]
    assert "AWS::Serverless::Function" in summary["ResourceTypes"] and "AWS::S3::Bucket" in summary["ResourceTypes"]
    assert summary["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]


def test_stack_events_come_newest_first_one_per_resource(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    events = _events(cfn, STACK)
    stack_events = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events if e["ResourceType"] ==
                    "AWS::CloudFormation::Stack"]
    assert stack_events == [(STACK, "CREATE_COMPLETE"), (STACK, "CREATE_IN_PROGRESS")]
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE" and events[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS"
    assert events[-1]["ResourceStatusReason"] == "User Initiated"
    timestamps = [e["Timestamp"] for e in events]
    assert timestamps == sorted(timestamps, reverse=True)
    per_resource = [e["LogicalResourceId"] for e in events[1:-1]]
    assert sorted(per_resource) == sorted(app_cloud.info["stack"]["resources"])
    # Dependencies are created first: a function's event is newer than its table's.
    assert per_resource.index("IngestFunction") < per_resource.index("RecordsTable")
    assert all(e["StackName"] == STACK and e["StackId"] == events[0]["StackId"] for e in events)


def test_list_stacks_filters_by_status(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    summaries = cfn.list_stacks()["StackSummaries"]
    assert [(s["StackName"], s["StackStatus"]) for s in summaries] == [(STACK, "CREATE_COMPLETE")]
    assert cfn.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"][0]["StackName"] == STACK
    assert cfn.list_stacks(StackStatusFilter=["UPDATE_COMPLETE"])["StackSummaries"] == []


def test_an_unknown_stack_is_a_validation_error(app_cloud: RunningCloud) -> None:
    cfn = _cfn(app_cloud)
    for call in (cfn.describe_stacks, cfn.list_stack_resources, cfn.describe_stack_events, cfn.get_template):
        with pytest.raises(ClientError) as err:
            call(StackName="no-such-stack")
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == "Stack with id no-such-stack does not exist"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_other_cloudformation_actions_still_reach_moto(app_cloud: RunningCloud) -> None:
    body = json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}})
    assert "Parameters" in _cfn(app_cloud).validate_template(TemplateBody=body)


def test_a_redeploy_is_an_update_and_the_stack_survives_a_restart(app_cloud: RunningCloud, tmp_path: Path) -> None:
    # Last in this module: it changes the stack. A redeploy by the local deployer (as `make up` does).
    cfn = _cfn(app_cloud)
    before = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    deploy(DEPLOY_APP, endpoint_url=app_cloud.endpoint_url, stack_name=STACK, state_dir=app_cloud.state_dir,
           parameter_overrides={"Threshold": "7"})
    after = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert after["StackStatus"] == "UPDATE_COMPLETE"
    assert after["CreationTime"] == before["CreationTime"] and after["LastUpdatedTime"] > before["CreationTime"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in after["Parameters"]}["Threshold"] == "7"
    events = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in _events(cfn, STACK)]
    # Only the function whose environment changed is updated; the creation's events stay below.
    assert events[:4] == [(STACK, "UPDATE_COMPLETE"), (STACK, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
                          ("IngestFunction", "UPDATE_COMPLETE"), (STACK, "UPDATE_IN_PROGRESS")]
    assert events[4] == (STACK, "CREATE_COMPLETE") and events[-1] == (STACK, "CREATE_IN_PROGRESS")
    statuses = {r["LogicalResourceId"]: r["ResourceStatus"] for r in _resources(cfn, STACK)}
    assert statuses["IngestFunction"] == "UPDATE_COMPLETE" and statuses["DataBucket"] == "CREATE_COMPLETE"
    assert cfn.list_stacks(StackStatusFilter=["UPDATE_COMPLETE"])["StackSummaries"][0]["StackName"] == STACK

    # A restart: `up` on the same state directory deploys again; the stack keeps its id, creation
    # time and history.
    stop_cloud(app_cloud)
    restarted = start_cloud(app_cloud.state_dir.parent, DEPLOY_APP, stack_name=STACK,
                            extra=["--parameter-overrides", "Threshold=7"])
    try:
        cfn = _cfn(restarted)
        again = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        assert again["StackId"] == before["StackId"] and again["CreationTime"] == before["CreationTime"]
        assert again["StackStatus"] == "UPDATE_COMPLETE"
        assert {o["OutputKey"]: o["OutputValue"] for o in again["Outputs"]} == {
            k: str(v) for k, v in restarted.info["stack"]["outputs"].items()} | {"ApiUrl": restarted.api_url + "/predict"}
        history = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in _events(cfn, STACK)]
        assert history[-1] == (STACK, "CREATE_IN_PROGRESS") and history.count((STACK, "UPDATE_COMPLETE")) == 2
    finally:
        stop_cloud(restarted)
