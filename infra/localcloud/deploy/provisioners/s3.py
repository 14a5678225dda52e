"""S3 buckets (with versioning, notifications, tags, CORS, lifecycle) and bucket policies."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .base import (
    NameRule,
    Provisioned,
    Provisioner,
    ResourceRequest,
    as_json_text,
    tags_to_list,
    unless_not_found,
)

LOG = logging.getLogger("localcloud.deploy")

# CloudFormation notification shapes -> S3 API shapes: (CFN list, API list, CFN target key, API target key).
_NOTIFICATION_KINDS = (
    ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
    ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
)


def notification_configuration(cfn: Mapping[str, Any] | None) -> dict[str, Any]:
    """`NotificationConfiguration` as `put_bucket_notification_configuration` takes it.

    CloudFormation writes `{Event, Function, Filter: {S3Key: {Rules}}}`; the API wants
    `{Events: [...], LambdaFunctionArn, Filter: {Key: {FilterRules}}}`.
    """
    cfn = cfn or {}
    api: dict[str, Any] = {}
    for cfn_list, api_list, cfn_target, api_target in _NOTIFICATION_KINDS:
        entries = []
        for entry in cfn.get(cfn_list, []):
            converted: dict[str, Any] = {api_target: entry[cfn_target], "Events": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                converted["Filter"] = {
                    "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
                }
            entries.append(converted)
        if entries:
            api[api_list] = entries
    if "EventBridgeConfiguration" in cfn:
        api["EventBridgeConfiguration"] = {}
    return api


class BucketProvisioner(Provisioner):
    resource_type = "AWS::S3::Bucket"
    attributes = frozenset({"Arn", "DomainName", "RegionalDomainName", "DualStackDomainName", "WebsiteURL"})
    handled_properties = frozenset(
        {
            "BucketName",
            "VersioningConfiguration",
            "NotificationConfiguration",
            "Tags",
            "CorsConfiguration",
            "LifecycleConfiguration",
            "PublicAccessBlockConfiguration",
            "BucketEncryption",
        }
    )
    # Bucket names: 3-63 characters, lowercase letters, digits, dots and hyphens.
    naming = NameRule("BucketName", 63, lowercase=True)

    def fingerprint(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        return {name: properties.get(name) for name in self._APPLY}

    def _provisioned(self, request: ResourceRequest, name: str) -> Provisioned:
        region = request.region
        return Provisioned(
            name,
            {
                "Arn": f"arn:{request.partition}:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            },
        )

    def find(self, request: ResourceRequest) -> Provisioned | None:
        name = self.physical_name(request)
        if unless_not_found(lambda: self.clients("s3").head_bucket(Bucket=name), "NoSuchBucket") is None:
            return None
        return self._provisioned(request, name)

    def create(self, request: ResourceRequest) -> Provisioned:
        name = self.physical_name(request)
        arguments: dict[str, Any] = {"Bucket": name}
        if request.region != "us-east-1":  # S3 rejects an explicit us-east-1 LocationConstraint
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": request.region}
        self.clients("s3").create_bucket(**arguments)
        for prop, apply in self._APPLY.items():
            if request.properties.get(prop) is not None:
                apply(self, name, request.properties[prop])
        return self._provisioned(request, name)

    def update(self, request: ResourceRequest, current: Provisioned, changed: frozenset[str]) -> Provisioned:
        for prop in sorted(changed):
            self._APPLY[prop](self, current.physical_id, request.properties.get(prop))
        return current

    # ---- one setter per property; None means the property was removed from the template ----------
    def _versioning(self, bucket: str, value: Any) -> None:
        # A versioned bucket can only be suspended, never made unversioned again.
        status = (value or {}).get("Status", "Suspended")
        self.clients("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})

    def _notifications(self, bucket: str, value: Any) -> None:
        self.clients("s3").put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=notification_configuration(value)
        )

    def _tags(self, bucket: str, value: Any) -> None:
        s3 = self.clients("s3")
        if value:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags_to_list(value)})
        else:
            s3.delete_bucket_tagging(Bucket=bucket)

    def _cors(self, bucket: str, value: Any) -> None:
        s3 = self.clients("s3")
        if value:
            rules = [
                {("ID" if k == "Id" else k): v for k, v in rule.items() if k != "MaxAge"}
                | ({"MaxAgeSeconds": int(rule["MaxAge"])} if "MaxAge" in rule else {})
                for rule in value.get("CorsRules", [])
            ]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
        else:
            s3.delete_bucket_cors(Bucket=bucket)

    def _lifecycle(self, bucket: str, value: Any) -> None:
        s3 = self.clients("s3")
        if not value:
            s3.delete_bucket_lifecycle(Bucket=bucket)
            return
        rules = []
        for rule in value.get("Rules", []):
            converted: dict[str, Any] = {
                "Status": rule.get("Status", "Enabled"),
                "ID": rule.get("Id", "rule"),
            }
            converted["Filter"] = {"Prefix": rule.get("Prefix", "")}
            if "ExpirationInDays" in rule:
                converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
            if "NoncurrentVersionExpirationInDays" in rule:
                converted["NoncurrentVersionExpiration"] = {
                    "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
                }
            rules.append(converted)
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def _public_access(self, bucket: str, value: Any) -> None:
        s3 = self.clients("s3")
        if value:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=value)
        else:
            s3.delete_public_access_block(Bucket=bucket)

    def _encryption(self, bucket: str, value: Any) -> None:
        s3 = self.clients("s3")
        if value:
            rules = value.get("ServerSideEncryptionConfiguration", [])
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        else:
            s3.delete_bucket_encryption(Bucket=bucket)

    _APPLY: dict[str, Callable[[BucketProvisioner, str, Any], None]] = {
        "VersioningConfiguration": _versioning,
        "NotificationConfiguration": _notifications,
        "Tags": _tags,
        "CorsConfiguration": _cors,
        "LifecycleConfiguration": _lifecycle,
        "PublicAccessBlockConfiguration": _public_access,
        "BucketEncryption": _encryption,
    }


class BucketPolicyProvisioner(Provisioner):
    """Stored with `put_bucket_policy`; moto keeps it but does not enforce it."""

    resource_type = "AWS::S3::BucketPolicy"
    handled_properties = frozenset({"Bucket", "PolicyDocument"})

    def find(self, request: ResourceRequest) -> Provisioned | None:
        if (
            unless_not_found(
                lambda: self.clients("s3").get_bucket_policy(Bucket=request.properties["Bucket"]),
                "NoSuchBucketPolicy",
                "NoSuchBucket",
            )
            is None
        ):
            return None
        return Provisioned(self.physical_name(request))

    def create(self, request: ResourceRequest) -> Provisioned:
        self.clients("s3").put_bucket_policy(
            Bucket=request.properties["Bucket"], Policy=as_json_text(request.properties["PolicyDocument"])
        )
        LOG.debug(
            "bucket policy on %s is stored, not enforced, by the local cloud", request.properties["Bucket"]
        )
        return Provisioned(self.physical_name(request))
