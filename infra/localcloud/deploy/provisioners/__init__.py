"""Provisioners, one per CloudFormation resource type, looked up in `PROVISIONERS`."""

from __future__ import annotations

from .apigateway import DeploymentProvisioner, RestApiProvisioner, RestStageProvisioner
from .apigatewayv2 import ApiProvisioner, IntegrationProvisioner, RouteProvisioner, StageProvisioner
from .awslambda import (
    AliasProvisioner,
    EventInvokeConfigProvisioner,
    EventSourceMappingProvisioner,
    FunctionProvisioner,
    LayerVersionProvisioner,
    PermissionProvisioner,
    VersionProvisioner,
)
from .base import Previous, Provisioned, Provisioner, ResourceRequest
from .codedeploy import ApplicationProvisioner, DeploymentGroupProvisioner
from .dynamodb import TableProvisioner
from .events import RuleProvisioner, ScheduleProvisioner
from .iam import ManagedPolicyProvisioner, PolicyProvisioner, RoleProvisioner
from .messaging import (
    QueuePolicyProvisioner,
    QueueProvisioner,
    SubscriptionProvisioner,
    TopicPolicyProvisioner,
    TopicProvisioner,
)
from .monitoring import AlarmProvisioner, LogGroupProvisioner
from .s3 import BucketPolicyProvisioner, BucketProvisioner
from .stepfunctions import StateMachineProvisioner

PROVISIONERS: dict[str, type[Provisioner]] = {
    provisioner.resource_type: provisioner
    for provisioner in (
        RoleProvisioner,
        PolicyProvisioner,
        ManagedPolicyProvisioner,
        FunctionProvisioner,
        LayerVersionProvisioner,
        PermissionProvisioner,
        EventInvokeConfigProvisioner,
        VersionProvisioner,
        AliasProvisioner,
        ApplicationProvisioner,
        DeploymentGroupProvisioner,
        EventSourceMappingProvisioner,
        BucketProvisioner,
        BucketPolicyProvisioner,
        TableProvisioner,
        QueueProvisioner,
        QueuePolicyProvisioner,
        TopicProvisioner,
        TopicPolicyProvisioner,
        SubscriptionProvisioner,
        LogGroupProvisioner,
        AlarmProvisioner,
        StateMachineProvisioner,
        RuleProvisioner,
        ScheduleProvisioner,
        ApiProvisioner,
        StageProvisioner,
        IntegrationProvisioner,
        RouteProvisioner,
        RestApiProvisioner,
        DeploymentProvisioner,
        RestStageProvisioner,
    )
}

__all__ = ["PROVISIONERS", "Previous", "Provisioned", "Provisioner", "ResourceRequest"]
