"""Container-image functions without Docker: read the Dockerfile, lay out the code it copies.

`sam build` builds a `PackageType: Image` function from its `Metadata` (`Dockerfile`,
`DockerContext`). The local cloud has no Docker. It runs an image function as the zip the
Dockerfile's COPY lines would make: the files they copy into the task root, with the handler
from `ImageConfig.Command` or `CMD`. Its `RUN pip install` lines are not run: dependencies come
from the local cloud's own environment, as they do for zip functions.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .exceptions import PackagingError

# What the AWS base images set (LAMBDA_TASK_ROOT) and where a Dockerfile without WORKDIR starts.
TASK_ROOT = PurePosixPath("/var/task")
# Any Python 3.x image: public.ecr.aws/lambda/python:3.11, python:3.11-slim-bookworm, ...
_PYTHON_IMAGE = re.compile(r"(?:^|/)python:(3\.\d+)")
# The runtime interface clients an entry point may start; AWS base images bring their own.
_RUNTIME_CLIENTS = ("awslambdaric",)


@dataclass(frozen=True)
class Copy:
    """One `COPY src... dest` line: paths in the build context, destination inside the image."""

    sources: tuple[str, ...]
    destination: PurePosixPath
    into_folder: bool  # `dest/`, `.` or several sources: files land inside the destination folder


@dataclass
class ImageRecipe:
    """What the local cloud needs from a Lambda function's Dockerfile."""

    base_image: str
    runtime: str  # the Lambda runtime the base image stands for, e.g. python3.11
    copies: list[Copy] = field(default_factory=list)
    command: list[str] = field(default_factory=list)  # CMD: the handler, e.g. ["app.handler"]
    entrypoint: list[str] = field(default_factory=list)


def _words(argument: str, where: str) -> list[str]:
    """The exec form (`["a", "b"]`) or the shell form (`a b`) of an instruction's arguments."""
    if argument.startswith("["):
        try:
            words = json.loads(argument)
        except json.JSONDecodeError as exc:
            raise PackagingError(f"{where}: not a JSON array: {argument}") from exc
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise PackagingError(f"{where}: expected a JSON array of strings: {argument}")
        return words
    return shlex.split(argument)


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments), with continuation lines joined and comments dropped."""
    result: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, argument = full.partition(" ")
        result.append((start, keyword.upper(), argument.strip()))
    return result


def parse_dockerfile(text: str, *, name: str = "Dockerfile") -> ImageRecipe:
    """Read the instructions a Lambda function image uses; anything else is a loud error."""
    recipe: ImageRecipe | None = None
    workdir = TASK_ROOT
    for line, keyword, argument in _instructions(text):
        where = f"{name}:{line} {keyword}"
        if keyword == "FROM":
            image = argument.split()[0]
            match = _PYTHON_IMAGE.search(image)
            if match is None:
                raise PackagingError(f"{where}: the local cloud runs Python base images only, not {image}")
            recipe = ImageRecipe(base_image=image, runtime=f"python{match.group(1)}")
            continue
        if recipe is None:
            raise PackagingError(f"{where}: comes before FROM")
        if keyword == "WORKDIR":
            workdir = workdir / _expand(argument)
        elif keyword == "COPY":
            words = [w for w in _words(argument, where) if not w.startswith("--")]
            if len(words) < 2:
                raise PackagingError(f"{where}: needs a source and a destination")
            raw = _expand(words[-1])
            into_folder = raw.endswith("/") or raw in (".", "./") or len(words) > 2
            recipe.copies.append(Copy(tuple(words[:-1]), workdir / raw, into_folder))
        elif keyword == "CMD":
            recipe.command = _words(argument, where)
        elif keyword == "ENTRYPOINT":
            recipe.entrypoint = _words(argument, where)
        elif keyword in ("RUN", "ARG", "LABEL"):
            continue  # installs and build metadata: the local cloud's environment provides packages
        else:
            raise PackagingError(f"{where}: not supported by the local cloud's image packaging")
    if recipe is None:
        raise PackagingError(f"{name}: no FROM instruction")
    if recipe.entrypoint and not any(client in recipe.entrypoint for client in _RUNTIME_CLIENTS):
        raise PackagingError(
            f"{name}: ENTRYPOINT {recipe.entrypoint} does not start a Lambda runtime interface client"
        )
    return recipe


def _expand(path: str) -> str:
    return path.replace("${LAMBDA_TASK_ROOT}", str(TASK_ROOT)).replace("$LAMBDA_TASK_ROOT", str(TASK_ROOT))


def handler_of(recipe: ImageRecipe, image_config: Mapping[str, Any] | None) -> str:
    """`ImageConfig.Command` overrides the Dockerfile's CMD, as on AWS; its first word is the handler."""
    command = list((image_config or {}).get("Command") or recipe.command)
    if not command:
        raise PackagingError("the image has no handler: set CMD in the Dockerfile or ImageConfig.Command")
    return command[0]


def assemble_task_root(recipe: ImageRecipe, context: Path, target: Path) -> None:
    """Copy what the Dockerfile's COPY lines put in the task root into `target`, as Docker would."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for copy in recipe.copies:
        if not copy.destination.is_relative_to(TASK_ROOT):
            raise PackagingError(
                f"COPY to {copy.destination}: only files in the task root ({TASK_ROOT}) run locally"
            )
        destination = target / copy.destination.relative_to(TASK_ROOT)
        for source in copy.sources:
            path = (context / source).resolve()
            if not path.is_relative_to(context.resolve()):
                raise PackagingError(f"COPY {source}: outside the build context {context}")
            if not path.exists():
                raise PackagingError(f"COPY {source}: {path} does not exist")
            if path.is_dir():  # Docker copies a folder's contents, not the folder
                shutil.copytree(path, destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                into_folder = copy.into_folder or destination.is_dir()
                file_target = destination / path.name if into_folder else destination
                file_target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, file_target)
