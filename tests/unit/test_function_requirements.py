"""Each function's requirements.txt: what its code imports, pinned as requirements.lock pins it.

Zip functions run on Lambda's python3.11 runtime (Amazon Linux 2, glibc 2.26); the only pins that
may differ from the lock are listed in AL2_PINS, each with its reason in the file.
"""

from __future__ import annotations

import functools
import re
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from infra.aws.functions import FunctionPackage, function_packages
from infra.aws.imports import handler_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = function_packages(ROOT / "template.yaml")
AL2_PINS = {"numpy": "1.26.4", "onnxruntime": "1.16.3"}
_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)==(?P<version>[^\s#]+)\s*(?:#\s*(?P<why>.+))?$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_canonical(name)] = version.strip()
    return pins


def _pins(package: FunctionPackage) -> dict[str, tuple[str, str | None]]:
    pins = {}
    for line in package.requirements.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        assert match, f"{package.requirements}: not an exact pin: {line!r}"
        pins[_canonical(match["name"])] = (match["version"], match["why"])
    return pins


def _with_dependencies(names: set[str]) -> set[str]:
    """The distributions installing `names` brings in (read from this environment's metadata)."""
    closure, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        try:
            declared = requires(name) or []
        except PackageNotFoundError:
            continue
        for text in declared:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(_canonical(requirement.name))
    return closure


def _imports(package: FunctionPackage):
    app = package.source_dir / "app.py"
    return handler_imports(app, [ROOT / "layers" / "selfheal" / "python"], frozenset({"selfheal"}))


@functools.cache
def _table() -> dict[str, list[str]]:
    return packages_distributions()


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    table = _table()
    return {module: {_canonical(d) for d in table.get(module, [module])} for module in modules}


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.logical_id)
def test_every_pin_is_the_locked_version_or_a_documented_lambda_runtime_pin(package: FunctionPackage) -> None:
    lock = _lock()
    for name, (version, why) in _pins(package).items():
        if package.package_type == "Zip" and name in AL2_PINS:
            assert version == AL2_PINS[name] and why and "glibc" in why + package.requirements.read_text(), name
        else:
            assert lock.get(name) == version, f"{package.logical_id}: {name}=={version}, lock has {lock.get(name)}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.logical_id)
def test_what_runs_at_cold_start_is_installed(package: FunctionPackage) -> None:
    installed = _with_dependencies(set(_pins(package)))
    missing = {m: d for m, d in _distributions(_imports(package).cold_start).items() if not d & installed}
    assert not missing, f"{package.logical_id} imports these at cold start, add them to {package.requirements}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.logical_id)
def test_nothing_is_listed_that_the_code_does_not_import_unless_the_line_says_why(package: FunctionPackage) -> None:
    report = _imports(package)
    imported = set().union(*_distributions(report.cold_start | report.lazy).values())
    unexplained = {name for name, (_, why) in _pins(package).items() if name not in imported and not why}
    assert not unexplained, f"{package.logical_id}: {sorted(unexplained)} listed but not imported"


def test_serving_needs_no_scikit_learn_pandas_or_scipy() -> None:
    (predict,) = [p for p in PACKAGES if p.logical_id == "PredictFunction"]
    report = _imports(predict)
    assert not (report.cold_start | report.lazy) & {"sklearn", "pandas", "scipy", "evidently", "skl2onnx"}
    assert predict.package_type == "Zip"
