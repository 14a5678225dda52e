"""Write a schema file inferred from a CSV, or check a (hand-edited) schema file (docs/schema.md).

    python scripts/schema.py infer FILE --target COLUMN [--out PATH]   make schema FILE=… TARGET=… [OUT=…]
    python scripts/schema.py check SCHEMA [--csv FILE]                 make schema-check SCHEMA=… [FILE=…]

`infer` writes PATH (default: <FILE's stem>.schema.json in the current directory; an existing file
is never overwritten) and prints one row per column: kind, range or levels, whether outliers are
capped, and why. `check` validates a schema file strictly and, with --csv, compares it with a CSV:
columns missing or unknown fail the check; values outside the bounds or levels are reported.
Errors name the problem with a non-zero exit (1: invalid input, 2: usage); `--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "selfheal" / "python"))

from selfheal.schema import (  # noqa: E402
    CategoricalFeature,
    NumericFeature,
    Schema,
    SchemaFileError,
    dump_schema_file,
    load_schema_file,
    match_columns,
)
from selfheal.schema_inference import (  # noqa: E402
    SchemaInferenceError,
    infer_schema_report,
    read_csv_file,
    schema_name,
    value_problems,
)

RANGE_WIDTH = 48


def _number(value: float) -> str:
    sep = "," if abs(value) >= 10_000 else ""  # 3,000,000 but 1870 (years read better without)
    return f"{value:{sep}.0f}" if float(value).is_integer() else f"{value:{sep}.6g}"


def _range(schema: Schema, name: str) -> str:
    if name == schema.target.name:
        t = schema.target
        return f"[{_number(t.minimum)}, {_number(t.maximum)}]"
    for f in schema.numeric:
        if f.name == name:
            return f"[{_number(f.minimum)}, {_number(f.maximum)}]"
    for c in schema.categorical:
        if c.name == name:
            return _levels(c)
    return "-"


def _levels(c: CategoricalFeature) -> str:
    if c.kind == "boolean":
        return " / ".join(c.categories)
    head = f"{len(c.known_levels)} level{'s' if len(c.known_levels) != 1 else ''}"
    head += f" + {c.other!r}: " if c.folds else ": "
    text = head + ", ".join(c.known_levels)
    return text if len(text) <= RANGE_WIDTH else text[: RANGE_WIDTH - 1] + "…"


def _capped(schema: Schema, name: str) -> str:
    feature: NumericFeature | None = next((f for f in schema.numeric if f.name == name), None)
    if name == schema.target.name:
        return "no"
    return "" if feature is None else ("yes" if feature.cap_outliers else "no")


def _target_notes(schema: Schema) -> list[str]:
    t = schema.target
    notes = [f"unit {t.unit}" if t.unit else "unit unspecified"]
    if t.transform != "none":
        notes.append(f"transform {t.transform}")
    return notes


def summary(schema: Schema, columns: list[str], notes: dict[str, tuple[str, ...]] | None = None) -> str:
    """One row per column: column, kind, range/levels, capped, notes (a fixed-width table)."""
    rows = [("column", "kind", "range / levels", "capped", "notes")]
    for name in columns:
        extra = list((notes or {}).get(name, ()))
        if name == schema.target.name:
            extra = _target_notes(schema) + extra
        rows.append((name, schema.kind_of(name), _range(schema, name), _capped(schema, name), "; ".join(extra)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def schema_columns(schema: Schema) -> list[str]:
    return [schema.target.name, *schema.feature_names, *schema.excluded_names]


def cmd_infer(args: argparse.Namespace) -> int:
    source = Path(args.file)
    frame = read_csv_file(source)
    inference = infer_schema_report(frame, args.target, name=args.name or schema_name(source), margin=args.margin)
    default_name = f"{source.stem}.schema.json"
    out = Path(args.out) if args.out else Path.cwd() / default_name
    if out.is_dir():
        out = out / default_name
    if out.exists():
        raise SchemaInferenceError(f"{out} exists and is not overwritten (it may hold your edits): "
                                   "remove it, or write elsewhere with OUT=…")
    if not out.parent.is_dir():
        raise SchemaInferenceError(f"{out}: directory {out.parent} does not exist")
    text = dump_schema_file(inference.schema)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    load_schema_file(out)  # what was written reads back (and passes the same validation as a hand edit)
    print(f"{source}: {inference.rows} rows, {len(inference.columns)} columns")
    print(summary(inference.schema, list(inference.columns), inference.notes))
    print(f"\nwrote {out}: review it (bounds, kinds, levels), then `make schema-check SCHEMA={out}` "
          "checks your edits (docs/schema.md)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    schema = load_schema_file(args.schema)
    print(f"{args.schema}: valid schema {schema.name!r}: target {schema.target.name!r}, "
          f"{len(schema.feature_names)} features, {len(schema.excluded)} excluded")
    print(summary(schema, schema_columns(schema)))
    if not args.csv:
        return 0
    frame = read_csv_file(args.csv)
    match = match_columns(schema, [str(c) for c in frame.columns])
    if not match.ok:
        print(f"{args.csv} does not match {args.schema}:", file=sys.stderr)
        for problem in match.problems():
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"\n{args.csv}: {len(frame)} rows; its columns match the schema")
    for line in value_problems(schema, frame):
        print(f"  note: {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser("infer", help="infer a schema file from a labelled CSV")
    i.add_argument("file", help="the CSV")
    i.add_argument("--target", required=True, help="the column to predict")
    i.add_argument("--out", default=None, help="the schema file to write (default: <stem>.schema.json here)")
    i.add_argument("--name", default=None, help="the schema's name (default: from the file name)")
    i.add_argument("--margin", type=float, default=0.25, help="range margin, a share of the observed span")
    i.set_defaults(func=cmd_infer)
    c = sub.add_parser("check", help="validate a schema file, optionally against a CSV")
    c.add_argument("schema", help="the schema file")
    c.add_argument("--csv", default=None, help="a CSV whose columns and values to compare")
    c.set_defaults(func=cmd_check)
    args = p.parse_args(argv)
    try:
        return int(args.func(args))
    except (SchemaFileError, SchemaInferenceError, OSError) as err:
        if args.debug:
            raise
        print(f"schema {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
