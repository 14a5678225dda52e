"""SQS queues and SNS topics, subscriptions and their policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from typing import Any

from ..naming import physical_name
from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_json_text,
    pick,
    tags_to_dict,
    tags_to_list,
    unless_not_found,
)

# Every queue property except its name and tags is a queue attribute of the same name.
_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)
_CREATE_ONLY_QUEUE_ATTRIBUTES = frozenset({"FifoQueue"})


def _attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


class QueueProvisioner(Provisioner):
    resource_type = "AWS::SQS::Queue"
    attributes = frozenset({"Arn", "QueueName", "QueueUrl"})
    handled_properties = frozenset({"QueueName", "Tags", *_QUEUE_ATTRIBUTES})
    naming = NameRule("QueueName", 80)

    def physical_name(self, request: ResourceRequest) -> str:
        props = request.properties
        if props.get("QueueName"):
            return str(props["QueueName"])
        # FIFO queue names must end in .fifo; CloudFormation adds it to generated names.
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        return physical_name(
            request.stack_name, request.logical_id, max_length=80, suffix=".fifo" if fifo else ""
        )

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {"attributes": pick(properties, _QUEUE_ATTRIBUTES), "tags": properties.get("Tags")}

    def _provisioned(self, url: str) -> Provisioned:
        arn = self.clients("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]
        return Provisioned(
            url, {"Arn": arn["QueueArn"], "QueueUrl": url, "QueueName": url.rsplit("/", 1)[-1]}
        )

    def find(self, request: ResourceRequest) -> Provisioned | None:
        url = unless_not_found(
            lambda: self.clients("sqs").get_queue_url(QueueName=self.physical_name(request))["QueueUrl"],
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        )
        if url is None:
            return None
        return self._provisioned(url)

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arguments: dict[str, Any] = {
            "QueueName": self.physical_name(request),
            "Attributes": {k: _attribute_text(v) for k, v in pick(props, _QUEUE_ATTRIBUTES).items()},
        }
        if props.get("Tags"):
            arguments["tags"] = tags_to_dict(props["Tags"])
        url = self.clients("sqs").create_queue(**arguments)["QueueUrl"]
        return self._provisioned(url)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        sqs, props = self.clients("sqs"), request.properties
        if "attributes" in changed:
            attributes = {
                k: _attribute_text(v)
                for k, v in pick(props, _QUEUE_ATTRIBUTES).items()
                if k not in _CREATE_ONLY_QUEUE_ATTRIBUTES
            }
            if attributes:
                sqs.set_queue_attributes(QueueUrl=current.physical_id, Attributes=attributes)
        if "tags" in changed and props.get("Tags"):
            sqs.tag_queue(QueueUrl=current.physical_id, Tags=tags_to_dict(props["Tags"]))
        return current


class QueuePolicyProvisioner(Provisioner):
    """Sets the `Policy` attribute of each listed queue (stored by moto, not enforced)."""

    resource_type = "AWS::SQS::QueuePolicy"
    handled_properties = frozenset({"Queues", "PolicyDocument"})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        sqs = self.clients("sqs")
        for url in request.properties.get("Queues", []):
            found = unless_not_found(
                partial(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Policy"]),
                "AWS.SimpleQueueService.NonExistentQueue",
            )
            if found is None or "Policy" not in found.get("Attributes", {}):
                return None
        return Provisioned(self.physical_name(request))

    def create(self, request: ResourceRequest) -> Provisioned:
        policy = as_json_text(request.properties["PolicyDocument"])
        for url in request.properties.get("Queues", []):
            self.clients("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        return Provisioned(self.physical_name(request))


_TOPIC_ATTRIBUTES = (
    "DisplayName",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
)


class TopicProvisioner(Provisioner):
    resource_type = "AWS::SNS::Topic"
    attributes = frozenset({"TopicArn", "TopicName"})
    handled_properties = frozenset({"TopicName", "Subscription", "Tags", *_TOPIC_ATTRIBUTES})
    naming = NameRule("TopicName", 256)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "attributes": pick(properties, _TOPIC_ATTRIBUTES),
            "subscriptions": properties.get("Subscription", []),
            "tags": properties.get("Tags"),
        }

    def _arn(self, request: ResourceRequest) -> str:
        return request.arn("sns", self.physical_name(request))

    def find(self, request: ResourceRequest) -> Provisioned | None:
        arn = self._arn(request)
        if unless_not_found(lambda: self.clients("sns").get_topic_attributes(TopicArn=arn)) is None:
            return None
        return Provisioned(arn, {"TopicArn": arn, "TopicName": self.physical_name(request)})

    def create(self, request: ResourceRequest) -> Provisioned:
        props, sns = request.properties, self.clients("sns")
        arguments: dict[str, Any] = {
            "Name": self.physical_name(request),
            "Attributes": {k: _attribute_text(v) for k, v in pick(props, _TOPIC_ATTRIBUTES).items()},
        }
        if props.get("Tags"):
            arguments["Tags"] = tags_to_list(props["Tags"])
        arn = sns.create_topic(**arguments)["TopicArn"]
        self._subscribe(arn, props.get("Subscription", []))
        return Provisioned(arn, {"TopicArn": arn, "TopicName": arguments["Name"]})

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        props, sns = request.properties, self.clients("sns")
        if "attributes" in changed:
            for name, value in pick(props, _TOPIC_ATTRIBUTES).items():
                if name != "FifoTopic":  # fixed at creation
                    sns.set_topic_attributes(
                        TopicArn=current.physical_id,
                        AttributeName=name,
                        AttributeValue=_attribute_text(value),
                    )
        if "subscriptions" in changed:
            self._subscribe(current.physical_id, props.get("Subscription", []))
        if "tags" in changed and props.get("Tags"):
            sns.tag_resource(ResourceArn=current.physical_id, Tags=tags_to_list(props["Tags"]))
        return current

    def _subscribe(self, arn: str, subscriptions: list[Mapping[str, Any]]) -> None:
        # Subscribing the same endpoint again returns the existing subscription, as on AWS.
        for subscription in subscriptions:
            self.clients("sns").subscribe(
                TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"]
            )


_SUBSCRIPTION_ATTRIBUTES = (
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
)


class SubscriptionProvisioner(Provisioner):
    resource_type = "AWS::SNS::Subscription"
    finds_by_recorded_id = True
    handled_properties = frozenset({"TopicArn", "Protocol", "Endpoint", "Region", *_SUBSCRIPTION_ATTRIBUTES})

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "target": pick(properties, ("TopicArn", "Protocol", "Endpoint")),
            "attributes": pick(properties, _SUBSCRIPTION_ATTRIBUTES),
        }

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if request.previous is None:
            return None
        arn = request.previous.physical_id
        if (
            unless_not_found(lambda: self.clients("sns").get_subscription_attributes(SubscriptionArn=arn))
            is None
        ):
            return None
        return Provisioned(request.previous.physical_id)

    def create(self, request: ResourceRequest) -> Provisioned:
        props = request.properties
        arn = self.clients("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes={k: _attribute_text(v) for k, v in pick(props, _SUBSCRIPTION_ATTRIBUTES).items()},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Provisioned(arn)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        sns = self.clients("sns")
        if "target" in changed:
            sns.unsubscribe(SubscriptionArn=current.physical_id)
            return self.create(request)
        for name, value in pick(request.properties, _SUBSCRIPTION_ATTRIBUTES).items():
            sns.set_subscription_attributes(
                SubscriptionArn=current.physical_id, AttributeName=name, AttributeValue=_attribute_text(value)
            )
        return current


class TopicPolicyProvisioner(Provisioner):
    """Sets the `Policy` attribute of each listed topic (stored by moto, not enforced)."""

    resource_type = "AWS::SNS::TopicPolicy"
    handled_properties = frozenset({"Topics", "PolicyDocument"})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        for arn in request.properties.get("Topics", []):
            found = unless_not_found(partial(self.clients("sns").get_topic_attributes, TopicArn=arn))
            if found is None or "Policy" not in found["Attributes"]:
                return None
        return Provisioned(self.physical_name(request))

    def create(self, request: ResourceRequest) -> Provisioned:
        policy = as_json_text(request.properties["PolicyDocument"])
        for arn in request.properties.get("Topics", []):
            self.clients("sns").set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=policy
            )
        return Provisioned(self.physical_name(request))
