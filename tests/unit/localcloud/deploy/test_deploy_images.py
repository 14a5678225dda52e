"""Dockerfiles of image functions are read like `sam build` would build them, without Docker."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from infra.localcloud.deploy.exceptions import PackagingError
from infra.localcloud.deploy.images import assemble_task_root, handler_of, parse_dockerfile

ROOT = Path(__file__).resolve().parents[4]

AWS_BASE = """\
FROM public.ecr.aws/lambda/python:3.11
COPY requirements.txt ${LAMBDA_TASK_ROOT}
RUN pip install -r requirements.txt \\
    --target "${LAMBDA_TASK_ROOT}"
COPY src/ ${LAMBDA_TASK_ROOT}/
CMD [ "app.handler" ]
"""


def test_an_aws_base_image_dockerfile_gives_runtime_handler_and_task_root_copies() -> None:
    recipe = parse_dockerfile(AWS_BASE)

    assert recipe.runtime == "python3.11"
    assert handler_of(recipe, None) == "app.handler"
    assert [(c.sources, c.destination) for c in recipe.copies] == [
        (("requirements.txt",), PurePosixPath("/var/task")),
        (("src/",), PurePosixPath("/var/task")),
    ]


def test_image_config_command_overrides_cmd_as_on_aws() -> None:
    assert handler_of(parse_dockerfile(AWS_BASE), {"Command": ["other.handler"]}) == "other.handler"


@pytest.mark.parametrize(
    ("dockerfile", "message"),
    [
        ("FROM node:20\nCMD [\"app.handler\"]\n", "Python base images only"),
        ("COPY a b\nFROM python:3.11\n", "before FROM"),
        ("FROM python:3.11\nENV A=1\n", "ENV"),
        ("FROM python:3.11\nENTRYPOINT [\"/bin/sh\"]\n", "runtime interface client"),
        ("FROM python:3.11\nCMD [\"app.handler\"\n", "not a JSON array"),
    ],
)
def test_what_the_local_cloud_cannot_run_is_a_loud_error(dockerfile: str, message: str) -> None:
    with pytest.raises(PackagingError, match=message):
        parse_dockerfile(dockerfile)


def test_a_missing_handler_is_an_error() -> None:
    with pytest.raises(PackagingError, match="no handler"):
        handler_of(parse_dockerfile("FROM python:3.11-slim\n"), {})


def test_task_root_holds_what_copy_puts_there_folders_by_content(tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    (context / "lib" / "pkg" / "__pycache__").mkdir(parents=True)
    (context / "lib" / "pkg" / "mod.py").write_text("X = 1\n")
    (context / "lib" / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"")
    (context / "fn").mkdir()
    (context / "fn" / "app.py").write_text("def handler(e, c):\n    return e\n")
    recipe = parse_dockerfile(
        "FROM python:3.11-slim\nWORKDIR /var/task\nCOPY lib/pkg ./pkg\nCOPY fn/app.py ./\n"
        'ENTRYPOINT ["python", "-m", "awslambdaric"]\nCMD ["app.handler"]\n'
    )

    assemble_task_root(recipe, context, tmp_path / "root")

    files = sorted(p.relative_to(tmp_path / "root").as_posix() for p in (tmp_path / "root").rglob("*") if p.is_file())
    assert files == ["app.py", "pkg/mod.py"]


@pytest.mark.parametrize(
    ("copy", "message"),
    [("COPY app.py /opt/python/", "task root"), ("COPY ../secret ./", "outside the build context"),
     ("COPY missing.py ./", "does not exist")],
)
def test_copies_that_would_not_run_locally_are_errors(tmp_path: Path, copy: str, message: str) -> None:
    (tmp_path / "app.py").write_text("")
    recipe = parse_dockerfile(f"FROM python:3.11\n{copy}\n")
    with pytest.raises(PackagingError, match=message):
        assemble_task_root(recipe, tmp_path, tmp_path / "root")


@pytest.mark.parametrize("function", ["train", "drift"])
def test_the_repository_image_functions_run_app_handler_with_selfheal_in_the_task_root(
    tmp_path: Path, function: str
) -> None:
    recipe = parse_dockerfile((ROOT / "functions" / function / "Dockerfile").read_text())

    assemble_task_root(recipe, ROOT, tmp_path)

    assert recipe.runtime == "python3.11" and handler_of(recipe, None) == "app.handler"
    assert (tmp_path / "app.py").read_text() == (ROOT / "functions" / function / "app.py").read_text()
    assert (tmp_path / "selfheal" / "context.py").is_file()
