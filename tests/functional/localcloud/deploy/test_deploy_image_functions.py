"""A `PackageType: Image` function with a Dockerfile deploys to the local cloud as the code it copies."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from infra.localcloud.deploy import deploy
from infra.localcloud.deploy.deployer import staging_bucket_name
from infra.localcloud.deploy.exceptions import PackagingError

from .support import Cloud

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 30
    Environment: {Variables: {STAGE: test}}
Resources:
  ImageFunction:
    Type: AWS::Serverless::Function
    Metadata:
      Dockerfile: fn/Dockerfile
      DockerContext: .
      DockerTag: v1
    Properties:
      PackageType: Image
      MemorySize: 256
"""
DOCKERFILE = """\
FROM public.ecr.aws/docker/library/python:3.11-slim-bookworm
WORKDIR /var/task
COPY fn/requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY lib/helper ./helper
COPY fn/app.py ./
ENTRYPOINT ["/usr/local/bin/python", "-m", "awslambdaric"]
CMD ["app.handler"]
"""


def _app(root: Path, dockerfile: str = DOCKERFILE) -> Path:
    (root / "fn").mkdir(parents=True)
    (root / "lib" / "helper").mkdir(parents=True)
    (root / "fn" / "Dockerfile").write_text(dockerfile)
    (root / "fn" / "requirements.txt").write_text("")
    (root / "fn" / "app.py").write_text("from helper import answer\n\ndef handler(e, c):\n    return answer()\n")
    (root / "lib" / "helper" / "__init__.py").write_text("def answer():\n    return 42\n")
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


def test_image_function_is_created_with_the_handler_runtime_and_code_of_its_dockerfile(
    cloud: Cloud, tmp_path: Path
) -> None:
    result = deploy(_app(tmp_path / "app"), endpoint_url=cloud.endpoint_url, stack_name="images",
                    state_dir=tmp_path / "state")

    function_name = result.resources["ImageFunction"]["physical_id"]
    config = cloud.client("lambda").get_function_configuration(FunctionName=function_name)
    assert (config["Handler"], config["Runtime"], config["MemorySize"]) == ("app.handler", "python3.11", 256)
    assert config["Environment"]["Variables"] == {"STAGE": "test"}
    s3 = cloud.client("s3")
    staged = [item["Key"] for item in s3.list_objects_v2(Bucket=staging_bucket_name("images"))["Contents"]]
    (key,) = staged
    with zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=staging_bucket_name("images"), Key=key)["Body"].read())) as zf:
        assert sorted(zf.namelist()) == ["app.py", "helper/__init__.py", "requirements.txt"]


def test_a_dockerfile_the_local_cloud_cannot_run_fails_the_deploy_naming_the_function(
    cloud: Cloud, tmp_path: Path
) -> None:
    template = _app(tmp_path / "app", dockerfile="FROM node:20\nCMD [\"app.handler\"]\n")

    with pytest.raises(PackagingError, match=r"ImageFunction.*Python base images only"):
        deploy(template, endpoint_url=cloud.endpoint_url, stack_name="badimage", state_dir=tmp_path / "state")
