"""A plain CloudFormation REST API (RestApi with a Swagger Body, Deployment, Stage, Permission) deploys and redeploys."""

from __future__ import annotations

from pathlib import Path

from infra.localcloud.deploy import deploy

from .support import Cloud

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: {ZipFile: "def handler(event, context):\\n    return {'statusCode': 200, 'body': 'ok'}\\n"}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: plain
      BinaryMediaTypes: ["application~1octet-stream"]
      Body:
        swagger: "2.0"
        info: {title: ignored-when-named}
        paths:
          PATH:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: v1
      Variables: {color: blue}
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      Action: lambda:InvokeFunction
      FunctionName: !Ref Fn
      Principal: apigateway.amazonaws.com
      SourceArn: !Sub "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/GET/*"
Outputs:
  Url:
    Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${Stage}/"
  Root:
    Value: !GetAtt Api.RootResourceId
"""


def test_rest_api_with_body_deploys_and_a_changed_body_replaces_the_resources(cloud: Cloud, tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.replace("PATH", "/users/{id}"))
    stack = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="plain", state_dir=tmp_path / "state")
    gateway = cloud.client("apigateway")
    api_id = stack.physical_id("Api")
    api = gateway.get_rest_api(restApiId=api_id)

    assert (api["name"], api["binaryMediaTypes"]) == ("plain", ["application/octet-stream"])
    assert stack.outputs["Url"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/v1/"
    assert stack.outputs["Root"] == api["rootResourceId"]
    (users,) = [r for r in gateway.get_resources(restApiId=api_id, embed=["methods"])["items"]
                if r["path"] == "/users/{id}"]
    assert users["resourceMethods"]["GET"]["methodIntegration"]["type"] == "AWS_PROXY"
    assert gateway.get_stage(restApiId=api_id, stageName="v1")["variables"] == {"color": "blue"}

    template.write_text(TEMPLATE.replace("PATH", "/orders"))
    again = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="plain", state_dir=tmp_path / "state")
    paths = {r["path"] for r in gateway.get_resources(restApiId=api_id)["items"]}
    assert again.physical_id("Api") == api_id
    assert paths == {"/", "/orders"}
