"""Least privilege (issue 6): every function and the state machine get only the access they use.

The local cloud does not enforce IAM, so this test is the guard. It reads template.yaml, runs the
SAM transform offline (what AWS and the local deployer run) and inspects the generated roles:

* no SAM policy template (``S3CrudPolicy``...) is left: those grant whole buckets, tables and
  ``function:<name>*``; if one comes back, its expansion fails the wildcard check below;
* no wildcard action (``*``, ``s3:*``, ``s3:Get*``) and no wildcard resource (``*``, a bucket-wide
  ``bucket/*``, any ``*`` in a table, function or state machine ARN), unless justified;
* each role grants exactly the access map below, written from the flows in
  ``selfheal/flows`` and the modules they use (storage, registry, audit, locks, pending).

**Justifying a wildcard.** Give the statement a ``Sid`` that starts with ``Justified`` and put a
``# wildcard-ok: <reason>`` comment on the Sid's line, e.g.::

    - Sid: JustifiedPutMetricData  # wildcard-ok: PutMetricData has no resource-level permissions

The Sid survives the transform (so the generated role can be matched) and the comment keeps the
reason next to the grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from tests.unit.sam_support import (
    Located,
    Source,
    as_list,
    execution_roles,
    owners,
    read_source,
    render,
    role_statements,
    template_source,
    translate,
)

JUSTIFIED_SID = "Justified"
_WILDCARD_OK = re.compile(r"#\s*wildcard-ok:\s*(?P<reason>\S.{9,})")

# AWS-managed policies a role may carry, and why. SAM attaches the basic execution role to every
# function role it creates; it lets the function write its own CloudWatch Logs (logs:* on "*",
# maintained by AWS). Nothing else may be attached.
ALLOWED_MANAGED = {
    "AWSLambdaBasicExecutionRole": "SAM's default for every function: write the function's logs",
}


# ---- the checks, usable on any template --------------------------------------------------------


def justified_sids(source: Source) -> set[str]:
    """Sids that start with ``Justified`` and carry ``# wildcard-ok: <reason>`` on their line."""
    found: set[str] = set()
    for _, props in owners(source.document):
        for entry in as_list(props.get("Policies") or []):
            if not isinstance(entry, dict) or "Statement" not in entry:
                continue
            for statement in as_list(entry["Statement"]):
                sid = statement.get("Sid")
                if (isinstance(sid, Located) and sid.startswith(JUSTIFIED_SID)
                        and _WILDCARD_OK.search(source.lines[sid.line])):
                    found.add(str(sid))
    return found


_ARN_REFERENCE = re.compile(r"^\$\{[A-Za-z0-9]+\.Arn\}/")  # "${Bucket.Arn}/incoming/*"


def _s3_wildcard(resource: str) -> str | None:
    """S3 object ARNs may end in ``*`` after a key prefix; the bucket part may not hold one."""
    if _ARN_REFERENCE.match(resource):
        bucket, _, key = resource.partition("/")
    else:
        bucket, _, key = resource.split(":::", 1)[1].partition("/")
    if "*" in bucket:
        return f"wildcard bucket in {resource}"
    if key.startswith("*"):
        return f"bucket-wide {resource} (scope it to a key prefix)"
    return None


def wildcard_problems(statement: Mapping[str, Any], justified: Iterable[str] = ()) -> list[str]:
    """What is too broad in one rendered statement; empty when it is scoped (or justified)."""
    if statement.get("Effect") != "Allow":
        return []  # a broad Deny only takes access away
    problems: list[str] = []
    for key in ("NotAction", "NotResource"):
        if key in statement:
            problems.append(f"{key} grants everything it does not name")
    for action in as_list(statement.get("Action", [])):
        if "*" in str(action):
            problems.append(f"wildcard action {action}")
    for resource in as_list(statement.get("Resource", [])):
        text = str(resource)
        if text == "*":
            problems.append("wildcard resource *")
        elif ":s3:::" in text or _ARN_REFERENCE.match(text):
            problem = _s3_wildcard(text)
            if problem:
                problems.append(problem)
        elif "*" in text:
            problems.append(f"wildcard resource {text}")
    if problems and str(statement.get("Sid", "")).startswith(JUSTIFIED_SID) and statement.get("Sid") in justified:
        return []
    return problems


