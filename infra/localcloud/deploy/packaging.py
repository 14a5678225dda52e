"""Package local artifacts like `sam package`: zip code folders, upload them, rewrite the template."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from botocore.exceptions import ClientError

from .exceptions import PackagingError
from .images import assemble_task_root, handler_of, parse_dockerfile

LOG = logging.getLogger("localcloud.deploy")

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
_SKIPPED_FILES = frozenset({".DS_Store"})
_ARCHIVE_SUFFIXES = frozenset({".zip", ".jar"})


def _s3_uri(bucket: str, key: str) -> Any:
    return f"s3://{bucket}/{key}"


def _code_object(bucket: str, key: str) -> Any:
    return {"S3Bucket": bucket, "S3Key": key}


def _location_object(bucket: str, key: str) -> Any:
    return {"Bucket": bucket, "Key": key}


@dataclass(frozen=True)
class _Rule:
    """One packageable property: whether a folder is zipped, and how the S3 location is written back."""

    property: str
    zip: bool
    rewrite: Callable[[str, str], Any]


# Resource type -> properties `sam package` uploads (the same list as aws-sam-cli's packageable resources).
_PACKAGEABLE: dict[str, tuple[_Rule, ...]] = {
    "AWS::Serverless::Function": (_Rule("CodeUri", True, _s3_uri),),
    "AWS::Serverless::LayerVersion": (_Rule("ContentUri", True, _s3_uri),),
    "AWS::Serverless::StateMachine": (_Rule("DefinitionUri", False, _s3_uri),),
    "AWS::Serverless::HttpApi": (_Rule("DefinitionUri", False, _s3_uri),),
    "AWS::Serverless::Api": (_Rule("DefinitionUri", False, _s3_uri),),
    "AWS::Lambda::Function": (_Rule("Code", True, _code_object),),
    "AWS::Lambda::LayerVersion": (_Rule("Content", True, _code_object),),
    "AWS::StepFunctions::StateMachine": (_Rule("DefinitionS3Location", False, _location_object),),
    "AWS::ApiGatewayV2::Api": (_Rule("BodyS3Location", False, _location_object),),
    "AWS::ApiGateway::RestApi": (_Rule("BodyS3Location", False, _location_object),),
}


@dataclass(frozen=True)
class Artifact:
    """A local file or folder named in the template, and where its packaged form lives in S3."""

    source: Path
    file: Path
    bucket: str
    key: str
    sha256: str


def _files(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(root, name)
            if name in _SKIPPED_FILES or path.suffix in _SKIPPED_SUFFIXES:
                continue
            yield path


def write_deterministic_zip(source: Path, target: Path) -> None:
    """Zip a folder (or one file) so that the same content always gives the same bytes.

    Entries are sorted, carry a fixed timestamp and normalised permissions, and bytecode caches
    are skipped; the hash of the zip then changes only when the code does.
    """
    entries = (
        [(p, p.relative_to(source).as_posix()) for p in _files(source)]
        if source.is_dir()
        else [(source, source.name)]
    )
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file + permissions, as `zip` writes
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_buildable_image(resource: dict[str, Any]) -> bool:
    """A SAM image function that `sam build` would build from a Dockerfile (not one given an ImageUri)."""
    metadata = resource.get("Metadata")
    return (
        resource.get("Type") == "AWS::Serverless::Function"
        and resource["Properties"].get("PackageType") == "Image"
        and isinstance(metadata, dict)
        and "Dockerfile" in metadata
    )


def _is_local(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value) and not value.startswith(("s3://", "https://", "http://"))


class Packager:
    """Builds artifacts into `build_dir` and rewrites the template to their S3 locations.

    Building and uploading are separate steps so that the transformed template can be
    validated before anything is written to the local cloud.
    """

    def __init__(self, *, template_dir: Path, build_dir: Path, bucket: str) -> None:
        self._template_dir = template_dir
        self._build_dir = build_dir
        self._bucket = bucket
        self._built: dict[tuple[Path, bool], Artifact] = {}

    def package(self, template: dict[str, Any]) -> tuple[dict[str, Any], list[Artifact]]:
        """A copy of `template` with local paths replaced by S3 locations, and the artifacts to upload."""
        packaged = copy.deepcopy(template)
        function_globals = (packaged.get("Globals") or {}).get("Function") or {}
        if _is_local(function_globals.get("CodeUri")):
            artifact = self._build(function_globals["CodeUri"], True, "Globals.Function.CodeUri")
            function_globals["CodeUri"] = _s3_uri(artifact.bucket, artifact.key)
        for logical_id, resource in packaged["Resources"].items():
            properties = resource.get("Properties") if isinstance(resource, dict) else None
            if not isinstance(properties, dict):
                continue
            if _is_buildable_image(resource):
                self._package_image(logical_id, resource)
            for rule in _PACKAGEABLE.get(resource.get("Type", ""), ()):
                value = properties.get(rule.property)
                if _is_local(value):
                    artifact = self._build(
                        value, rule.zip, f"Resources.{logical_id}.Properties.{rule.property}"
                    )
                    properties[rule.property] = rule.rewrite(artifact.bucket, artifact.key)
        return packaged, list(self._built.values())

    def _package_image(self, logical_id: str, resource: dict[str, Any]) -> None:
        """A `PackageType: Image` function becomes the zip function its Dockerfile describes (see images.py).

        Differs from AWS on purpose: the function is created as a zip function running on the local
        cloud's environment, so GetFunction reports PackageType Zip.
        """
        metadata, properties = resource["Metadata"], resource["Properties"]
        where = f"Resources.{logical_id}.Metadata"
        context = (self._template_dir / str(metadata.get("DockerContext", "."))).resolve()
        dockerfile = context / str(metadata["Dockerfile"])
        if not dockerfile.is_file():
            raise PackagingError(f"{where}.Dockerfile: {dockerfile} does not exist")
        try:
            recipe = parse_dockerfile(dockerfile.read_text(), name=str(dockerfile))
            handler = handler_of(recipe, properties.get("ImageConfig"))
            task_root = self._build_dir / "images" / logical_id
            assemble_task_root(recipe, context, task_root)
        except PackagingError as exc:
            raise PackagingError(f"{where}: {exc}") from exc
        for image_only in ("PackageType", "ImageUri", "ImageConfig"):
            properties.pop(image_only, None)
        properties.update({"CodeUri": str(task_root), "Handler": handler, "Runtime": recipe.runtime})

    def _build(self, relative: str, zip_folder: bool, where: str) -> Artifact:
        # Like `sam package`, paths are relative to the template's folder, not the working directory.
        source = (self._template_dir / relative).resolve()
        if not source.exists():
            raise PackagingError(f"{where}: {source} does not exist")
        cache_key = (source, zip_folder)
        if cache_key in self._built:
            return self._built[cache_key]
        self._build_dir.mkdir(parents=True, exist_ok=True)
        if zip_folder and source.suffix not in _ARCHIVE_SUFFIXES:
            handle, temporary = tempfile.mkstemp(suffix=".zip", dir=self._build_dir)
            os.close(handle)
            write_deterministic_zip(source, Path(temporary))
            sha256 = _sha256(Path(temporary))
            file = self._build_dir / f"{sha256}.zip"
            os.replace(temporary, file)
            suffix = ".zip"
        elif source.is_file():
            file, sha256, suffix = source, _sha256(source), source.suffix
        else:
            raise PackagingError(f"{where}: {source} must be a file")
        artifact = Artifact(
            source=source, file=file, bucket=self._bucket, key=f"{sha256}{suffix}", sha256=sha256
        )
        self._built[cache_key] = artifact
        return artifact


def upload_artifacts(s3: Any, bucket: str, artifacts: list[Artifact], *, region: str) -> None:
    """Create the staging bucket if needed and upload artifacts not already there (keys are content hashes)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        arguments: dict[str, Any] = {"Bucket": bucket}
        if region != "us-east-1":  # S3 rejects an explicit us-east-1 LocationConstraint
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        LOG.info("created staging bucket %s", bucket)
    for artifact in artifacts:
        try:
            s3.head_object(Bucket=bucket, Key=artifact.key)
        except ClientError:
            s3.upload_file(str(artifact.file), bucket, artifact.key)
            LOG.info("uploaded %s to s3://%s/%s", artifact.source, bucket, artifact.key)
