"""template.yaml is valid SAM and carries the contract docs/ARCHITECTURE.md describes (logical IDs, parameters, wiring)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.localcloud.deploy import load_template
from infra.localcloud.logretention import RETENTION_DAYS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def test_cfn_lint_reports_no_errors():
    r = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_resource_of_the_design_is_declared():
    resources = load_template(TEMPLATE)["Resources"]
    expected = {
        "DataBucket": "AWS::S3::Bucket", "ModelBucket": "AWS::S3::Bucket", "StateTable": "AWS::DynamoDB::Table",
        "SelfHealingLayer": "AWS::Serverless::LayerVersion", "FixDataFunction": "AWS::Serverless::Function",
        "TrainFunction": "AWS::Serverless::Function", "ValidateFunction": "AWS::Serverless::Function",
        "PromoteFunction": "AWS::Serverless::Function", "DriftFunction": "AWS::Serverless::Function",
        "RecoverFunction": "AWS::Serverless::Function", "PredictFunction": "AWS::Serverless::Function",
        "PredictApi": "AWS::Serverless::HttpApi", "SelfHealingStateMachine": "AWS::Serverless::StateMachine",
    }
    assert {k: resources[k]["Type"] for k in expected} == expected
    assert resources["ModelBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_thresholds_are_parameters_with_the_seed_defaults():
    params = load_template(TEMPLATE)["Parameters"]
    assert float(params["DriftShareThreshold"]["Default"]) == 0.5
    assert float(params["CooldownHours"]["Default"]) == 24
    assert float(params["MinR2"]["Default"]) == 0.70
    assert int(params["MaxRecoveryAttempts"]["Default"]) == 3
    assert float(params["IqrFactor"]["Default"]) == 3.0
    assert "ChallengerMargin" in params


def test_drift_trigger_is_filtered_to_incoming_csv_and_recover_runs_on_a_schedule():
    resources = load_template(TEMPLATE)["Resources"]
    upload = resources["DriftFunction"]["Properties"]["Events"]["Upload"]["Properties"]
    rules = {r["Name"]: r["Value"] for r in upload["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "incoming/", "suffix": ".csv"}
    assert resources["RecoverFunction"]["Properties"]["Events"]["HealthCheck"]["Type"] == "Schedule"


def test_state_machine_catches_domain_errors_by_class_name():
    asl = json.loads((ROOT / "state_machines" / "self_healing.asl.json").read_text())
    states = asl["States"]
    fix_catch = states["FixData"]["Catch"][0]
    assert fix_catch["ErrorEquals"] == ["DataQualityError", "SchemaError"] and fix_catch["Next"] == "Quarantine"
    from selfheal import exceptions

    assert issubclass(exceptions.SchemaError, exceptions.DataQualityError)
    for name in ("FixData", "Train", "Validate", "ChallengerPassed", "Promote", "SmokeTest", "Healthy", "Rollback",
                 "RecordRejection", "Quarantine"):
        assert name in states


def test_every_function_logs_into_a_group_with_the_retention_parameter():
    template = load_template(TEMPLATE)
    resources = template["Resources"]
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    groups = {r["Properties"]["LogGroupName"]["Fn::Sub"]: r["Properties"]
              for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"}
    assert set(groups) == {f"/aws/lambda/${{{name}}}" for name in functions}
    assert all(g["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    parameter = template["Parameters"]["LogRetentionDays"]
    assert int(parameter["Default"]) == 14
    assert tuple(int(v) for v in parameter["AllowedValues"]) == RETENTION_DAYS
