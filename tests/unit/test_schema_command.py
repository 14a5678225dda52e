"""`make schema` and `make schema-check` (scripts/schema.py): files with odd names, a readable summary,
one clear message and a non-zero exit on bad input, never a traceback."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selfheal.schema import dump_schema_file, load_schema_file
from selfheal.schema_inference import infer_schema, read_csv_file

ROOT = Path(__file__).resolve().parents[2]
HOUSES_CSV = ROOT / "tests" / "data" / "schema" / "houses.csv"


def load_script():
    spec = importlib.util.spec_from_file_location("schema_script", ROOT / "scripts" / "schema.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = load_script()


def make(*args: str) -> subprocess.CompletedProcess[str]:
    # -o: never (re)install .venv from here, whatever the stamp's age; the test runs inside that venv.
    return subprocess.run(["make", "-s", "--no-print-directory", "-o", ".venv/.installed", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def odd_csv(tmp_path) -> Path:
    folder = tmp_path / "my data"
    folder.mkdir()
    path = folder / "King County sales (2015).csv"
    shutil.copy(HOUSES_CSV, path)
    return path


def test_make_schema_on_a_file_name_with_spaces(odd_csv):
    out = odd_csv.parent / "edited schema.json"
    done = make("schema", f"FILE={odd_csv}", "TARGET=price", f"OUT={out}")
    assert done.returncode == 0, done.stderr
    schema = load_schema_file(out)
    assert schema.name == "king_county_sales_2015" and schema.target.transform == "log"
    lines = done.stdout.splitlines()
    assert lines[0] == f"{odd_csv}: 24 rows, 12 columns"
    assert lines[1].split() == ["column", "kind", "range", "/", "levels", "capped", "notes"]
    assert lines[2].split()[:3] == ["id", "id", "-"]
    price = next(line for line in lines if line.startswith("price "))
    assert "[100,000, 3,000,000]" in price and "unit USD; transform log" in price
    assert next(line for line in lines if line.startswith("lat ")).split()[2:5] == ["[47.57,", "47.74]", "no"]
    assert f"wrote {out}" in done.stdout

    again = make("schema", f"FILE={odd_csv}", "TARGET=price", f"OUT={out}")  # never overwrites edits
    assert again.returncode != 0 and "exists and is not overwritten" in again.stderr

    checked = make("schema-check", f"SCHEMA={out}", f"FILE={odd_csv}")
    assert checked.returncode == 0, checked.stderr
    assert "its columns match the schema" in checked.stdout
    assert "column 'zip': 1 value(s) not among the levels are folded into 'other'" in checked.stdout


def test_make_schema_needs_file_and_target():
    done = make("schema", f"FILE={HOUSES_CSV}")
    assert done.returncode == 2
    assert "usage: make schema FILE=data.csv TARGET=price" in done.stderr
    done = make("schema-check")
    assert done.returncode == 2 and "usage: make schema-check SCHEMA=" in done.stderr


def test_make_schema_check_names_a_hand_editing_mistake(tmp_path):
    path = tmp_path / "hand edited.json"
    data = json.loads(dump_schema_file(infer_schema(read_csv_file(HOUSES_CSV), "price", name="houses")))
    data["columns"][0]["maxmum"] = data["columns"][0].pop("maximum")
    path.write_text(json.dumps(data, indent=2))
    done = make("schema-check", f"SCHEMA={path}")
    assert done.returncode != 0  # the script exits 1; make reports a failed recipe as 2
    assert "column 'sqft': unknown field 'maxmum' (did you mean 'maximum'?)" in done.stderr
    assert "column 'sqft': missing field 'maximum'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_default_output_is_next_to_the_current_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert script.main(["infer", "--target", "price", "--", str(HOUSES_CSV)]) == 0
    assert (tmp_path / "houses.schema.json").exists()
    out = capsys.readouterr().out
    assert "wrote " + str(tmp_path / "houses.schema.json") in out
    # an existing directory as --out: the default name inside it
    (tmp_path / "schemas").mkdir()
    assert script.main(["infer", "--target=price", "--out", "schemas", str(HOUSES_CSV)]) == 0
    assert (tmp_path / "schemas" / "houses.schema.json").exists()


BAD_RUNS = [
    (["infer", "--target", "prize"], "target column 'prize' is not in the CSV (did you mean 'price'?); its columns are: id, date"),
    (["infer", "--target", "neighbourhood"], "target column 'neighbourhood' is not numeric"),
]


@pytest.mark.parametrize(("args", "expected"), BAD_RUNS, ids=["target absent", "target not numeric"])
def test_bad_input_is_one_message_and_exit_1(args, expected, tmp_path, capsys):
    assert script.main([*args, "--out", str(tmp_path / "s.json"), str(HOUSES_CSV)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("schema infer: ") and expected in err
    assert not (tmp_path / "s.json").exists()


def test_unreadable_csvs_are_named(tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("price,ville\n1,Montréal\n".encode("latin-1"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path, expected in [(latin, "not UTF-8"), (empty, "file is empty"), (tmp_path / "absent.csv", "no such file")]:
        assert script.main(["infer", "--target", "price", "--out", str(tmp_path / "s.json"), str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"schema infer: {path}: ") and expected in err, err


def test_check_against_a_csv_with_other_columns(tmp_path, capsys):
    schema = tmp_path / "houses.schema.json"
    assert script.main(["infer", "--target", "price", "--out", str(schema), str(HOUSES_CSV)]) == 0
    other = tmp_path / "other.csv"
    other.write_text("price,sqft,garage\n100000,1200,1\n")
    capsys.readouterr()
    assert script.main(["check", "--csv", str(other), str(schema)]) == 1
    err = capsys.readouterr().err
    assert "missing in the CSV: 'bedrooms', 'lat', 'lon', 'grade', 'waterfront', 'zip', 'neighbourhood'" in err
    assert "in the CSV but not in the schema: 'garage'" in err


def test_the_script_runs_as_a_subprocess_without_a_traceback(tmp_path):
    odd = tmp_path / "-odd; name.csv"
    odd.write_text("price,b\n1,2\n")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "schema.py"), "infer", "--target", "nope",
                           "--", str(odd)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == "schema infer: target column 'nope' is not in the CSV; its columns are: price, b"
