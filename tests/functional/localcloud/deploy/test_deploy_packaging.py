"""Packaging zips code like `sam package` and gives unchanged code the same S3 key."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from infra.localcloud.deploy.packaging import Packager, write_deterministic_zip


def _code(folder: Path) -> Path:
    (folder / "pkg").mkdir(parents=True)
    (folder / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (folder / "pkg" / "util.py").write_text("X = 1\n")
    (folder / "pkg" / "__pycache__").mkdir()
    (folder / "pkg" / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"bytecode")
    (folder / "stale.pyc").write_bytes(b"bytecode")
    return folder


def test_zip_is_byte_identical_regardless_of_mtime_and_skips_bytecode(tmp_path: Path) -> None:
    source = _code(tmp_path / "src")
    write_deterministic_zip(source, tmp_path / "one.zip")
    os.utime(source / "app.py", (0, 1_000_000_000))
    write_deterministic_zip(source, tmp_path / "two.zip")

    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["app.py", "pkg/util.py"]


def test_template_paths_are_rewritten_to_content_addressed_s3_locations(tmp_path: Path) -> None:
    app = tmp_path / "app"
    _code(app / "fn")
    _code(app / "layer")
    (app / "flow.asl.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    template = {
        "Globals": {"Function": {"CodeUri": "fn/"}},
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler"}},
            "Remote": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "s3://elsewhere/code.zip"},
            },
            "Layer": {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": "layer"}},
            "Flow": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {"DefinitionUri": "flow.asl.json"},
            },
            "Raw": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "fn"}},
        },
    }
    packager = Packager(template_dir=app, build_dir=tmp_path / "build", bucket="stage")

    packaged, artifacts = packager.package(template)

    code_uri = packaged["Globals"]["Function"]["CodeUri"]
    assert code_uri.startswith("s3://stage/") and code_uri.endswith(".zip")
    assert packaged["Resources"]["Remote"]["Properties"]["CodeUri"] == "s3://elsewhere/code.zip"
    assert packaged["Resources"]["Raw"]["Properties"]["Code"] == {
        "S3Bucket": "stage",
        "S3Key": code_uri[len("s3://stage/") :],
    }
    assert packaged["Resources"]["Flow"]["Properties"]["DefinitionUri"].endswith(".json")
    assert template["Globals"]["Function"]["CodeUri"] == "fn/"  # the input is not modified
    assert {a.source for a in artifacts} == {app / "fn", app / "layer", app / "flow.asl.json"}
    # The same folder content gives the same key, whatever folder it sits in.
    fn_key = code_uri.rsplit("/", 1)[-1]
    layer_key = packaged["Resources"]["Layer"]["Properties"]["ContentUri"].rsplit("/", 1)[-1]
    assert fn_key == layer_key
