"""AutoPublishAlias + DeploymentPreference: what SAM generates is provisioned, and a code change moves the alias."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.localcloud.deploy import StackResult, deploy

from .support import Cloud

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return {'statusCode': 200, 'body': 'one'}\\n"
      Handler: index.handler
      Runtime: python3.11
      AutoPublishAlias: live
      DeploymentPreference:
        Type: Canary10Percent5Minutes
        Alarms: [!Ref AliasErrors, !Ref AliasLatency]
      Events:
        Get:
          Type: HttpApi
          Properties: {Path: /x, Method: GET}
  AliasErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - {Name: FunctionName, Value: !Ref Api}
        - {Name: Resource, Value: !Sub "${Api}:live"}
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
  AliasLatency:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Duration
      Dimensions:
        - {Name: FunctionName, Value: !Ref Api}
        - {Name: Resource, Value: !Sub "${Api}:live"}
      ExtendedStatistic: p99
      Period: 60
      EvaluationPeriods: 2
      Threshold: 500
      ComparisonOperator: GreaterThanThreshold
Outputs:
  AliasArn:
    Value: !Ref Api.Alias
"""


@pytest.fixture(scope="module")
def deployed(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, StackResult]:
    folder = tmp_path_factory.mktemp("canary")
    template = folder / "template.yaml"
    template.write_text(TEMPLATE)
    state = folder / "state"
    return template, state, deploy(template, endpoint_url=cloud.endpoint_url, stack_name="canary", state_dir=state)


def test_codedeploy_application_and_group_are_recorded(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    _, _, stack = deployed
    codedeploy = cloud.client("codedeploy")
    (app_id,) = stack.of_type("AWS::CodeDeploy::Application")
    (group_id,) = stack.of_type("AWS::CodeDeploy::DeploymentGroup")
    application = codedeploy.get_application(applicationName=stack.physical_id(app_id))["application"]
    group = codedeploy.get_deployment_group(
        applicationName=stack.physical_id(app_id), deploymentGroupName=stack.physical_id(group_id)
    )["deploymentGroupInfo"]

    assert application["computePlatform"] == "Lambda"
    assert group["deploymentConfigName"] == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert group["serviceRoleArn"] == stack.resources["CodeDeployServiceRole"]["arn"]
    assert group["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert group["autoRollbackConfiguration"]["enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["autoRollbackConfiguration"]["events"]
    # moto 5.2.5 stores alarmConfiguration but answers {} for it; which alarms the group names is
    # checked on the transformed template (tests/unit/test_least_privilege.py).


def test_alarms_watch_the_alias_and_the_http_api_invokes_it(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    _, _, stack = deployed
    alarms = cloud.client("cloudwatch").describe_alarms(
        AlarmNames=[stack.physical_id("AliasErrors"), stack.physical_id("AliasLatency")]
    )["MetricAlarms"]
    gateway = cloud.client("apigatewayv2")
    api_id = stack.physical_id("ServerlessHttpApi")
    (route,) = gateway.get_routes(ApiId=api_id)["Items"]
    integration = gateway.get_integration(ApiId=api_id, IntegrationId=route["Target"].removeprefix("integrations/"))

    function = stack.physical_id("Api")
    for alarm in alarms:
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "FunctionName": function, "Resource": f"{function}:live"}
    assert {a["MetricName"]: a.get("ExtendedStatistic") for a in alarms} == {"Errors": None, "Duration": "p99"}
    assert integration["IntegrationUri"] == stack.outputs["AliasArn"]
    assert stack.outputs["AliasArn"].endswith(f":function:{function}:live")


def test_redeploy_unchanged_then_code_change_publishes_a_version_and_moves_the_alias(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    template, state, first = deployed
    aws_lambda = cloud.client("lambda")
    function = first.physical_id("Api")
    assert aws_lambda.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "1"

    again = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="canary", state_dir=state)
    assert set(again.changes.values()) == {"unchanged"}

    template.write_text(TEMPLATE.replace("'body': 'one'", "'body': 'two'"))
    changed = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="canary", state_dir=state)

    (version_id,) = changed.of_type("AWS::Lambda::Version")
    assert changed.changes[version_id] == "created"
    assert changed.resources[version_id]["attributes"]["Version"] == "2"
    assert changed.changes["ApiAliaslive"] == "updated"
    assert aws_lambda.get_alias(FunctionName=function, Name="live")["FunctionVersion"] == "2"
    published = aws_lambda.get_function(FunctionName=function, Qualifier="live")["Code"]
    assert published  # the alias resolves to a version with code
