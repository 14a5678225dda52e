"""deploy() provisions every resource of a SAM app, readable back through the AWS APIs."""

from __future__ import annotations

import json
from pathlib import Path

from infra.localcloud.deploy import StackResult, load_stack

from .support import FIXTURE_APP, Cloud


def test_functions_have_runtime_settings_env_layers_and_concurrency(cloud: Cloud, stack: StackResult) -> None:
    aws_lambda = cloud.client("lambda")
    ingest = aws_lambda.get_function(FunctionName=stack.physical_id("IngestFunction"))
    config = ingest["Configuration"]

    assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == (
        "python3.11",
        "app.handler",
        30,
        256,
    )
    assert config["Environment"]["Variables"] == {
        "STAGE": "dev",
        "TABLE_NAME": stack.physical_id("RecordsTable"),
        "LOG_LEVEL": "DEBUG",  # Fn::FindInMap on the Stage parameter
        "THRESHOLD": "5",  # a Number parameter reaches the function as a string, as on AWS
        "MODE": "development",  # Fn::If on a false condition
    }
    (layer_id,) = stack.of_type("AWS::Lambda::LayerVersion")
    assert [layer["Arn"] for layer in config["Layers"]] == [stack.resources[layer_id]["arn"]]
    assert ingest["Concurrency"]["ReservedConcurrentExecutions"] == 2

    api_config = aws_lambda.get_function(FunctionName=stack.physical_id("ApiFunction"))["Configuration"]
    assert api_config["Timeout"] == 10  # the function's own value beats Globals
    assert api_config["Environment"]["Variables"]["API_TOKEN"] == "not-a-secret"


def test_async_invoke_config_carries_retry_attempts(cloud: Cloud, stack: StackResult) -> None:
    config = cloud.client("lambda").get_function_event_invoke_config(
        FunctionName=stack.physical_id("IngestFunction")
    )

    assert config["MaximumRetryAttempts"] == 1


def test_physical_names_follow_cloudformation_pattern(stack: StackResult) -> None:
    function_name = stack.physical_id("IngestFunction")
    bucket_name = stack.physical_id("DataBucket")

    assert function_name.startswith("fixture-IngestFunction-") and len(function_name) <= 64
    assert bucket_name.startswith("fixture-databucket-") and bucket_name == bucket_name.lower()
    assert stack.physical_id("Pipeline").endswith(":stateMachine:fixture-pipeline")  # explicit name kept


def test_bucket_has_versioning_and_filtered_lambda_notification(cloud: Cloud, stack: StackResult) -> None:
    s3 = cloud.client("s3")
    bucket = stack.physical_id("DataBucket")

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (notification,) = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"] == stack.resources["IngestFunction"]["arn"]
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    rules = {r["Name"].lower(): r["Value"] for r in notification["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "incoming/", "suffix": ".csv"}


def test_state_machine_definition_has_substitutions_applied(cloud: Cloud, stack: StackResult) -> None:
    machine = cloud.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.physical_id("Pipeline")
    )
    definition = json.loads(machine["definition"])

    assert definition["States"]["Ingest"]["Resource"] == stack.resources["IngestFunction"]["arn"]
    parameters = definition["States"]["Serve"]["Parameters"]
    assert parameters["FunctionName"] == stack.resources["ApiFunction"]["arn"]
    assert parameters["Comment"] == stack.physical_id("RecordsTable")
    assert machine["roleArn"] == stack.resources["PipelineRole"]["arn"]
    assert "${" not in machine["definition"]


def test_http_api_routes_point_at_the_function(cloud: Cloud, stack: StackResult) -> None:
    gateway = cloud.client("apigatewayv2")
    api_id = stack.physical_id("ServerlessHttpApi")
    routes = {r["RouteKey"]: r["Target"] for r in gateway.get_routes(ApiId=api_id)["Items"]}

    assert set(routes) == {"POST /predict", "GET /health", "ANY /items/{proxy+}"}
    for target in routes.values():
        integration = gateway.get_integration(
            ApiId=api_id, IntegrationId=target.removeprefix("integrations/")
        )
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["IntegrationUri"] == stack.resources["ApiFunction"]["arn"]
        assert integration["PayloadFormatVersion"] == "2.0"
    stages = gateway.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]


def test_schedule_rule_targets_the_function(cloud: Cloud, stack: StackResult) -> None:
    events = cloud.client("events")
    rule_name = stack.physical_id("IngestFunctionEveryMinute")
    rule = events.describe_rule(Name=rule_name)

    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 minute)", "ENABLED")
    (target,) = events.list_targets_by_rule(Rule=rule_name)["Targets"]
    assert target["Arn"] == stack.resources["IngestFunction"]["arn"]
    assert json.loads(target["Input"]) == {"source": "schedule"}


def test_table_has_on_demand_billing_stream_and_ttl(cloud: Cloud, stack: StackResult) -> None:
    dynamodb = cloud.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.physical_id("RecordsTable"))["Table"]

    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_outputs_are_resolved(cloud: Cloud, stack: StackResult) -> None:
    api = cloud.client("apigatewayv2").get_api(ApiId=stack.physical_id("ServerlessHttpApi"))
    table = cloud.client("dynamodb").describe_table(TableName=stack.physical_id("RecordsTable"))["Table"]

    assert stack.outputs == {
        "ApiUrl": f"{api['ApiEndpoint']}/predict",
        "BucketName": stack.physical_id("DataBucket"),
        "StateMachineArn": stack.physical_id("Pipeline"),
        "TableStreamArn": table["LatestStreamArn"],
        "IngestFunctionArn": stack.resources["IngestFunction"]["arn"],
        "Mode": "development",
        "Joined": "dev-b",
    }


def test_stack_record_is_saved_and_loadable(stack: StackResult, state_dir: Path) -> None:
    loaded = load_stack(state_dir, "fixture")

    assert loaded == stack
    assert loaded.parameters == {"Stage": "dev", "Threshold": "5", "ApiToken": "not-a-secret"}
    assert loaded.resources["IngestFunction"]["type"] == "AWS::Lambda::Function"
    assert loaded.resources["IngestFunction"]["source_path"] == str(FIXTURE_APP / "functions" / "ingest")
    assert set(loaded.changes.values()) == {"created"}
