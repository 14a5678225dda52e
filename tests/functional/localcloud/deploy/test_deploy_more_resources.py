"""The other provisioners (queues, topics, mappings, versions, alarms...) create, re-find and update."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.localcloud.deploy import StackResult, deploy
from infra.localcloud.deploy.clients import Clients
from infra.localcloud.deploy.provisioners import PROVISIONERS, ResourceRequest

from .support import Cloud

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Parameters:
  Retention:
    Type: Number
    Default: 7
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetters.Arn
        maxReceiveCount: 3
  DeadLetters:
    Type: AWS::SQS::Queue
  Alerts:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: alerts
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(event, context):\\n    return event\\n"
      Handler: index.handler
      Runtime: python3.11
      AutoPublishAlias: live
      Events:
        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
        FromTopic:
          Type: SNS
          Properties:
            Topic: !Ref Alerts
        CatchAll:
          Type: HttpApi
          Properties:
            ApiId: !Ref Gateway
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
  Gateway:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["https://example.com"]
        AllowMethods: [GET, POST]
  WorkerLogs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub /aws/lambda/${Worker}
      RetentionInDays: !Ref Retention
  WorkerErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Dimensions:
        - Name: FunctionName
          Value: !Ref Worker
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold
      AlarmActions: [!Ref Alerts]
  Uploads:
    Type: AWS::S3::Bucket
  UploadsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Uploads
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: s3:DeleteObject
            Resource: !Sub "${Uploads.Arn}/*"
  ExtraPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: extra
      Roles: [!Ref WorkerRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: sqs:SendMessage
            Resource: !GetAtt Jobs.Arn
  Manual:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: manual
      ProtocolType: HTTP
  ManualIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Manual
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Worker.Arn
      PayloadFormatVersion: "2.0"
  ManualRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Manual
      RouteKey: GET /manual
      Target: !Sub integrations/${ManualIntegration}
Outputs:
  QueueUrl:
    Value: !Ref Jobs
  AliasArn:
    Value: !Ref WorkerAliaslive
"""


@pytest.fixture(scope="module")
def deployed(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, StackResult]:
    folder = tmp_path_factory.mktemp("more")
    template = folder / "template.yaml"
    template.write_text(TEMPLATE)
    state = folder / "state"
    return (
        template,
        state,
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="more", state_dir=state),
    )


