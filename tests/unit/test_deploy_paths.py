"""The AWS and LocalStack deploy paths, checked statically (neither Docker nor AWS exists here)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _recipe(target: str) -> str:
    """The commands `make <target>` would run (make -n: nothing is executed)."""
    result = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "LOCALSTACK_AUTH_TOKEN": "x"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_deploy_builds_then_deploys_guided_with_the_sam_venv() -> None:
    recipe = _recipe("deploy")
    assert re.search(r"\.venv-sam/bin/sam build --template template\.yaml && "
                     r"\.venv-sam/bin/sam deploy --guided", recipe), recipe
    assert "testing" not in recipe  # real credentials only: no dummy keys on the AWS path


def test_make_localstack_starts_compose_and_deploys_with_samlocal() -> None:
    recipe = _recipe("localstack")
    assert "docker compose -f infra/localstack/docker-compose.yml up --detach --wait" in recipe
    build = recipe.index(".venv-sam/bin/samlocal build")
    deploy = recipe.index(".venv-sam/bin/samlocal deploy")
    assert build < deploy
    for flag in ("--resolve-s3", "--resolve-image-repos", "CAPABILITY_IAM", "--no-confirm-changeset"):
        assert flag in recipe[deploy:]


def test_sam_validate_lints_and_sam_build_leaves_out_the_image_functions_only() -> None:
    assert "sam validate --lint --template template.yaml" in _recipe("sam-validate")
    build = _recipe("sam-build")
    assert "sam build --template template.yaml" in build and "--exclude-images" in build
    from infra.aws.functions import main

    assert main(["--exclude-images"]) == 0


def test_compose_runs_localstack_pro_on_4566_with_the_auth_token_from_the_environment() -> None:
    compose = yaml.safe_load((ROOT / "infra" / "localstack" / "docker-compose.yml").read_text())
    service = compose["services"]["localstack"]
    assert re.fullmatch(r"localstack/localstack-pro:\d+\.\d+", service["image"])  # pinned, not :latest
    assert "127.0.0.1:4566:4566" in service["ports"]
    env = dict(item.split("=", 1) for item in service["environment"])
    assert env["LOCALSTACK_AUTH_TOKEN"].startswith("${LOCALSTACK_AUTH_TOKEN:?")  # fails loudly when unset
    assert any(v.endswith(":/var/run/docker.sock") for v in service["volumes"])  # Lambda needs Docker


def test_sam_cli_and_samlocal_are_pinned_in_their_own_lock() -> None:
    pins = dict(line.split("==") for line in (ROOT / "requirements-sam.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert {"aws-sam-cli", "aws-sam-cli-local"} <= set(pins)
    assert "aws-sam-cli" not in (ROOT / "requirements.lock").read_text()


def test_github_workflow_runs_what_ci_run_runs() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = " ".join(step.get("run", "") for step in workflow["jobs"]["check"]["steps"])
    ci_run = (ROOT / ".ci" / "run").read_text()
    for target in ("lint", "typecheck", "test", "package-check"):
        assert f"make {target}" in ci_run
    for command in ("make lint", "make typecheck", "make test", "make sam-validate", "make sam-build",
                    "tests/aws_packaging", "make sizes"):
        assert command in steps, command
    # package-check is sam-validate + sam-build + tests/aws_packaging + sizes, which the workflow spells out
    assert "sam-validate sam-build" in (ROOT / "Makefile").read_text()
