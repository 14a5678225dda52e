"""The image functions' Dockerfiles: one recipe, each file naming only its own function folder.

SAM builds each image function from its own `Metadata.Dockerfile`, so the files stay separate; a fix
to one (base image, install flags, entry point) must reach them all.
"""

from __future__ import annotations

from pathlib import Path

from infra.aws.functions import function_packages

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_functions_dockerfiles_differ_only_in_their_function_folder() -> None:
    images = [p for p in function_packages(ROOT / "template.yaml") if p.package_type == "Image"]
    recipes = {}
    for package in images:
        assert package.dockerfile is not None
        folder = package.dockerfile.parent.relative_to(ROOT).as_posix()
        recipes[package.logical_id] = package.dockerfile.read_text().replace(f"{folder}/", "functions/<name>/")

    assert len(images) >= 2
    assert len(set(recipes.values())) == 1, recipes
    assert "COPY functions/<name>/app.py" in next(iter(recipes.values()))
