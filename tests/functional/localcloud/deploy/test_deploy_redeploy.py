"""Redeploys change only what changed, like a CloudFormation stack update."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.deploy import deploy, stack_file

from .support import FIXTURE_APP, Cloud

_MUTATING_PREFIXES = (
    "Create",
    "Update",
    "Put",
    "Publish",
    "Add",
    "Attach",
    "Detach",
    "Delete",
    "Remove",
    "Tag",
    "Untag",
    "Subscribe",
    "Set",
    "Upload",
)


def _record_mutating_calls(session: Any) -> list[str]:
    calls: list[str] = []

    def before_call(model: Any, **_: Any) -> None:
        if model.name.startswith(_MUTATING_PREFIXES):
            calls.append(f"{model.service_model.service_name}.{model.name}")

    session.events.register("before-call", before_call)
    return calls


def test_redeploy_without_changes_calls_no_write_api(cloud: Cloud, tmp_path: Path) -> None:
    template = FIXTURE_APP / "template.yaml"
    first = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="again", state_dir=tmp_path)
    revision = cloud.client("lambda").get_function(FunctionName=first.physical_id("IngestFunction"))[
        "Configuration"
    ]["LastModified"]
    session = cloud.session()
    writes = _record_mutating_calls(session)

    second = deploy(
        template, endpoint_url=cloud.endpoint_url, stack_name="again", state_dir=tmp_path, session=session
    )

    assert writes == []
    assert set(second.changes.values()) == {"unchanged"}
    assert {k: r["physical_id"] for k, r in second.resources.items()} == {
        k: r["physical_id"] for k, r in first.resources.items()
    }
    assert second.outputs == first.outputs
    after = cloud.client("lambda").get_function(FunctionName=first.physical_id("IngestFunction"))
    assert after["Configuration"]["LastModified"] == revision


def test_code_change_updates_only_that_function(cloud: Cloud, app_copy: Path, tmp_path: Path) -> None:
    aws_lambda = cloud.client("lambda")
    first = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="codechange", state_dir=tmp_path)
    before = aws_lambda.get_function(FunctionName=first.physical_id("ApiFunction"))["Configuration"][
        "CodeSha256"
    ]
    handler = app_copy.parent / "functions" / "api" / "app.py"
    handler.write_text(handler.read_text() + "\nVERSION = 2\n")

    second = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="codechange", state_dir=tmp_path)

    after = aws_lambda.get_function(FunctionName=second.physical_id("ApiFunction"))["Configuration"][
        "CodeSha256"
    ]
    assert after != before
    assert second.changes["ApiFunction"] == "updated"
    assert second.changes["IngestFunction"] == "unchanged"
    assert second.physical_id("ApiFunction") == first.physical_id("ApiFunction")


def test_reapply_updates_every_existing_resource_in_place(cloud: Cloud, tmp_path: Path) -> None:
    # After a restart the data is restored but not what the template applied to it (notifications...).
    template = FIXTURE_APP / "template.yaml"
    first = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="reapply", state_dir=tmp_path)
    second = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="reapply", state_dir=tmp_path,
                    reapply=True)
    assert "unchanged" not in set(second.changes.values())
    assert second.changes["DataBucket"] == "updated"
    assert second.physical_id("DataBucket") == first.physical_id("DataBucket")


def test_bytecode_caches_do_not_count_as_code_changes(cloud: Cloud, app_copy: Path, tmp_path: Path) -> None:
    deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="pycache", state_dir=tmp_path)
    cache = app_copy.parent / "functions" / "api" / "__pycache__"
    cache.mkdir()
    (cache / "app.cpython-311.pyc").write_bytes(b"\x00compiled")

    second = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="pycache", state_dir=tmp_path)

    assert second.changes["ApiFunction"] == "unchanged"


def test_parameter_override_updates_environment(cloud: Cloud, tmp_path: Path) -> None:
    template = FIXTURE_APP / "template.yaml"
    deploy(template, endpoint_url=cloud.endpoint_url, stack_name="params", state_dir=tmp_path)

    result = deploy(
        template,
        endpoint_url=cloud.endpoint_url,
        stack_name="params",
        state_dir=tmp_path,
        parameter_overrides={"Stage": "prod", "Threshold": "7"},
    )

    config = cloud.client("lambda").get_function(FunctionName=result.physical_id("IngestFunction"))[
        "Configuration"
    ]
    variables = config["Environment"]["Variables"]
    assert (variables["STAGE"], variables["THRESHOLD"], variables["LOG_LEVEL"], variables["MODE"]) == (
        "prod",
        "7",
        "INFO",
        "production",
    )
    assert result.changes["IngestFunction"] == "updated"
    assert result.outputs["Mode"] == "production"
    assert result.parameters["Stage"] == "prod"


def test_relative_paths_resolve_against_the_template_folder(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURE_APP.parent)  # CodeUri "functions/ingest/" does not exist from here

    result = deploy(
        Path("deploy_app/template.yaml"),
        endpoint_url=cloud.endpoint_url,
        stack_name="cwd",
        state_dir=tmp_path,
    )

    assert result.resources["IngestFunction"]["source_path"] == str(FIXTURE_APP / "functions" / "ingest")
    code = cloud.client("lambda").get_function(FunctionName=result.physical_id("IngestFunction"))
    assert code["Configuration"]["CodeSize"] > 0


def test_removed_resource_is_left_in_place_with_a_warning(
    cloud: Cloud, app_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = app_copy.read_text()
    app_copy.write_text(
        original.replace("Resources:\n", "Resources:\n  SpareQueue:\n    Type: AWS::SQS::Queue\n\n", 1)
    )
    first = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="shrink", state_dir=tmp_path)
    app_copy.write_text(original)

    with caplog.at_level(logging.WARNING, logger="localcloud.deploy"):
        second = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="shrink", state_dir=tmp_path)

    assert "SpareQueue" not in second.resources
    assert (
        f"AWS::SQS::Queue SpareQueue ({first.physical_id('SpareQueue')}) is no longer in the template"
        in caplog.text
    )
    assert cloud.client("sqs").get_queue_url(
        QueueName=first.resources["SpareQueue"]["attributes"]["QueueName"]
    )


def test_stale_record_after_a_cloud_reset_recreates_everything(
    cloud: Cloud, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    template = FIXTURE_APP / "template.yaml"
    first = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="reset", state_dir=tmp_path)
    # moto keeps state in memory: `make up` after a restart sees an empty cloud and an old record.
    with urllib.request.urlopen(
        urllib.request.Request(f"{cloud.endpoint_url}/moto-api/reset", method="POST")
    ):
        pass

    with caplog.at_level(logging.INFO, logger="localcloud.deploy"):
        result = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="reset", state_dir=tmp_path)

    assert set(result.changes.values()) == {"created"}
    routes = cloud.client("apigatewayv2").get_routes(ApiId=result.physical_id("ServerlessHttpApi"))["Items"]
    assert len(routes) == 3
    # The API id is the service's choice, so the new API has a new one; the old API is gone, not kept.
    old_api, new_api = first.physical_id("ServerlessHttpApi"), result.physical_id("ServerlessHttpApi")
    assert old_api != new_api
    assert "left in place" not in caplog.text
    assert f"ServerlessHttpApi: {old_api} no longer exists; created {new_api}" in caplog.text


def test_renamed_resource_is_replaced_and_the_old_one_left_in_place_with_a_warning(
    cloud: Cloud, app_copy: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    original = app_copy.read_text()
    named = "Resources:\n  NamedQueue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: %s}\n\n"
    app_copy.write_text(original.replace("Resources:\n", named % "before-rename", 1))
    first = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="rename", state_dir=tmp_path)
    app_copy.write_text(original.replace("Resources:\n", named % "after-rename", 1))

    with caplog.at_level(logging.WARNING, logger="localcloud.deploy"):
        second = deploy(app_copy, endpoint_url=cloud.endpoint_url, stack_name="rename", state_dir=tmp_path)

    assert second.changes["NamedQueue"] == "created"
    assert f"AWS::SQS::Queue NamedQueue replaced: {first.physical_id('NamedQueue')} left in place" in caplog.text
    assert cloud.client("sqs").get_queue_url(QueueName="before-rename")


def test_lost_record_adopts_existing_resources_instead_of_duplicating(cloud: Cloud, tmp_path: Path) -> None:
    template = FIXTURE_APP / "template.yaml"
    first = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="lost", state_dir=tmp_path)
    stack_file(tmp_path, "lost").unlink()

    second = deploy(template, endpoint_url=cloud.endpoint_url, stack_name="lost", state_dir=tmp_path)

    assert second.physical_id("ServerlessHttpApi") == first.physical_id("ServerlessHttpApi")
    assert second.physical_id("IngestFunction") == first.physical_id("IngestFunction")
    assert second.changes["IngestFunction"] == "updated"  # no recorded fingerprint: re-applied, not recreated
    apis = [a for a in cloud.client("apigatewayv2").get_apis()["Items"] if a["Name"] == "lost"]
    assert len(apis) == 1