def policy_template_entries(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Owner -> the ``Policies`` entries that are not inline statements (SAM templates, managed names)."""
    found: dict[str, list[str]] = {}
    for owner, props in owners(document):
        for entry in as_list(props.get("Policies") or []):
            if isinstance(entry, dict) and set(entry) <= {"Version", "Statement"} and "Statement" in entry:
                continue
            found.setdefault(owner, []).append(str(next(iter(entry))) if isinstance(entry, dict) else str(entry))
    return found


def managed_policy_names(role: Mapping[str, Any]) -> list[str]:
    return [str(render(arn)).rsplit("/", 1)[-1] for arn in role.get("ManagedPolicyArns") or []]


Grant = tuple[str, str, tuple[str, ...] | None]  # action, resource, DynamoDB leading keys (None: any)


def grants(statements: Iterable[Mapping[str, Any]]) -> set[Grant]:
    """Every (action, resource, leading keys) an Allow statement list grants."""
    out: set[Grant] = set()
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        conditions = statement.get("Condition") or {}
        leading = (conditions.get("ForAllValues:StringEquals") or {}).get("dynamodb:LeadingKeys")
        keys = tuple(sorted(str(k) for k in as_list(leading))) if leading is not None else None
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                out.add((str(action), str(resource), keys))
    return out


# ---- the expected access map -------------------------------------------------------------------

DATA = "arn:${AWS::Partition}:s3:::${AWS::StackName}-data-${AWS::AccountId}-${AWS::Region}"
MODELS = "arn:${AWS::Partition}:s3:::${ModelBucket}"
MODEL = MODELS + "/models/${ModelName}"  # the registry's prefix: versions, aliases/, status/
HOLDOUTS = MODELS + "/holdouts/${ModelName}/*"
TABLE = "${StateTable.Arn}"
PREDICT = "${PredictFunction.Arn}"
AUDIT = ("AUDIT",)
LOCK = ("LOCK#retraining",)


def _g(action: str, resources: Iterable[str], keys: tuple[str, ...] | None = None) -> set[Grant]:
    return {(action, r, tuple(sorted(keys)) if keys is not None else None) for r in resources}


# selfheal/alerts.py: the functions that alert publish to the alert topic, and to nothing else.
ALERTS = _g("sns:Publish", ["${AlertTopic}"])


EXPECTED: dict[str, set[Grant]] = {
    # fix_batches / quarantine_after_failure: raw batches (drift uploads, bootstrap data, the
    # monitor's labelled traffic), the reference, quarantine copies (existence check); curated/ and
    # quarantine/ writes.
    "FixDataFunction": (
        _g("s3:GetObject", [f"{DATA}/incoming/*", f"{DATA}/bootstrap/*", f"{DATA}/reference/*", f"{DATA}/quarantine/*",
                            f"{DATA}/curated/monitor/*"])
        | _g("s3:PutObject", [f"{DATA}/curated/*", f"{DATA}/quarantine/*"])
        | _g("s3:ListBucket", [DATA])
        | _g("dynamodb:PutItem", [TABLE], AUDIT)
        | _g("dynamodb:DeleteItem", [TABLE], ("PENDING",))
        | ALERTS
    ),
    # train_version: curated training set in; a new version (model.onnx, metrics, manifest) and its
    # holdout out; the production alias read for the parent version.
    "TrainFunction": (
        _g("s3:GetObject", [f"{DATA}/curated/*", f"{MODEL}/*"])
        | _g("s3:PutObject", [f"{MODEL}/v*", HOLDOUTS])
        | _g("s3:ListBucket", [MODELS])
        | _g("dynamodb:PutItem", [TABLE], AUDIT)
    ),
    # validate_version: read-only.
    "ValidateFunction": (
        _g("s3:GetObject", [f"{MODEL}/*", HOLDOUTS])
        | _g("s3:ListBucket", [MODELS])
        | _g("dynamodb:PutItem", [TABLE], AUDIT)
        | ALERTS
    ),
    # promote / reject / rollback / finish; the reference (publish, restore); failed executions
    # and alarm notifications turned into alerts.
    "PromoteFunction": (
        _g("s3:GetObject", [f"{MODEL}/*", f"{DATA}/curated/*", f"{DATA}/reference/*"])
        | _g("s3:PutObject", [f"{MODEL}/aliases/*", f"{MODEL}/status/*", f"{DATA}/reference/*"])
        | _g("s3:DeleteObject", [f"{MODEL}/status/*"])
        | _g("s3:ListBucket", [MODELS, DATA])
        | _g("dynamodb:PutItem", [TABLE], AUDIT)
        | _g("dynamodb:DeleteItem", [TABLE], LOCK)
        | ALERTS
    ),
    # check_delivery / check_upload / start_retraining / the deferred-batch drain.
    "DriftFunction": (
        _g("s3:GetObject", [f"{DATA}/incoming/*", f"{DATA}/reference/*", f"{DATA}/quarantine/*", f"{MODEL}/*"])
        | _g("s3:PutObject", [f"{DATA}/quarantine/*", f"{DATA}/reports/*"])
        | _g("s3:ListBucket", [DATA, MODELS])
        | _g("dynamodb:PutItem", [TABLE], ("AUDIT", "LOCK#retraining", "COOLDOWN#retraining", "PENDING"))
        | _g("dynamodb:GetItem", [TABLE], ("LOCK#retraining", "COOLDOWN#retraining"))
        | _g("dynamodb:DeleteItem", [TABLE], LOCK)
        | _g("dynamodb:Query", [TABLE], ("PENDING",))
        # One check per S3 object version: claim, complete (PutItem) and release (DeleteItem).
        | _g("dynamodb:PutItem", [TABLE], ("DRIFT_SEEN",))
        | _g("dynamodb:DeleteItem", [TABLE], ("DRIFT_SEEN",))
        | _g("states:StartExecution", ["${SelfHealingStateMachine}"])
        | ALERTS
        # Is the lock's holder execution still running? (Justified wildcard: execution names.)
        | _g("states:DescribeExecution",
             ["arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${SelfHealingStateMachine.Name}:*"])
    ),
    # run_monitor: captures, labels (malformed ones quarantined), the reference and the production
    # model's files in; its report, run record and labelled batch out; its window state; then
    # start_retraining as DriftFunction (lock, cooldown, pending batches, which a new labelled batch
    # replaces).
    "MonitorFunction": (
        _g("s3:GetObject", [f"{DATA}/capture/*", f"{DATA}/labels/*", f"{DATA}/reference/*",
                            f"{DATA}/quarantine/labels/*", f"{MODEL}/*"])
        | _g("s3:PutObject", [f"{DATA}/reports/monitor/*", f"{DATA}/monitoring/runs/*", f"{DATA}/curated/monitor/*",
                              f"{DATA}/quarantine/labels/*"])
        | _g("s3:ListBucket", [DATA, MODELS])
        | _g("dynamodb:PutItem", [TABLE], ("AUDIT", "LOCK#retraining", "COOLDOWN#retraining", "PENDING", "MONITOR"))
        | _g("dynamodb:GetItem", [TABLE], ("LOCK#retraining", "COOLDOWN#retraining", "MONITOR"))
        | _g("dynamodb:DeleteItem", [TABLE], ("LOCK#retraining", "PENDING"))
        | _g("dynamodb:Query", [TABLE], ("PENDING",))
        | _g("states:StartExecution", ["${SelfHealingStateMachine}"])
        | ALERTS
        | _g("states:DescribeExecution",
             ["arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${SelfHealingStateMachine.Name}:*"])
    ),
    # health_check / verify / recover (recycle, rollback and its reference restore).
    "RecoverFunction": (
        _g("s3:GetObject", [f"{MODEL}/*", f"{DATA}/reference/*", f"{DATA}/curated/*"])
        | _g("s3:PutObject", [f"{MODEL}/aliases/*", f"{MODEL}/status/*", f"{DATA}/reference/*"])
        | _g("s3:ListBucket", [MODELS, DATA])
        | ALERTS
        | _g("dynamodb:PutItem", [TABLE], AUDIT)
        | _g("lambda:InvokeFunction", [f"{PREDICT}:live"])
        | _g("lambda:GetFunctionConfiguration", [PREDICT])
        | _g("lambda:UpdateFunctionConfiguration", [PREDICT])
        | _g("lambda:PublishVersion", [PREDICT])
        | _g("lambda:GetAlias", [PREDICT, f"{PREDICT}:live"])
        | _g("lambda:UpdateAlias", [PREDICT, f"{PREDICT}:live"])
    ),
    # serving: the alias (HeadObject), manifests, ONNX bytes, status marks; prediction capture objects.
    "PredictFunction": (
        _g("s3:GetObject", [f"{MODEL}/*"]) | _g("s3:ListBucket", [MODELS])
        | _g("s3:PutObject", [f"{DATA}/capture/*"])
    ),
    # The ASL invokes each step by its unqualified ARN.
    "SelfHealingStateMachine": _g(
        "lambda:InvokeFunction",
        [f"${{{fn}.Arn}}" for fn in ("FixDataFunction", "TrainFunction", "ValidateFunction", "PromoteFunction",
                                      "RecoverFunction")],
    ),
}


# ---- template.yaml -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source() -> Source:
    return template_source()


@pytest.fixture(scope="module")
def roles(source: Source) -> dict[str, dict[str, Any]]:
    return execution_roles(translate(source.document))


def test_no_sam_policy_template_or_managed_policy_is_left_in_the_template(source):
    assert policy_template_entries(source.document) == {}


def test_every_function_and_the_state_machine_is_in_the_access_map(source, roles):
    declared = {owner for owner, _ in owners(source.document)}
    assert declared == set(EXPECTED)
    assert set(roles) == declared  # every one has a role the transform generated


def test_generated_roles_have_no_unjustified_wildcard(source, roles):
    justified = justified_sids(source)
    problems = {owner: p for owner, role in roles.items()
                for p in [[q for s in role_statements(role) for q in wildcard_problems(s, justified)]] if p}
    assert problems == {}


@pytest.mark.parametrize("owner", sorted(EXPECTED))
def test_each_role_grants_exactly_its_access_map(roles, owner):
    granted = grants(role_statements(roles[owner]))
    assert granted - EXPECTED[owner] == set(), "granted but not in the access map"
    assert EXPECTED[owner] - granted == set(), "in the access map but not granted"


def test_predict_function_reads_only_the_model_prefix_and_writes_only_capture_objects(roles):
    granted = grants(role_statements(roles["PredictFunction"]))
    assert {action for action, _, _ in granted} == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}
    assert {resource for action, resource, _ in granted if action == "s3:GetObject"} == {f"{MODEL}/*"}
    # Captured inputs are the data bucket's capture/ prefix only: never models, incoming/ or curated/.
    assert {resource for action, resource, _ in granted if action == "s3:PutObject"} == {f"{DATA}/capture/*"}


def test_only_the_basic_execution_role_is_attached(roles):
    attached = {owner: managed_policy_names(role) for owner, role in roles.items()}
    functions = {owner for owner in attached if owner != "SelfHealingStateMachine"}
    assert {owner: names for owner, names in attached.items() if owner in functions} == {
        owner: ["AWSLambdaBasicExecutionRole"] for owner in functions}
    assert attached["SelfHealingStateMachine"] == []
    assert set().union(*attached.values()) <= set(ALLOWED_MANAGED)


def test_writers_of_the_model_registry_are_only_train_promote_and_recover(roles):
    writers = {owner for owner, role in roles.items()
               for action, resource, _ in grants(role_statements(role))
               if action in ("s3:PutObject", "s3:DeleteObject") and resource.startswith(MODELS + "/models/")}
    assert writers == {"TrainFunction", "PromoteFunction", "RecoverFunction"}
    # Train writes versions only; the alias moves only through Promote and Recover (rollback).
    alias_movers = {owner for owner, role in roles.items()
                    for action, resource, _ in grants(role_statements(role))
                    if action == "s3:PutObject" and resource == f"{MODEL}/aliases/*"}
    assert alias_movers == {"PromoteFunction", "RecoverFunction"}


# ---- the checker itself, on small templates ----------------------------------------------------

CHECKER_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
  Broad:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(e, c): pass"
      Handler: index.handler
      Runtime: python3.11
      Policies:
        - S3CrudPolicy: {BucketName: !Ref Bucket}
        - DynamoDBCrudPolicy: {TableName: !Ref Table}
        - LambdaInvokePolicy: {FunctionName: other}
  Justified:
    Type: AWS::Serverless::Function
    Properties:
      InlineCode: "def handler(e, c): pass"
      Handler: index.handler
      Runtime: python3.11
      Policies:
        - Statement:
            - Sid: JustifiedPutMetricData  # wildcard-ok: PutMetricData has no resource-level permissions
              Effect: Allow
              Action: cloudwatch:PutMetricData
              Resource: "*"
            - Sid: JustifiedButNoReason
              Effect: Allow
              Action: s3:*
              Resource: !Sub "${Bucket.Arn}/incoming/*"
            - Sid: Scoped
              Effect: Allow
              Action: s3:GetObject
              Resource: !Sub "${Bucket.Arn}/*"
"""


@pytest.fixture(scope="module")
def checker_case() -> tuple[Source, dict[str, dict[str, Any]]]:
    case = read_source(CHECKER_TEMPLATE)
    return case, execution_roles(translate(case.document))


def test_sam_policy_templates_are_reported_and_their_expansion_fails(checker_case):
    case, roles = checker_case
    assert policy_template_entries(case.document) == {
        "Broad": ["S3CrudPolicy", "DynamoDBCrudPolicy", "LambdaInvokePolicy"]}
    problems = [p for s in role_statements(roles["Broad"]) for p in wildcard_problems(s, justified_sids(case))]
    assert any(p.startswith("bucket-wide") for p in problems)  # S3CrudPolicy: arn:...:::bucket/*
    assert any("function:other*" in p for p in problems)  # LambdaInvokePolicy: function:<name>*
    assert any("/index/*" in p for p in problems)  # DynamoDBCrudPolicy: table/<name>/index/*


def test_a_wildcard_passes_only_with_a_justified_sid_and_a_reason_on_its_line(checker_case):
    case, roles = checker_case
    justified = justified_sids(case)
    by_sid = {s.get("Sid"): wildcard_problems(s, justified) for s in role_statements(roles["Justified"])}
    assert justified == {"JustifiedPutMetricData"}
    assert by_sid["JustifiedPutMetricData"] == []
    assert by_sid["JustifiedButNoReason"] == ["wildcard action s3:*"]
    assert by_sid["Scoped"] == ["bucket-wide ${Bucket.Arn}/* (scope it to a key prefix)"]
