"""Size accounting of sam build output: function plus layers, unzipped, against 250 MB."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.aws.functions import FunctionPackage
from infra.aws.sizes import ZIP_LIMIT_BYTES, BuildMissingError, main, zip_sizes


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:  # sparse: the size is counted, no disk is used
        handle.truncate(size)


def _package(name: str) -> FunctionPackage:
    return FunctionPackage(name, "Zip", Path("/src") / name, layers=("Layer",))


def test_a_function_is_counted_with_its_layers_and_fails_at_the_limit(tmp_path: Path) -> None:
    _file(tmp_path / "Small" / "app.py", 1000)
    _file(tmp_path / "Big" / "lib.so", ZIP_LIMIT_BYTES - 10)
    _file(tmp_path / "Layer" / "python" / "x.py", 10)

    small, big = zip_sizes([_package("Small"), _package("Big")], tmp_path)

    assert (small.code_bytes, small.layer_bytes, small.within_limit) == (1000, 10, True)
    assert big.total_bytes == ZIP_LIMIT_BYTES and not big.within_limit


def test_missing_build_output_is_an_error_naming_the_function(tmp_path: Path) -> None:
    with pytest.raises(BuildMissingError, match="Small"):
        zip_sizes([_package("Small")], tmp_path)


def test_the_cli_exits_non_zero_when_a_zip_function_is_over(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "fn").mkdir(parents=True)
    (app / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: app.handler, Runtime: python3.11}\n"
    )
    _file(tmp_path / "build" / "Fn" / "big.so", ZIP_LIMIT_BYTES + 1)

    assert main(["--template", str(app / "template.yaml"), "--build-dir", str(tmp_path / "build"),
                 "--images", str(tmp_path / "none"), "--out", str(tmp_path / "sizes.md")]) == 1
    assert "**over 250 MB**" in (tmp_path / "sizes.md").read_text()