def test_queue_with_redrive_and_event_source_mapping(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    _, _, stack = deployed
    sqs = cloud.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.outputs["QueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["VisibilityTimeout"] == "60"
    assert (
        json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
        == stack.resources["DeadLetters"]["arn"]
    )
    (mapping_id,) = stack.of_type("AWS::Lambda::EventSourceMapping")
    mapping = cloud.client("lambda").get_event_source_mapping(UUID=stack.physical_id(mapping_id))
    assert mapping["EventSourceArn"] == stack.resources["Jobs"]["arn"]
    assert mapping["BatchSize"] == 5


def test_topic_subscription_alarm_logs_and_schedule(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    _, _, stack = deployed
    topic_arn = stack.physical_id("Alerts")
    subscriptions = cloud.client("sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    (alarm,) = cloud.client("cloudwatch").describe_alarms(AlarmNames=[stack.physical_id("WorkerErrors")])[
        "MetricAlarms"
    ]
    groups = cloud.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/more-Worker")[
        "logGroups"
    ]
    (schedule_id,) = stack.of_type("AWS::Scheduler::Schedule")
    schedule = cloud.client("scheduler").get_schedule(Name=stack.physical_id(schedule_id))

    assert [s["Protocol"] for s in subscriptions] == ["lambda"]
    assert subscriptions[0]["Endpoint"].startswith(stack.resources["Worker"]["arn"])
    assert (alarm["Threshold"], alarm["AlarmActions"]) == (1.0, [topic_arn])
    assert [g.get("retentionInDays") for g in groups] == [7]
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["Target"]["Arn"] == stack.outputs["AliasArn"]  # AutoPublishAlias retargets events


def test_alias_points_at_published_version(cloud: Cloud, deployed: tuple[Path, Path, StackResult]) -> None:
    _, _, stack = deployed
    alias = cloud.client("lambda").get_alias(FunctionName=stack.physical_id("Worker"), Name="live")
    (version_id,) = stack.of_type("AWS::Lambda::Version")

    assert alias["AliasArn"] == stack.outputs["AliasArn"]
    assert alias["FunctionVersion"] == stack.resources[version_id]["attributes"]["Version"]


def test_policies_are_stored(cloud: Cloud, deployed: tuple[Path, Path, StackResult]) -> None:
    _, _, stack = deployed
    bucket_policy = json.loads(
        cloud.client("s3").get_bucket_policy(Bucket=stack.physical_id("Uploads"))["Policy"]
    )
    role_policy = cloud.client("iam").get_role_policy(
        RoleName=stack.physical_id("WorkerRole"), PolicyName="extra"
    )

    assert bucket_policy["Statement"][0]["Effect"] == "Deny"
    assert role_policy["PolicyDocument"]["Statement"][0]["Action"] == "sqs:SendMessage"


def test_standalone_route_and_integration(cloud: Cloud, deployed: tuple[Path, Path, StackResult]) -> None:
    _, _, stack = deployed
    gateway = cloud.client("apigatewayv2")
    api_id = stack.physical_id("Manual")
    (route,) = gateway.get_routes(ApiId=api_id)["Items"]
    integration = gateway.get_integration(
        ApiId=api_id, IntegrationId=route["Target"].removeprefix("integrations/")
    )

    assert route["RouteKey"] == "GET /manual"
    assert integration["IntegrationUri"] == stack.resources["Worker"]["arn"]


def test_http_api_without_path_gets_default_route_and_cors(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    _, _, stack = deployed
    gateway = cloud.client("apigatewayv2")
    api_id = stack.physical_id("Gateway")
    (route,) = gateway.get_routes(ApiId=api_id)["Items"]
    integration = gateway.get_integration(
        ApiId=api_id, IntegrationId=route["Target"].removeprefix("integrations/")
    )
    api = gateway.get_api(ApiId=api_id)

    assert route["RouteKey"] == "$default"
    assert integration["IntegrationUri"] == stack.outputs["AliasArn"]
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://example.com"]


def test_redeploy_is_unchanged_then_updates_what_changed(
    cloud: Cloud, deployed: tuple[Path, Path, StackResult]
) -> None:
    template, state, first = deployed
    again = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="more", state_dir=state)
    assert set(again.changes.values()) == {"unchanged"}

    template.write_text(
        TEMPLATE.replace("VisibilityTimeout: 60", "VisibilityTimeout: 90")
        .replace("BatchSize: 5", "BatchSize: 7")
        .replace("DisplayName: alerts", "DisplayName: paging")
    )
    changed = deploy(
        template,
        endpoint_url=cloud.endpoint_url,
        stack_name="more",
        state_dir=state,
        parameter_overrides={"Retention": "14"},
    )

    updated = {lid for lid, action in changed.changes.items() if action == "updated"}
    (mapping_id,) = first.of_type("AWS::Lambda::EventSourceMapping")
    assert {"Jobs", "Alerts", "WorkerLogs", mapping_id} <= updated
    assert "Worker" not in updated
    sqs_attributes = cloud.client("sqs").get_queue_attributes(
        QueueUrl=changed.physical_id("Jobs"), AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert sqs_attributes["VisibilityTimeout"] == "90"
    mapping = cloud.client("lambda").get_event_source_mapping(UUID=changed.physical_id(mapping_id))
    assert mapping["BatchSize"] == 7
    topic = cloud.client("sns").get_topic_attributes(TopicArn=changed.physical_id("Alerts"))["Attributes"]
    assert topic["DisplayName"] == "paging"


def test_log_group_a_function_created_first_is_adopted_with_its_retention(cloud: Cloud) -> None:
    # The runtime creates /aws/lambda/<function> when the function first logs, possibly between the
    # deployer's lookup and its CreateLogGroup; the group is then configured, not an error.
    logs = cloud.client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/early-Worker")
    clients = Clients(endpoint_url=cloud.endpoint_url, region="us-east-1", session=cloud.session())
    provisioner = PROVISIONERS["AWS::Logs::LogGroup"](clients)
    request = ResourceRequest("WorkerLogs", "AWS::Logs::LogGroup",
                              {"LogGroupName": "/aws/lambda/early-Worker", "RetentionInDays": "14"},
                              stack_name="early", region="us-east-1", account_id="123456789012")

    created = provisioner.create(request)

    assert created.physical_id == "/aws/lambda/early-Worker"
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/early-Worker")["logGroups"]
    assert [g.get("retentionInDays") for g in groups] == [14]
