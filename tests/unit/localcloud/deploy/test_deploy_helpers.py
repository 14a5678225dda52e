"""Naming, OpenAPI routes, S3 notification shapes, ASL substitutions and the SAM transform."""

from __future__ import annotations

from infra.localcloud.deploy.naming import physical_name
from infra.localcloud.deploy.provisioners.apigatewayv2 import integration_target, routes_from_openapi
from infra.localcloud.deploy.provisioners.s3 import notification_configuration
from infra.localcloud.deploy.provisioners.stepfunctions import substitute
from infra.localcloud.deploy.transform import transform_template

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
INVOCATION_URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def test_physical_names_are_deterministic_and_fit_the_limit() -> None:
    name = physical_name("a-rather-long-stack-name", "AnEvenLongerLogicalIdForAFunction" * 2, max_length=64)

    assert name == physical_name(
        "a-rather-long-stack-name", "AnEvenLongerLogicalIdForAFunction" * 2, max_length=64
    )
    assert len(name) == 64 and "AnEvenLonger" in name
    assert physical_name("Stack", "Bucket", max_length=63, lowercase=True).startswith("stack-bucket-")


def test_openapi_paths_become_route_keys_and_lambda_integrations() -> None:
    integration = {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": INVOCATION_URI,
        "payloadFormatVersion": "2.0",
    }
    body = {
        "paths": {
            "/predict": {"post": {"x-amazon-apigateway-integration": integration}, "parameters": []},
            "/items/{proxy+}": {
                "x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration}
            },
            "$default": {"x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration}},
        }
    }

    routes = routes_from_openapi(body)

    assert [r.route_key for r in routes] == ["POST /predict", "ANY /items/{proxy+}", "$default"]
    assert routes[0].integration == {
        "IntegrationType": "AWS_PROXY",
        "IntegrationUri": FUNCTION_ARN,
        "PayloadFormatVersion": "2.0",
        "IntegrationMethod": "POST",
    }


def test_integration_target_keeps_non_lambda_uris() -> None:
    assert integration_target("https://example.com/{proxy}") == "https://example.com/{proxy}"


def test_cloudformation_notifications_convert_to_the_s3_api_shape() -> None:
    cfn = {
        "LambdaConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Function": FUNCTION_ARN,
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
            }
        ],
        "QueueConfigurations": [{"Event": "s3:ObjectRemoved:*", "Queue": "arn:aws:sqs:us-east-1:1:q"}],
    }

    assert notification_configuration(cfn) == {
        "LambdaFunctionConfigurations": [
            {
                "LambdaFunctionArn": FUNCTION_ARN,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
            }
        ],
        "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:1:q", "Events": ["s3:ObjectRemoved:*"]}],
    }


def test_definition_substitutions_replace_only_known_keys() -> None:
    text = '{"Resource": "${FnArn}", "Other": "${Unknown}", "Flag": ${On}}'

    assert substitute(text, {"FnArn": FUNCTION_ARN, "On": True}) == (
        f'{{"Resource": "{FUNCTION_ARN}", "Other": "${{Unknown}}", "Flag": true}}'
    )


def test_sam_transform_expands_policy_templates_without_iam() -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "s3://bucket/code.zip",
                    "Handler": "app.handler",
                    "Runtime": "python3.11",
                    "Policies": ["SomeTeamPolicy", {"SQSSendMessagePolicy": {"QueueName": "q"}}],
                },
            }
        },
    }

    role = transform_template(template, {}, region="us-east-1")["Resources"]["FnRole"]["Properties"]

    assert "arn:aws:iam::aws:policy/SomeTeamPolicy" in role["ManagedPolicyArns"]
    statement = role["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == ["sqs:SendMessage*"]
