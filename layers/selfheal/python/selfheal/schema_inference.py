"""Infer a first schema from a CSV: each column's kind, ranges, levels, the target's unit and transform.

The rules are deterministic (the same frame always gives the same schema) and are meant to give a
file a person then reviews and edits (``make schema``, ``docs/schema.md``). For each column other
than the target, the first rule that matches decides its kind:

1. no value at all                                   -> ``id`` (excluded: nothing to learn from)
2. an id-like name (``id``, ``house_id``, ``parcelId``, ``PID``, ``uuid``, ``index``) and at least
   90% of its values distinct                        -> ``id``
3. exactly two distinct values forming a pair 0/1, false/true, no/yes, n/y, f/t (any case)
                                                     -> ``boolean``
4. at least 95% of the values parse as finite numbers:
   a. whole numbers with a code-like name (``zip``, ``zipcode``, ``postcode``, ``postal``, ``fips``,
      ``..._code``)                                  -> ``categorical`` (codes, not quantities)
   b. whole numbers, at most 10 distinct values, and a name that is not a count (bed..., bath...,
      room..., floor..., stor(e)y, garage, car..., year, yr, age, count, num..., qty, unit...)
                                                     -> ``categorical`` (codes such as grade 1..5)
   c. other whole numbers                            -> ``integer``
   d. anything else                                  -> ``numeric``
5. at least 95% of the values parse with one of :data:`DATE_FORMATS`   -> ``date`` (excluded)
6. text with more than 10 distinct values, at least 90% of them distinct  -> ``id`` (excluded)
7. other text                                        -> ``categorical``

Ranges: the observed ``[lo, hi]`` widened by ``margin`` (default 25%) of the observed span on each
side, rounded outward to the power of ten just under that widening; never below 0 when every
observed value is ≥ 0; whole numbers for integers; for a log-transformed target never below half
the observed minimum. IQR capping is on for numeric and integer features except coordinates (a
``lat``/``latitude``/``lon``/``lng``/``long``/``longitude`` name part); never for the target,
ids, dates or categoricals. The example value is the median.

Levels: most frequent first (ties alphabetically); whole-number codes in numeric order. A level seen fewer than ``max(5, 0.1% of the
values)`` times is rare and folded into ``other``, as is every level after the 100 most frequent;
if that would fold every level (a small sample), all are kept. Categoricals fold (``"other":
"other"``) so that a value unseen here is folded, not rejected, in later batches; booleans never
fold.

The target must be numeric (95% rule). Its unit is guessed as ``USD`` when every value is ≥ 0
and the median is at least 10,000 (prices in currency units), else left empty; ``transform: log``
is suggested when every value is positive and the skewness exceeds 1.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from selfheal.exceptions import DataQualityError
from selfheal.quality import MISSING_MARKERS, decode_text, read_header, read_text_frame
from selfheal.schema import (
    DEFAULT_OTHER,
    CategoricalFeature,
    ExcludedColumn,
    NumericFeature,
    Schema,
    SchemaFileError,
    Target,
)

NUMERIC_SHARE = 0.95
DATE_SHARE = 0.95
DATE_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y%m%dT%H%M%S", "%Y/%m/%d",
    "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m",
)
ID_UNIQUE_SHARE = 0.9
TEXT_ID_MIN_DISTINCT = 10
CODE_MAX_DISTINCT = 10
RARE_COUNT = 5
RARE_SHARE = 0.001
MAX_LEVELS = 100
DEFAULT_MARGIN = 0.25
LOG_SKEWNESS = 1.0
USD_MEDIAN = 10_000

_ID_PARTS = frozenset({"id", "uuid", "guid", "pid", "rowid"})
_COORDINATE_PARTS = frozenset({"lat", "latitude", "lon", "lng", "long", "longitude"})
_CODE_PARTS = frozenset({"zip", "zipcode", "postcode", "postal", "fips"})
_COUNT_PREFIXES = ("bed", "bath", "room", "rms", "floor", "stor", "garage", "car", "park", "year", "yr", "age",
                   "count", "num", "qty", "quant", "fireplace", "unit", "kitchen")
_BOOLEAN_PAIRS = (("0", "1"), ("false", "true"), ("no", "yes"), ("n", "y"), ("f", "t"))


class SchemaInferenceError(ValueError):
    """The CSV (or frame) cannot give a schema: unreadable, empty, no such target, a non-numeric target."""


@dataclass(frozen=True)
class SchemaInference:
    """An inferred schema, with the reasons and observations behind each column (for the summary)."""

    schema: Schema
    columns: tuple[str, ...]  # the CSV's column order, target included
    rows: int
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)


def name_parts(name: str) -> list[str]:
    """``"sqft_living"`` -> ``["sqft", "living"]``; ``"parcelId"`` -> ``["parcel", "id"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [p for p in re.split(r"[^a-z0-9]+", spaced.lower()) if p]


def is_id_name(name: str) -> bool:
    parts = name_parts(name)
    return bool(parts) and (parts[-1] in _ID_PARTS or parts == ["index"])


def is_coordinate_name(name: str) -> bool:
    return any(p in _COORDINATE_PARTS for p in name_parts(name))


def _is_code_name(name: str) -> bool:
    parts = name_parts(name)
    return any(p in _CODE_PARTS for p in parts) or (bool(parts) and parts[-1] == "code")


def _is_count_name(name: str) -> bool:
    return any(p.startswith(_COUNT_PREFIXES) for p in name_parts(name))


def _show(value: float) -> str:
    """A number for people: 3,057,500, 1870 (a year reads better without a separator) or 47.1508."""
    sep = "," if abs(value) >= 10_000 else ""
    return f"{value:{sep}.0f}" if float(value).is_integer() else f"{value:{sep}.6g}"


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def text_values(series: pd.Series) -> pd.Series:
    """A column's present values as stripped strings, as a CSV spells them; missing markers dropped."""
    present = series.dropna()
    if pd.api.types.is_bool_dtype(series):
        return present.map(lambda v: "true" if v else "false").astype(object)
    if pd.api.types.is_datetime64_any_dtype(series):
        return present.map(lambda v: v.isoformat()).astype(object)
    if pd.api.types.is_float_dtype(series):
        return present.map(_format_number).astype(object)
    if pd.api.types.is_numeric_dtype(series):
        return present.astype(str).astype(object)
    text = present.astype(str).str.strip()
    return text[~text.str.lower().isin(MISSING_MARKERS)].astype(object)


def _numbers(text: pd.Series) -> pd.Series:
    """Float values (NaN where a value is not a finite number)."""
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def _date_format(text: pd.Series) -> str | None:
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().mean() >= DATE_SHARE:
            return fmt
    return None


def _boolean_levels(text: pd.Series) -> tuple[str, str] | None:
    distinct = sorted(text.unique())
    if len(distinct) != 2:
        return None
    lowered = {v.lower(): v for v in distinct}
    for false, true in _BOOLEAN_PAIRS:
        if set(lowered) == {false, true}:
            return lowered[false], lowered[true]
    return None


def _nice_step(pad: float) -> float:
    return float(10 ** math.floor(math.log10(pad)))


def _round_to(value: float, step: float) -> float:
    digits = max(0, -round(math.log10(step)))
    return round(value, digits)


def infer_range(values: pd.Series, *, margin: float = DEFAULT_MARGIN, integer: bool = False,
                positive: bool = False) -> tuple[float, float]:
    """``[minimum, maximum]`` for observed finite values, by the rules in the module docstring."""
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo
    pad = margin * span if span > 0 else max(abs(hi) * margin, 1.0)
    if pad > 0:
        step = _nice_step(pad)
        minimum = _round_to(math.floor((lo - pad) / step) * step, step)
        maximum = _round_to(math.ceil((hi + pad) / step) * step, step)
    else:  # margin 0: the observed range itself
        minimum, maximum = lo, hi
    if lo >= 0:
        minimum = max(minimum, 0.0)
    if positive and lo > 0:
        half_step = _nice_step(lo / 2)
        minimum = max(minimum, _round_to(math.floor(lo / 2 / half_step) * half_step, half_step))
    if integer:
        minimum, maximum = float(math.floor(minimum)), float(math.ceil(maximum))
    return minimum, maximum


def _example(values: pd.Series, integer: bool) -> float:
    median = float(values.median())
    return float(math.floor(median + 0.5)) if integer else float(f"{median:.4g}")


def _code_order(level: str) -> tuple[float, str]:
    try:
        number = float(level)
    except ValueError:
        number = math.inf
    return (number if math.isfinite(number) else math.inf, level)


def _levels(text: pd.Series, *, codes: bool = False) -> tuple[tuple[str, ...], str | None, list[str]]:
    """(levels kept: most frequent first, or in numeric order for codes; the fold level or None; notes)."""
    counts = text.value_counts()
    ordered = [(str(v), int(n)) for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]
    candidates = [v for v, _ in ordered if v != DEFAULT_OTHER]
    if not candidates:  # the only value is spelled like the fold level
        return (DEFAULT_OTHER,), None, []
    threshold = max(RARE_COUNT, RARE_SHARE * len(text))
    frequent = [v for v, n in ordered if n >= threshold and v != DEFAULT_OTHER]
    notes = []
    if not frequent:
        notes.append(f"every level is rare (fewer than {threshold:g} rows each): kept, the sample is too small")
        frequent = candidates
    kept = frequent[:MAX_LEVELS]
    folded = [(v, n) for v, n in ordered if v not in kept and v != DEFAULT_OTHER]
    if folded:
        notes.append(f"{len(folded)} rare level(s) ({sum(n for _, n in folded)} row(s)) folded into {DEFAULT_OTHER!r}")
    if codes:
        kept.sort(key=_code_order)
    return tuple(kept), DEFAULT_OTHER, notes


def _missing_note(missing: int, rows: int) -> list[str]:
    return [f"{missing} of {rows} missing"] if missing else []


def _feature(name: str, series: pd.Series, rows: int, margin: float) -> tuple[NumericFeature | CategoricalFeature
                                                                               | ExcludedColumn, list[str]]:
    text = text_values(series)
    notes = _missing_note(rows - len(text), rows)
    if text.empty:
        return ExcludedColumn(name, "id"), ["no values: excluded"]
    distinct = int(text.nunique())
    unique_share = distinct / len(text)
    if is_id_name(name) and unique_share >= ID_UNIQUE_SHARE:
        return ExcludedColumn(name, "id"), [f"id-like name, {unique_share:.0%} distinct: excluded"]
    pair = _boolean_levels(text)
    if pair is not None:
        return CategoricalFeature(name, pair, kind="boolean"), [f"two values: {pair[0]}/{pair[1]}", *notes]
    numbers = _numbers(text)
    finite = numbers.dropna()
    if len(finite) >= NUMERIC_SHARE * len(text):
        bad = text[numbers.isna()]
        if len(bad):
            notes.append(f"{len(bad)} value(s) not numbers, e.g. {bad.iloc[0]!r}")
        whole = bool((finite == np.floor(finite)).all())
        if whole and (_is_code_name(name) or (finite.nunique() <= CODE_MAX_DISTINCT and not _is_count_name(name))):
            why = "code-like name" if _is_code_name(name) else f"{finite.nunique()} distinct whole numbers"
            levels, other, level_notes = _levels(text, codes=True)
            return (CategoricalFeature(name, levels, other=other),
                    [f"{why}: codes, not quantities", *level_notes, *notes])
        kind = "integer" if whole else "numeric"
        minimum, maximum = infer_range(finite, margin=margin, integer=whole)
        coordinate = is_coordinate_name(name)
        if coordinate:
            notes.insert(0, "coordinate: never capped")
        if finite.nunique() == 1:
            notes.append("constant: carries no information")
        feature = NumericFeature(name, minimum, maximum, cap_outliers=not coordinate,
                                 example=_example(finite, whole), kind=kind)
        return feature, [f"observed [{_show(finite.min())}, {_show(finite.max())}]", *notes]
    fmt = _date_format(text)
    if fmt is not None:
        return ExcludedColumn(name, "date"), [f"dates ({fmt}): excluded", *notes]
    if distinct > TEXT_ID_MIN_DISTINCT and unique_share >= ID_UNIQUE_SHARE:
        return ExcludedColumn(name, "id"), [f"text, {unique_share:.0%} distinct: excluded as an id", *notes]
    levels, other, level_notes = _levels(text)
    return CategoricalFeature(name, levels, other=other), [*level_notes, *notes]


def _target(name: str, series: pd.Series, rows: int, margin: float) -> tuple[Target, list[str]]:
    text = text_values(series)
    if text.empty:
        raise SchemaInferenceError(f"target column {name!r} has no values")
    numbers = _numbers(text)
    finite = numbers.dropna()
    if len(finite) < NUMERIC_SHARE * len(text):
        bad = text[numbers.isna()]
        raise SchemaInferenceError(
            f"target column {name!r} is not numeric: {len(bad)} of {len(text)} values are not numbers, "
            f"e.g. {bad.iloc[0]!r} (write plain numbers: no currency symbols or thousands separators)")
    notes = _missing_note(rows - len(text), rows)
    if len(finite) < len(text):
        notes.append(f"{len(text) - len(finite)} value(s) not numbers (rows dropped in training)")
    lo = float(finite.min())
    median = float(finite.median())
    unit = "USD" if lo >= 0 and median >= USD_MEDIAN else ""
    skewness = float(finite.skew()) if len(finite) >= 3 else 0.0
    log = lo > 0 and math.isfinite(skewness) and skewness > LOG_SKEWNESS
    minimum, maximum = infer_range(finite, margin=margin, positive=log)
    notes.insert(0, f"observed [{_show(lo)}, {_show(float(finite.max()))}]")
    if unit:
        notes.append(f"USD guessed (median {_show(median)}): edit if another currency")
    if log:
        notes.append(f"log: skewness {skewness:.1f} > {LOG_SKEWNESS:g}")
    return Target(name, minimum, maximum, unit=unit, transform="log" if log else "none"), notes


def infer_schema_report(frame: pd.DataFrame, target: str, *, name: str = "dataset",
                        margin: float = DEFAULT_MARGIN) -> SchemaInference:
    """Infer a schema and say why each column got its kind; :class:`SchemaInferenceError` on bad input."""
    if not 0 <= margin <= 10:
        raise SchemaInferenceError(f"margin {margin} must be between 0 and 10 (a share of the observed span)")
    columns = [str(c) for c in frame.columns]
    if not columns:
        raise SchemaInferenceError("the CSV has no columns")
    for position, column in enumerate(columns, start=1):
        if not column.strip():
            raise SchemaInferenceError(f"column #{position} has no name in the header: name it, or drop it "
                                       "(an unnamed first column is often an index written by pandas)")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise SchemaInferenceError(f"columns named twice in the header: {', '.join(map(repr, duplicates))}")
    if target not in columns:
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SchemaInferenceError(f"target column {target!r} is not in the CSV{hint}; "
                                   f"its columns are: {', '.join(columns)}")
    if len(frame) == 0:
        raise SchemaInferenceError("the CSV has a header but no data rows")
    rows = len(frame)
    spec, target_notes = _target(target, frame[target], rows, margin)
    notes: dict[str, tuple[str, ...]] = {target: tuple(target_notes)}
    features: list[NumericFeature | CategoricalFeature | ExcludedColumn] = []
    for column in columns:
        if column == target:
            continue
        feature, column_notes = _feature(column, frame[column], rows, margin)
        features.append(feature)
        notes[column] = tuple(column_notes)
    try:
        schema = Schema(
            name=name,
            numeric=tuple(f for f in features if isinstance(f, NumericFeature)),
            target=spec,
            categorical=tuple(f for f in features if isinstance(f, CategoricalFeature)),
            excluded=tuple(f for f in features if isinstance(f, ExcludedColumn)),
        )
    except SchemaFileError as err:
        raise SchemaInferenceError(str(err)) from None
    return SchemaInference(schema=schema, columns=tuple(columns), rows=rows, notes=notes)


def infer_schema(frame: pd.DataFrame, target: str, *, name: str = "dataset",
                 margin: float = DEFAULT_MARGIN) -> Schema:
    """Infer a schema from a frame (read from a CSV, as strings or with pandas' own types)."""
    return infer_schema_report(frame, target, name=name, margin=margin).schema


def schema_name(path: str | Path) -> str:
    """A schema name from a file name: ``"King County sales.csv"`` -> ``"king_county_sales"``."""
    stem = re.sub(r"[^a-z0-9]+", "_", Path(path).stem.lower()).strip("_")
    return stem or "dataset"


def read_csv_bytes(raw: bytes) -> pd.DataFrame:
    """A CSV's cells as text (as the pipeline reads uploads); :class:`SchemaInferenceError` when unreadable."""
    try:
        text = decode_text(raw)
        header = read_header(text)
        if len(header) != len(set(header)):
            duplicates = sorted({c for c in header if header.count(c) > 1})
            raise SchemaInferenceError(f"columns named twice in the header: {', '.join(map(repr, duplicates))}")
        frame = read_text_frame(text, header)
    except DataQualityError as err:
        raise SchemaInferenceError(str(err)) from None
    return frame


def read_csv_file(path: str | Path) -> pd.DataFrame:
    """:func:`read_csv_bytes` on a file; missing, a directory or unreadable is a :class:`SchemaInferenceError`."""
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise SchemaInferenceError(f"{path}: is a directory, not a CSV file") from None
    except FileNotFoundError:
        raise SchemaInferenceError(f"{path}: no such file") from None
    except OSError as err:
        raise SchemaInferenceError(f"{path}: cannot read: {err.strerror}") from None
    try:
        return read_csv_bytes(raw)
    except SchemaInferenceError as err:
        raise SchemaInferenceError(f"{path}: {err}") from None


def read_csv_string(text: str) -> pd.DataFrame:
    """:func:`read_csv_bytes` for CSV text (tests, notebooks)."""
    return read_csv_bytes(text.encode("utf-8"))


def value_problems(schema: Schema, frame: pd.DataFrame) -> list[str]:
    """What the pipeline would do to this CSV's values under ``schema``, column by column.

    Not errors: FixData nulls impossible and unparsable values and imputes them (or quarantines the
    batch when too many rows are bad). The lines help to tune a hand-edited schema's bounds and levels.
    """
    out: list[str] = []
    for feature in (*schema.numeric, schema.target):
        if feature.name not in frame.columns:
            continue
        label = f"target {feature.name!r}" if feature is schema.target else f"column {feature.name!r}"
        text = text_values(frame[feature.name])
        numbers = _numbers(text)
        finite = numbers.dropna()
        if len(finite) < len(text):
            bad = text[numbers.isna()]
            out.append(f"{label}: {len(bad)} value(s) are not numbers, e.g. {bad.iloc[0]!r}")
        below, above = finite[finite < feature.minimum], finite[finite > feature.maximum]
        if len(below):
            out.append(f"{label}: {len(below)} value(s) below minimum {feature.minimum:g} "
                       f"(smallest {_show(below.min())}) are impossible values")
        if len(above):
            out.append(f"{label}: {len(above)} value(s) above maximum {feature.maximum:g} "
                       f"(largest {_show(above.max())}) are impossible values")
        if feature.kind == "integer":
            fractional = finite[finite != np.floor(finite)]
            if len(fractional):
                out.append(f"{label}: {len(fractional)} value(s) are not whole numbers, e.g. "
                           f"{_format_number(fractional.iloc[0])}")
    for cat in schema.categorical:
        if cat.name not in frame.columns:
            continue
        text = text_values(frame[cat.name])
        unseen = text[~text.isin(cat.categories)]
        if unseen.empty:
            continue
        examples = ", ".join(repr(v) for v in sorted(unseen.unique())[:3])
        if cat.folds:
            out.append(f"column {cat.name!r}: {len(unseen)} value(s) not among the levels are folded into "
                       f"{cat.other!r}, e.g. {examples}")
        else:
            out.append(f"column {cat.name!r}: {len(unseen)} value(s) not among the levels are invalid, e.g. {examples}")
    return out

