"""EC2 instance state changes reach an EventBridge rule's target (the EventBridge app of sam init reacts to them)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, start_cloud, stop_cloud

pytestmark = pytest.mark.integration

TEMPLATE = ROOT / "tests" / "fixtures" / "ec2_events_app" / "template.yaml"


def test_run_and_terminate_instances_emit_state_change_events(tmp_path: Path) -> None:
    cloud = start_cloud(tmp_path, TEMPLATE, stack_name="ec2events")
    try:
        ec2, sqs = cloud.client("ec2"), cloud.client("sqs")
        instance = ec2.run_instances(ImageId="resolve:ssm:/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2",
                                     InstanceType="t2.nano", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.terminate_instances(InstanceIds=[instance])
        states: list[str] = []
        deadline = time.time() + 20
        while len(states) < 4 and time.time() < deadline:
            for message in sqs.receive_message(QueueUrl=cloud.output("InboxUrl"), MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1).get("Messages", []):
                event = json.loads(message["Body"])
                assert (event["source"], event["detail-type"]) == ("aws.ec2", "EC2 Instance State-change Notification")
                assert event["resources"] == [f"arn:aws:ec2:us-east-1:123456789012:instance/{instance}"]
                assert event["detail"]["instance-id"] == instance
                states.append(event["detail"]["state"])
        assert sorted(states) == sorted(["pending", "running", "shutting-down", "terminated"])
    finally:
        stop_cloud(cloud)
