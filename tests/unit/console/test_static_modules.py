"""The console's script is one ES module per concern, loaded by the browser as is (no build step):
every file stays short, every import names a module that exists, and each is served as JavaScript."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from console.api.deps import ConsoleState
from console.app import STATIC, create_app
from console.cloud import Cloud

MAX_LINES = 300
MODULES = STATIC / "js"
ENTRY = MODULES / "main.js"
# Static and dynamic imports and re-exports: `from "./x.js"`, `import "./x.js"`, `import("./x.js")`.
SPECIFIER = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']""")


def _imports(module: Path) -> list[str]:
    return SPECIFIER.findall(module.read_text())


def _resolve(module: Path, specifier: str) -> Path:
    return (module.parent / specifier).resolve()


def test_no_static_file_is_over_300_lines() -> None:
    lengths = {str(p.relative_to(STATIC)): len(p.read_text().splitlines()) for p in STATIC.rglob("*") if p.is_file()}
    assert "js/main.js" in lengths
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_the_page_loads_main_js_as_a_module() -> None:
    scripts = re.findall(r"<script\b[^>]*>", (STATIC / "index.html").read_text())
    assert scripts == ['<script type="module" src="/static/js/main.js">']


def test_every_import_names_a_module_that_exists() -> None:
    # A browser resolves only relative or absolute URLs without an import map: no bare "lib" names.
    modules = sorted(MODULES.glob("*.js"))
    assert len(modules) > 1
    broken = [(m.name, spec) for m in modules for spec in _imports(m)
              if not spec.startswith("./") or not spec.endswith(".js") or not _resolve(m, spec).is_file()]
    assert broken == []


def test_every_module_is_loaded_from_main_js() -> None:
    seen, todo = set(), [ENTRY.resolve()]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(p for p in (_resolve(module, spec) for spec in _imports(module)) if p.is_file())
    assert {p.resolve() for p in MODULES.glob("*.js")} - seen == set()


def test_modules_are_served_as_javascript() -> None:
    # Browsers refuse a module script served with any other MIME type (and the app sends nosniff).
    app = create_app(ConsoleState(cloud=Cloud(None, endpoint_url="http://127.0.0.1:9"), token="t"))

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
            return await c.get(path)

    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's sync API may own this thread's event loop
        for module in sorted(MODULES.glob("*.js")):
            resp = pool.submit(asyncio.run, get(f"/static/js/{module.name}")).result()
            assert resp.status_code == 200, module.name
            assert resp.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}, module.name
