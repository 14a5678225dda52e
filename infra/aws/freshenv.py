"""The fresh-environment check for container-image functions, for machines without Docker.

An image's Python packages are installed from its requirements.txt alone into a new virtual
environment (as its Dockerfile's `RUN pip install` would). The task root its COPY lines make is laid
out next to it, and the handler runs there, in its own process, against whatever AWS endpoint the
caller gives. What this does not check is the base image itself (its OS and glibc).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.aws.sizes import tree_size
from infra.localcloud.deploy.images import ImageRecipe, assemble_task_root, handler_of, parse_dockerfile

# Runs inside the fresh environment: import the handler from the task root (cold start), invoke it once
# with a context carrying what Lambda's does (request id, remaining time, ...), as handlers use it.
_RUNNER = """
import importlib, json, sys, time, uuid
sys.path.insert(0, sys.argv[1])
module_name, _, function_name = sys.argv[2].rpartition(".")
handler = getattr(importlib.import_module(module_name), function_name)

class Context:
    function_name, function_version, memory_limit_in_mb = module_name, "$LATEST", 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + module_name
    aws_request_id = str(uuid.uuid4())
    log_group_name, log_stream_name = "/aws/lambda/" + module_name, "fresh-env"
    _deadline = time.time() + 900

    def get_remaining_time_in_millis(self):
        return int(max(self._deadline - time.time(), 0) * 1000)

result = handler(json.load(sys.stdin), Context())
sys.stdout.write("\\n" + json.dumps({"result": result}, default=str) + "\\n")
"""


class FreshEnvError(RuntimeError):
    """Installing the image's requirements, or running its handler, failed in the fresh environment."""


@dataclass
class FreshImage:
    """An image function's requirement set installed into its own virtual environment."""

    function: str
    root: Path  # <root>/venv, <root>/task
    recipe: ImageRecipe
    handler: str

    @property
    def python(self) -> Path:
        return self.root / "venv" / "bin" / "python"

    @property
    def task_root(self) -> Path:
        return self.root / "task"

    @classmethod
    def build(cls, function: str, dockerfile: Path, context: Path, root: Path) -> FreshImage:
        """A new venv with only requirements.txt of the image installed, and the image's task root."""
        recipe = parse_dockerfile(dockerfile.read_text(), name=str(dockerfile))
        image = cls(function, root, recipe, handler_of(recipe, None))
        assemble_task_root(recipe, context, image.task_root)
        requirements = image.task_root / "requirements.txt"
        if not requirements.is_file():
            raise FreshEnvError(f"{function}: the Dockerfile copies no requirements.txt into the task root")
        stamp = root / "venv" / "installed-requirements.txt"
        if stamp.is_file() and stamp.read_text() == requirements.read_text():
            return image  # the same requirement set is already installed in this environment
        venv.EnvBuilder(clear=True, with_pip=True).create(root / "venv")
        install = subprocess.run(
            [str(image.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-r", str(requirements)],
            capture_output=True, text=True,
        )
        if install.returncode != 0:
            raise FreshEnvError(f"{function}: pip install -r requirements.txt failed:\n{install.stderr[-4000:]}")
        stamp.write_text(requirements.read_text())
        return image

    def site_packages_bytes(self) -> int:
        (site,) = (self.root / "venv" / "lib").glob("python3.*/site-packages")
        return tree_size(site)

    def invoke(self, event: Any, environment: dict[str, str], *, timeout: float = 600) -> Any:
        """Cold-start the handler in the fresh environment and invoke it once with `event`."""
        # Only the venv's packages: no PYTHONPATH, no user site, nothing from the caller's environment.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONNOUSERSITE": "1", "HOME": str(self.root),
               **environment}
        process = subprocess.run(
            [str(self.python), "-c", _RUNNER, str(self.task_root), self.handler],
            input=json.dumps(event), capture_output=True, text=True, env=env, cwd=self.task_root, timeout=timeout,
        )
        if process.returncode != 0:
            raise FreshEnvError(f"{self.function}: the handler failed in the fresh environment:\n"
                                f"{process.stderr[-4000:]}")
        last = process.stdout.strip().splitlines()[-1]
        return json.loads(last)["result"]

    def record(self, folder: Path, **extra: Any) -> dict[str, Any]:
        """Write `<folder>/<function>.json` with the installed size (read by infra.aws.sizes)."""
        data = {"function": self.function, "installed_bytes": self.site_packages_bytes(),
                "base_image": self.recipe.base_image, "python": sys.version.split()[0], **extra}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.function}.json").write_text(json.dumps(data, indent=2) + "\n")
        return data
