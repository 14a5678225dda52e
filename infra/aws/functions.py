"""The template's functions as `sam build` packages them: zip (code folder + layers) or container image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from infra.localcloud.deploy import load_template

PackageType = Literal["Zip", "Image"]


class PackagingSpecError(ValueError):
    """A function's packaging fields are missing or inconsistent (no CodeUri, no Dockerfile...)."""


@dataclass(frozen=True)
class FunctionPackage:
    """One AWS::Serverless::Function as far as packaging is concerned."""

    logical_id: str
    package_type: PackageType
    source_dir: Path  # CodeUri for a zip; the folder of the Dockerfile for an image
    layers: tuple[str, ...] = ()  # logical ids of the template's own layers
    dockerfile: Path | None = None
    docker_context: Path | None = None

    @property
    def requirements(self) -> Path:
        return self.source_dir / "requirements.txt"


def _layer_ids(value: Any) -> tuple[str, ...]:
    return tuple(item["Ref"] for item in value or [] if isinstance(item, dict) and "Ref" in item)


def function_packages(template_path: Path) -> list[FunctionPackage]:
    """Every function of a SAM template with where `sam build` takes its code from."""
    template = load_template(template_path)
    root = template_path.parent
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    packages = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_, **(resource.get("Properties") or {})}
        if props.get("PackageType") == "Image":
            metadata = resource.get("Metadata") or {}
            if "Dockerfile" not in metadata:
                raise PackagingSpecError(f"{logical_id}: an image function needs Metadata.Dockerfile")
            context = (root / str(metadata.get("DockerContext", "."))).resolve()
            dockerfile = context / str(metadata["Dockerfile"])
            packages.append(FunctionPackage(logical_id, "Image", dockerfile.parent, (), dockerfile, context))
            continue
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            raise PackagingSpecError(f"{logical_id}: a zip function needs a local CodeUri")
        packages.append(FunctionPackage(logical_id, "Zip", (root / code_uri).resolve(), _layer_ids(props.get("Layers"))))
    return packages


def main(argv: list[str] | None = None) -> int:
    """`--exclude-images`: the `sam build --exclude` arguments for image functions (they need Docker)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="the template's functions as sam build packages them")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--exclude-images", action="store_true")
    args = parser.parse_args(argv)
    packages = function_packages(args.template)
    if args.exclude_images:
        sys.stdout.write(" ".join(f"--exclude {p.logical_id}" for p in packages if p.package_type == "Image") + "\n")
    else:
        for p in packages:
            sys.stdout.write(f"{p.logical_id}\t{p.package_type}\t{p.source_dir}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
