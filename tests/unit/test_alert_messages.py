"""The alert message format and the CloudWatch alarm notification read as an alert (no IO)."""

from __future__ import annotations

import json

import pytest

from selfheal.alerts import Alert, AlertKind, alarm_alert, read_notification, subject


def test_an_sns_subject_is_printable_ascii_and_at_most_100_characters():
    assert subject("challenger v0002 rejected: R² 0.61") == "challenger v0002 rejected: R? 0.61"
    assert subject("line one\nline two") == "line one?line two"
    assert len(subject("x" * 300)) == 100
    assert subject("   ") == "selfheal alert"


def test_the_message_carries_slacks_text_field_and_the_versions():
    alert = Alert(kind=AlertKind.ROLLBACK, summary="production rolled back v0003 -> v0002", reason="smoke test failed",
                  at="2026-12-03T09:15:02.000000Z", versions={"from": "v0003", "to": "v0002"})
    message = alert.message()
    assert message["action"] == "rollback"
    assert message["text"] == "[selfheal] production rolled back v0003 -> v0002: smoke test failed"
    assert read_notification(json.dumps(message)) == message


ALARM = {"AlarmName": "PredictAliasLatencyAlarm", "NewStateValue": "OK", "OldStateValue": "ALARM",
         "NewStateReason": "Threshold Crossed: no datapoints were received", "StateChangeTime": "2026-12-03T09:15:02.120+0000",
         "Trigger": {"MetricName": "Duration", "Namespace": "AWS/Lambda",
                     "Dimensions": [{"name": "Resource", "value": "fn:live"}]}}


def test_a_cloudwatch_alarm_notification_reads_as_a_canary_alarm():
    alert = alarm_alert(ALARM, console_url="http://console/")
    assert alert is not None and alert.kind is AlertKind.CANARY_ALARM
    assert alert.summary == "alarm PredictAliasLatencyAlarm ALARM -> OK"
    assert alert.at == "2026-12-03T09:15:02.120000Z"  # as our alerts write it, so both sort together
    assert alert.versions == {"serving": "fn:live"} and alert.console_url == "http://console/#/alerts"
    assert alert.details["metric"] == "Duration" and alert.details["state"] == "OK"
    assert alarm_alert(ALARM).alert_id == alert.alert_id  # the same notification twice is one alert
    assert read_notification(json.dumps(ALARM))["action"] == "canary_alarm"


@pytest.mark.parametrize("text", ["not json", "[1, 2]", json.dumps({"action": "made_up", "summary": "x"}),
                                  json.dumps({"AlarmName": "no state"})])
def test_anything_else_on_the_topic_is_not_an_alert(text):
    assert read_notification(text) is None


def test_an_alarm_that_only_moves_between_ok_and_insufficient_data_is_not_an_alert():
    # A new alarm goes INSUFFICIENT_DATA -> OK once it has data: at every stack creation (and at
    # every local `make up`); that says nothing about the canary.
    quiet = {**ALARM, "OldStateValue": "INSUFFICIENT_DATA", "NewStateValue": "OK"}
    assert alarm_alert(quiet) is None and read_notification(json.dumps(quiet)) is None
    firing = {**ALARM, "OldStateValue": "INSUFFICIENT_DATA", "NewStateValue": "ALARM"}
    assert alarm_alert(firing).summary.endswith("INSUFFICIENT_DATA -> ALARM")
