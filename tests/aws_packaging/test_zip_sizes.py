"""Every zip function, with its layers, stays under Lambda's 250 MB unzipped limit (read from sam build)."""

from __future__ import annotations

from pathlib import Path

from infra.aws.functions import function_packages
from infra.aws.sizes import ZIP_LIMIT_BYTES, zip_sizes

from .conftest import ROOT


def test_every_zip_function_with_its_layers_is_under_250_mb_unzipped(build_dir: Path) -> None:
    sizes = zip_sizes(function_packages(ROOT / "template.yaml"), build_dir)

    assert {s.function for s in sizes} >= {"PredictFunction", "PromoteFunction", "RecoverFunction"}
    over = {s.function: f"{s.total_bytes / 2**20:.1f} MB" for s in sizes if s.total_bytes >= ZIP_LIMIT_BYTES}
    assert not over, f"over Lambda's 250 MB unzipped limit: {over}"


def test_the_predict_function_ships_no_scikit_learn_pandas_or_scipy(build_dir: Path) -> None:
    shipped = {p.name.lower() for p in (build_dir / "PredictFunction").iterdir()}

    assert {"onnxruntime", "fastapi", "mangum", "numpy"} <= shipped
    assert not shipped & {"sklearn", "pandas", "scipy", "evidently"}
