"""CloudWatch Logs log groups and CloudWatch alarms (moto stores alarms; the local cloud evaluates them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    error_code,
    pick,
    tags_to_dict,
    tags_to_list,
)


class LogGroupProvisioner(Provisioner):
    resource_type = "AWS::Logs::LogGroup"
    attributes = frozenset({"Arn"})
    handled_properties = frozenset({"LogGroupName", "RetentionInDays", "Tags", "KmsKeyId", "LogGroupClass"})
    naming = NameRule("LogGroupName", 512)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {"retention": properties.get("RetentionInDays"), "tags": properties.get("Tags")}

    def _provisioned(self, request: ResourceRequest, name: str) -> Provisioned:
        return Provisioned(name, {"Arn": request.arn("logs", f"log-group:{name}:*")})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        name = self.physical_name(request)
        groups = self.clients("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        exists = any(g["logGroupName"] == name for g in groups)
        return self._provisioned(request, name) if exists else None

    def create(self, request: ResourceRequest) -> Provisioned:
        name, props, logs = self.physical_name(request), request.properties, self.clients("logs")
        arguments: dict[str, Any] = {"logGroupName": name}
        if props.get("Tags"):
            arguments["tags"] = tags_to_dict(props["Tags"])
        try:
            logs.create_log_group(**arguments)
        except ClientError as exc:
            # The local runtime creates `/aws/lambda/<function>` when the function first logs, which
            # may happen between `find` and here; the group is then adopted and configured. (On AWS
            # the stack would fail, as Lambda creates the group lazily too.)
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            if props.get("Tags"):
                arn = request.arn("logs", f"log-group:{name}")
                logs.tag_resource(resourceArn=arn, tags=tags_to_dict(props["Tags"]))
        if props.get("RetentionInDays") is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        return self._provisioned(request, name)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        logs, props, name = self.clients("logs"), request.properties, current.physical_id
        if "retention" in changed:
            if props.get("RetentionInDays") is None:
                logs.delete_retention_policy(logGroupName=name)
            else:
                logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
        if "tags" in changed and props.get("Tags"):
            logs.tag_resource(
                resourceArn=current.attributes["Arn"].removesuffix(":*"), tags=tags_to_dict(props["Tags"])
            )
        return current


# Alarm properties map 1:1 onto PutMetricAlarm parameters.
_ALARM_PARAMETERS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)
_ALARM_NUMBERS = {"Period": int, "EvaluationPeriods": int, "DatapointsToAlarm": int, "Threshold": float}


class AlarmProvisioner(Provisioner):
    """Stored through PutMetricAlarm; moto keeps the alarm, ``infra/localcloud/alarms.py`` evaluates it."""

    resource_type = "AWS::CloudWatch::Alarm"
    attributes = frozenset({"Arn"})
    handled_properties = frozenset({"AlarmName", "Tags", *_ALARM_PARAMETERS})
    naming = NameRule("AlarmName", 255)

    def find(self, request: ResourceRequest) -> Provisioned | None:
        name = self.physical_name(request)
        alarms = self.clients("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        return Provisioned(name, {"Arn": alarms[0]["AlarmArn"]}) if alarms else None

    def create(self, request: ResourceRequest) -> Provisioned:
        name = self.physical_name(request)
        arguments = pick(request.properties, _ALARM_PARAMETERS)
        for key, convert in _ALARM_NUMBERS.items():
            if key in arguments:
                arguments[key] = convert(arguments[key])
        if request.properties.get("Tags"):
            arguments["Tags"] = tags_to_list(request.properties["Tags"])
        self.clients("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
        return Provisioned(name, {"Arn": request.arn("cloudwatch", f"alarm:{name}")})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        return self.create(request)  # PutMetricAlarm overwrites an alarm of the same name
