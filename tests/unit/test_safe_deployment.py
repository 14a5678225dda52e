"""Safe code deployment of PredictFunction (issue 6): a canary on the `live` alias, rolled back by alarms.

Static: what template.yaml declares and what the SAM transform makes of it. That the local deployer
provisions it is tests/functional/localcloud/deploy/test_deploy_safe_deployment.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.sam_support import render, template_source, translate


@pytest.fixture(scope="module")
def declared() -> dict[str, Any]:
    return template_source().document


@pytest.fixture(scope="module")
def cfn(declared) -> dict[str, Any]:
    return translate(declared)


def of_type(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in cfn["Resources"].items() if r["Type"] == kind}


def test_predict_function_publishes_versions_behind_a_canary_with_two_alarms(declared):
    props = declared["Resources"]["PredictFunction"]["Properties"]
    assert props["AutoPublishAlias"] == "live"
    assert props["AutoPublishAliasAllProperties"] is True  # configuration changes publish too
    preference = props["DeploymentPreference"]
    assert preference["Type"] == "Canary10Percent5Minutes"
    assert [render(a) for a in preference["Alarms"]] == ["${PredictAliasErrorsAlarm}", "${PredictAliasLatencyAlarm}"]


def test_alarms_watch_errors_and_p99_duration_of_the_live_alias(declared):
    resources = declared["Resources"]
    errors = resources["PredictAliasErrorsAlarm"]["Properties"]
    latency = resources["PredictAliasLatencyAlarm"]["Properties"]
    for alarm in (errors, latency):
        assert alarm["Namespace"] == "AWS/Lambda"
        assert {d["Name"]: render(d["Value"]) for d in alarm["Dimensions"]} == {
            "FunctionName": "${PredictFunction}", "Resource": "${PredictFunction}:live"}
        assert alarm["TreatMissingData"] == "notBreaching"  # no traffic is not a failure
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == ("Errors", "Sum", 0)
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Duration", "p99")
    assert render(latency["Threshold"]) == "${PredictP99LatencyMs}"
    assert "PredictP99LatencyMs" in declared["Parameters"]


def test_transform_creates_the_alias_version_and_codedeploy_group(cfn):
    (alias_id, alias), = of_type(cfn, "AWS::Lambda::Alias").items()
    (version_id, _), = of_type(cfn, "AWS::Lambda::Version").items()
    (group_id, group), = of_type(cfn, "AWS::CodeDeploy::DeploymentGroup").items()
    assert alias_id == "PredictFunctionAliaslive"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    # CloudFormation hands the alias update to CodeDeploy (the local cloud moves it at once).
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {"Ref": group_id}
    props = group["Properties"]
    assert render(props["DeploymentConfigName"]) == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert props["AlarmConfiguration"]["Enabled"] is True
    assert [a["Name"] for a in props["AlarmConfiguration"]["Alarms"]] == [
        {"Ref": "PredictAliasErrorsAlarm"}, {"Ref": "PredictAliasLatencyAlarm"}]
    assert "DEPLOYMENT_STOP_ON_ALARM" in props["AutoRollbackConfiguration"]["Events"]


def test_every_http_api_route_invokes_the_alias(cfn):
    (api,) = of_type(cfn, "AWS::ApiGatewayV2::Api").values()
    uris = [operation["x-amazon-apigateway-integration"]["uri"]
            for path in api["Properties"]["Body"]["paths"].values() for operation in path.values()]
    assert len(uris) == 5
    assert {render(u) for u in uris} == {
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${PredictFunctionAliaslive}/invocations"}
    permissions = of_type(cfn, "AWS::Lambda::Permission")
    assert {render(p["Properties"]["FunctionName"]) for lid, p in permissions.items()
            if lid.startswith("PredictFunction")} == {"${PredictFunctionAliaslive}"}


def test_recover_checks_and_recycles_the_alias_the_api_serves(declared):
    resources = declared["Resources"]
    env = resources["RecoverFunction"]["Properties"]["Environment"]["Variables"]
    assert render(env["PREDICT_FUNCTION_NAME"]) == "${PredictFunction}"
    assert env["PREDICT_FUNCTION_ALIAS"] == resources["PredictFunction"]["Properties"]["AutoPublishAlias"]
