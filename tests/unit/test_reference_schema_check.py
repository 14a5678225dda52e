"""`make up REFERENCE=… SCHEMA=…` checks the schema against the reference before anything starts
(`scripts/ops.py check-reference`, the first step of `make up`): errors name the file and the columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOUSES = ROOT / "tests" / "data" / "schema" / "houses.csv"


def check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/ops.py", "check-reference"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env})


@pytest.fixture
def schema_file(tmp_path: Path) -> Path:
    out = tmp_path / "houses.schema.json"
    made = subprocess.run([sys.executable, "scripts/schema.py", "infer", "--target", "price", "--out", str(out), "--",
                           str(HOUSES)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    return out


def test_a_schema_that_matches_its_reference_passes(tmp_path, schema_file):
    ok = check(tmp_path, REFERENCE=str(HOUSES), SCHEMA=str(schema_file))
    assert ok.returncode == 0, ok.stderr


def test_a_schema_that_does_not_match_fails_naming_the_columns(tmp_path, schema_file):
    data = json.loads(schema_file.read_text())
    data["columns"] = [c for c in data["columns"] if c["name"] != "bedrooms"]
    data["columns"].append({"name": "garage", "kind": "integer", "minimum": 0, "maximum": 4})
    edited = tmp_path / "edited.schema.json"
    edited.write_text(json.dumps(data))
    bad = check(tmp_path, REFERENCE=str(HOUSES), SCHEMA=str(edited))
    assert bad.returncode != 0
    assert "garage" in bad.stderr and "bedrooms" in bad.stderr and "Traceback" not in bad.stderr


def test_an_invalid_schema_file_or_one_without_reference_is_refused(tmp_path, schema_file):
    broken = tmp_path / "broken.schema.json"
    broken.write_text(json.dumps({"name": "x", "columns": [{"name": "a", "kind": "float"}]}))
    bad = check(tmp_path, REFERENCE=str(HOUSES), SCHEMA=str(broken))
    assert bad.returncode != 0 and "SCHEMA" in bad.stderr and "Traceback" not in bad.stderr
    alone = check(tmp_path, SCHEMA=str(schema_file))
    assert alone.returncode != 0 and "SCHEMA needs REFERENCE" in alone.stderr
