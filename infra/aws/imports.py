"""Which third-party packages a handler imports, read from the source (nothing is imported).

Starting at functions/<name>/app.py, imports of the first-party library are followed module by
module. Module-level imports run at cold start: their packages must be installed. Imports inside
functions run only on some paths: they are reported apart, as `lazy`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportReport:
    cold_start: set[str] = field(default_factory=set)  # top-level names of third-party modules
    lazy: set[str] = field(default_factory=set)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(module name, imported at module level?) for every import outside `if TYPE_CHECKING:`."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, top)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, top))
                found.extend((f"{child.module}.{alias.name}", top) for alias in child.names)
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, inner)

    visit(tree, True)
    return found


def _module_file(name: str, roots: list[Path]) -> Path | None:
    parts = name.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def handler_imports(app: Path, library_roots: list[Path], first_party: frozenset[str]) -> ImportReport:
    """Third-party imports reachable from `app` through first-party modules found under `library_roots`."""
    report = ImportReport()
    roots = [app.parent, *library_roots]
    pending: list[tuple[Path, bool]] = [(app, True)]
    seen: dict[Path, bool] = {}
    while pending:
        path, at_cold_start = pending.pop()
        if seen.get(path) is True or (path in seen and not at_cold_start):
            continue
        seen[path] = at_cold_start
        for name, top in _imports(ast.parse(path.read_text(), filename=str(path))):
            cold = at_cold_start and top
            head = name.split(".")[0]
            if head in first_party or _module_file(name, [app.parent]) is not None:
                target = _module_file(name, roots)
                if target is not None:
                    pending.append((target, cold))
                    parent = _module_file(head, roots)  # importing a.b runs a/__init__.py too
                    if parent is not None:
                        pending.append((parent, cold))
            elif head not in sys.stdlib_module_names and head != "__future__":
                (report.cold_start if cold else report.lazy).add(head)
    report.lazy -= report.cold_start
    return report
