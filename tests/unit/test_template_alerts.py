"""template.yaml wires alerts and retention as README's "Alerts" and "Retention" sections say (no IO but the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.deploy import load_template
from infra.localcloud.deploy.intrinsics import IntrinsicResolver
from infra.localcloud.deploy.parameters import resolve_parameters

ROOT = Path(__file__).resolve().parents[2]
TOPIC = {"Ref": "AlertTopic"}
ALERTING = ("FixDataFunction", "ValidateFunction", "PromoteFunction", "DriftFunction", "RecoverFunction")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def resolver(template: dict[str, Any], **overrides: str) -> IntrinsicResolver:
    """What the deployer evaluates conditions and parameters with, for these parameter overrides."""
    return IntrinsicResolver(parameters=resolve_parameters(template["Parameters"], overrides), pseudo={},
                             mappings={}, conditions=template["Conditions"],
                             declared={k: r["Type"] for k, r in template["Resources"].items()},
                             resources={}, exports={}, region="us-east-1")


def test_subscriptions_exist_only_for_the_addresses_given(template):
    resources = template["Resources"]
    assert resources["AlertTopic"]["Type"] == "AWS::SNS::Topic"
    email, hook = resources["AlertEmailSubscription"], resources["AlertWebhookSubscription"]
    assert email["Properties"] == {"TopicArn": TOPIC, "Protocol": "email", "Endpoint": {"Ref": "AlertEmail"}}
    assert hook["Properties"]["RawMessageDelivery"] is True  # the body is our JSON (Slack reads its `text`)
    default = resolver(template)
    assert not default.condition(email["Condition"]) and not default.condition(hook["Condition"])
    given = resolver(template, AlertEmail="ops@example.com", AlertWebhookUrl="https://hooks.example.com/T0/B0")
    assert given.condition(email["Condition"]) and given.condition(hook["Condition"])
    assert given.resolve(hook["Properties"]["Protocol"]) == "https"
    plain = resolver(template, AlertWebhookUrl="http://127.0.0.1:9000/hook")
    assert plain.resolve(hook["Properties"]["Protocol"]) == "http"


@pytest.mark.parametrize(("name", "default", "minimum"), [("ReferenceMaxRows", 50000, 1), ("RetentionDays", 30, 1)])
def test_retention_parameters(template, name, default, minimum):
    parameter = template["Parameters"][name]
    assert (int(parameter["Default"]), int(parameter["MinValue"])) == (default, minimum)


def test_only_the_alerting_functions_get_the_topic_and_the_console_url(template):
    functions = {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    with_topic = {k for k, p in functions.items() if "ALERT_TOPIC_ARN" in p.get("Environment", {}).get("Variables", {})}
    assert set(ALERTING) <= with_topic and not {"TrainFunction", "PredictFunction"} & with_topic
    for name in with_topic:
        variables = functions[name]["Environment"]["Variables"]
        assert variables["ALERT_TOPIC_ARN"] == TOPIC and variables["CONSOLE_URL"] == {"Ref": "ConsoleUrl"}
    for name in ("PromoteFunction", "RecoverFunction"):  # both roll back, so both restore references
        assert functions[name]["Environment"]["Variables"]["REFERENCE_MAX_ROWS"] == {"Ref": "ReferenceMaxRows"}


def test_failed_executions_and_canary_alarms_reach_promote_function(template):
    resources = template["Resources"]
    events = resources["PromoteFunction"]["Properties"]["Events"]
    pattern = events["ExecutionFailed"]["Properties"]["Pattern"]
    assert pattern == {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                       "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                                  "stateMachineArn": [{"Ref": "SelfHealingStateMachine"}]}}
    alarms = events["CanaryAlarms"]["Properties"]
    assert alarms == {"Topic": TOPIC, "FilterPolicy": {"action": [{"exists": False}]}}
    for name in ("PredictAliasErrorsAlarm", "PredictAliasLatencyAlarm"):
        properties = resources[name]["Properties"]
        assert properties["AlarmActions"] == [TOPIC] and properties["OKActions"] == [TOPIC]


def test_evidence_expires_and_model_versions_never_do(template):
    resources = template["Resources"]
    retention = {"Ref": "RetentionDays"}
    data = resources["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r.get("Prefix") for r in data if r.get("ExpirationInDays") == retention}
    assert expiring == {"capture/", "reports/", "quarantine/"}
    models = resources["ModelBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in models)
    for rules in (data, models):
        (noncurrent,) = [r for r in rules if "NoncurrentVersionExpirationInDays" in r]
        assert noncurrent["NoncurrentVersionExpirationInDays"] == retention and "Prefix" not in noncurrent
        assert all(r["Status"] == "Enabled" for r in rules)
