"""EC2 instance state-change events from the EC2 API's answers."""

from __future__ import annotations

from typing import Any

from infra.localcloud.messaging.ec2events import Ec2StateEvents, state_changes

NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
RUN = (f"<RunInstancesResponse {NS}><instancesSet><item><instanceId>i-1</instanceId>"
       "<instanceState><code>16</code><name>running</name></instanceState>"
       "<networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId></item></networkInterfaceSet>"
       "</item></instancesSet></RunInstancesResponse>").encode()


def _changed(action: str, previous: str, current: str) -> bytes:
    return (f"<{action}Response {NS}><instancesSet><item><instanceId>i-1</instanceId>"
            f"<currentState><name>{current}</name></currentState><previousState><name>{previous}</name></previousState>"
            f"</item></instancesSet></{action}Response>").encode()


def test_each_action_passes_through_aws_states_in_order() -> None:
    assert state_changes("RunInstances", RUN) == [("i-1", "pending"), ("i-1", "running")]
    assert state_changes("TerminateInstances", _changed("TerminateInstances", "running", "terminated")) == [
        ("i-1", "shutting-down"), ("i-1", "terminated")]
    assert state_changes("StopInstances", _changed("StopInstances", "running", "stopped")) == [
        ("i-1", "stopping"), ("i-1", "stopped")]
    assert state_changes("StartInstances", _changed("StartInstances", "stopped", "running")) == [
        ("i-1", "pending"), ("i-1", "running")]


def test_no_change_no_event_and_other_actions_are_ignored() -> None:
    assert state_changes("StopInstances", _changed("StopInstances", "stopped", "stopped")) == []
    assert state_changes("DescribeInstances", RUN) == []
    assert state_changes("RunInstances", b"not xml") == []


def test_events_have_aws_shape() -> None:
    emitted: list[tuple[Any, ...]] = []
    Ec2StateEvents(lambda *event: emitted.append(event), account_id="123456789012").observe(
        "RunInstances", {}, "eu-west-1", RUN)
    assert emitted[1] == ("aws.ec2", "EC2 Instance State-change Notification",
                          {"instance-id": "i-1", "state": "running"},
                          ["arn:aws:ec2:eu-west-1:123456789012:instance/i-1"])
