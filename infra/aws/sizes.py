"""Unzipped sizes of what `sam build` made, against Lambda's 250 MB limit for zip functions.

Lambda counts a zip function's deployment package and all its layers, unzipped, against
262,144,000 bytes (250 MiB); container images may be up to 10 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.aws.functions import FunctionPackage, function_packages

ZIP_LIMIT_BYTES = 250 * 1024 * 1024
MB = 1024 * 1024


class BuildMissingError(FileNotFoundError):
    """`sam build` output is missing for a function or layer."""


def tree_size(path: Path) -> int:
    """Bytes of every file under `path`, as they would be unzipped (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


@dataclass(frozen=True)
class ZipSize:
    function: str
    code_bytes: int
    layer_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.code_bytes + self.layer_bytes

    @property
    def within_limit(self) -> bool:
        return self.total_bytes < ZIP_LIMIT_BYTES


def zip_sizes(packages: list[FunctionPackage], build_dir: Path) -> list[ZipSize]:
    """The size of each zip function's build output plus its layers' build outputs."""
    sizes = []
    for package in packages:
        if package.package_type != "Zip":
            continue
        folders = [build_dir / package.logical_id, *(build_dir / layer for layer in package.layers)]
        missing = [str(f) for f in folders if not f.is_dir()]
        if missing:
            raise BuildMissingError(f"{package.logical_id}: no sam build output at {', '.join(missing)}")
        sizes.append(ZipSize(package.logical_id, tree_size(folders[0]), sum(tree_size(f) for f in folders[1:])))
    return sizes


def _mb(value: int) -> str:
    return f"{value / MB:.1f}"


def report(zips: list[ZipSize], images: list[dict[str, Any]]) -> str:
    """The markdown committed as docs/sizes.md."""
    lines = [
        "# Lambda package sizes",
        "",
        "Written by `make sizes` from `sam build` output (`.aws-sam/build`) and the image functions'",
        "fresh-environment check (`.aws-sam/fresh`). MB = MiB. Lambda's limit for a zip function is",
        f"{ZIP_LIMIT_BYTES / MB:.0f} MB unzipped, function and layers together; container images may be 10 GB.",
        "For an image function the figure is its fresh venv's site-packages (pip included), without the",
        "base image: what its requirements.txt installs.",
        "",
        "| function | package | code MB | layers MB | total MB | limit |",
        "|---|---|---:|---:|---:|---|",
    ]
    for z in zips:
        verdict = "under 250 MB" if z.within_limit else "**over 250 MB**"
        lines.append(f"| {z.function} | zip | {_mb(z.code_bytes)} | {_mb(z.layer_bytes)} | {_mb(z.total_bytes)} | {verdict} |")
    for image in images:
        lines.append(f"| {image['function']} | image | {_mb(int(image['installed_bytes']))} (site-packages) "
                     f"| - | {_mb(int(image['installed_bytes']))} | 10 GB (image) |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--images", type=Path, default=Path(".aws-sam/fresh"),
                        help="folder of <Function>.json results of the fresh-environment check")
    parser.add_argument("--out", type=Path, help="write the markdown report here")
    args = parser.parse_args(argv)
    zips = zip_sizes(function_packages(args.template), args.build_dir)
    images = [json.loads(p.read_text()) for p in sorted(args.images.glob("*.json"))] if args.images.is_dir() else []
    text = report(zips, images)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    sys.stdout.write(text)
    sys.stdout.write(json.dumps([{**asdict(z), "total_bytes": z.total_bytes} for z in zips]) + "\n")
    return 0 if all(z.within_limit for z in zips) else 1


if __name__ == "__main__":
    raise SystemExit(main())
