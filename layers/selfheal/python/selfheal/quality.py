"""Data quality: read an uploaded CSV safely, then fix what can be fixed and reject what cannot.

Pure functions: bytes or DataFrames in, DataFrames and a report out. Where the bytes come from and
where the curated frame or the quarantine reason go is the caller's business (the FixData Lambda).

Every rejection is a :class:`~selfheal.exceptions.DataQualityError` with a machine-readable
``reason`` (the state machine quarantines on that class name; Step Functions matches error names
exactly, so subclasses such as ``SchemaError`` would slip past ``Catch: [DataQualityError]``):

========================  =========================================================================
``too_large``             more than ``max_bytes`` bytes
``empty_file``            no bytes, or only whitespace
``not_utf8``              binary content, NUL bytes or another encoding (UTF-16, Latin-1 ...)
``malformed_csv``         the tokenizer failed (e.g. a row with more fields than the header)
``wrong_delimiter``       the header is a single column containing ``;``, tab or ``|``
``duplicate_columns``     a column name appears twice in the header
``missing_columns``       required columns absent (``details["missing"]``; the message says when the
                          target is one of them)
``unknown_columns``       columns not in the schema (``details["unknown"]``); the schema's id and
                          date columns are allowed, and dropped
``header_only``           a header and no data rows
``invalid_target``        a labelled batch whose target column has no usable value at all (empty,
                          not numbers, or all outside the target's bounds); names the column
``too_many_bad_rows``     more than ``max_bad_row_fraction`` of the rows had an invalid value
``unimputable_column``    a column has no valid value to impute from
``empty_batch``           nothing left after fixing
========================  =========================================================================

How each column kind is read (:func:`fix_batch`):

* ``numeric``: a number within the bounds; ``integer``: the same, and a whole number (``3`` or
  ``3.0``; ``2.5`` is unparsable);
* ``categorical``: compared as text (stripped; then in any case; then by number, so an
  integer-coded level read by pandas as ``98004`` or ``98004.0`` matches the level ``"98004"``);
  a value outside the levels is folded into the fold level (counted in ``levels_folded``) when
  the column has one, unparsable otherwise;
* ``boolean``: the same, and, when the levels are themselves boolean spellings (``0``/``1``,
  ``no``/``yes`` ...), any usual spelling (0/1, false/true, no/yes, f/t, n/y, any case), normalised
  to the schema's level;
* ``id`` and ``date``: allowed in the CSV, dropped before fixing (never in the output).

A missing-value marker (``na``, ``none`` ...) that names one of a categorical column's levels
(``"None"``: no garage) is that level, not a missing value.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from selfheal.exceptions import DataQualityError
from selfheal.levels import FALSE_SPELLINGS as FALSE_SPELLINGS
from selfheal.levels import TRUE_SPELLINGS as TRUE_SPELLINGS
from selfheal.levels import LevelMap
from selfheal.schema import CategoricalFeature, Schema, Target

# FALSE_SPELLINGS and TRUE_SPELLINGS are re-exported above from selfheal.levels, whose LevelMap
# (shared with training and serving) says which level a value names.

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DEFAULT_IQR_FACTOR = 3.0
DEFAULT_MAX_BAD_ROW_FRACTION = 0.2

# Spellings of "no value" that pandas' own CSV reader treats as missing; a cell like this is a
# missing value, not an unparsable one.
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})
_DELIMITER_HINTS = (";", "\t", "|")


def _reject(message: str, reason: str, **details: Any) -> DataQualityError:
    return DataQualityError(message, reason=reason, details=details)


def check_columns(columns: list[str], schema: Schema, *, require_target: bool = True) -> None:
    """Raise ``duplicate_columns``, ``missing_columns`` or ``unknown_columns`` for a header.

    Extra columns are rejected rather than dropped: a column we do not know is most often a
    renamed or misspelled one, and silently training without it would hide that. The schema's id
    and date columns are known (allowed, optional); they are dropped later, never used.
    """
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in columns:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        raise _reject(f"duplicate columns: {duplicates}", "duplicate_columns", duplicates=duplicates)
    required = schema.feature_names + ([schema.target.name] if require_target else [])
    allowed = set(schema.known_columns)
    missing = [c for c in required if c not in seen]
    unknown = [c for c in columns if c not in allowed]
    if missing:
        message = f"missing columns: {missing}"
        if schema.target.name in missing:
            message += f" (the target column {schema.target.name!r} is required in a labelled batch)"
        raise _reject(message, "missing_columns", missing=missing, unknown=unknown)
    if unknown:
        raise _reject(f"unknown columns: {unknown}", "unknown_columns", unknown=unknown)


def decode_text(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """An uploaded file's bytes as text: ``too_large``, ``empty_file`` or ``not_utf8`` otherwise."""
    if len(raw) > max_bytes:
        raise _reject(f"file is {len(raw)} bytes, limit {max_bytes}", "too_large", size=len(raw), limit=max_bytes)
    if not raw or raw.isspace():
        raise _reject("file is empty", "empty_file")
    if b"\x00" in raw:
        # UTF-8 text never contains NUL; UTF-16 and binary files almost always do.
        raise _reject("file contains NUL bytes (binary or UTF-16?)", "not_utf8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _reject(f"file is not UTF-8 text: {exc.reason} at byte {exc.start}", "not_utf8", byte=exc.start) from exc
    if not text or text.isspace():  # e.g. nothing but a byte-order mark
        raise _reject("file is empty", "empty_file")
    return text


def read_header(text: str) -> list[str]:
    """The CSV header's names, stripped; ``malformed_csv`` or ``wrong_delimiter`` when unreadable.

    The header goes through the csv module first: pandas would silently rename duplicate columns
    ("a", "a.1"), and we want to say which delimiter is wrong before anything else.
    """
    try:
        first_line = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise _reject(f"cannot read the CSV header: {exc}", "malformed_csv") from exc
    header = [name.strip() for name in first_line]
    if len(header) == 1:
        found = [d for d in _DELIMITER_HINTS if d in header[0]]
        if found:
            raise _reject(f"header is one column containing {found[0]!r}; expected ','", "wrong_delimiter", found=found)
    return header


def read_text_frame(text: str, header: list[str]) -> pd.DataFrame:
    """Every cell as text, named by ``header``; ``malformed_csv`` or ``header_only`` when unusable."""
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,  # keep "NA"/"n/a" as text; the caller decides what is missing
            skip_blank_lines=True,
            skipinitialspace=True,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise _reject(f"cannot tokenize CSV: {exc}", "malformed_csv") from exc
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas' implicit index: every row has one field more than the header.
        raise _reject("rows have more fields than the header", "malformed_csv")
    if frame.empty:
        raise _reject("file has a header but no data rows", "header_only")
    frame.columns = header
    return frame


def parse_csv(
    raw: bytes,
    schema: Schema,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    require_target: bool = True,
) -> pd.DataFrame:
    """Read an uploaded CSV into a frame of strings, columns in schema order; nothing is converted.

    Cells are kept verbatim as text (values are parsed later by :func:`fix_batch`): a spreadsheet
    formula such as ``=cmd|' /C calc'!A0`` is inert data here and simply fails to parse as a number.
    Missing trailing fields become NaN. Without ``require_target`` the target column may be absent;
    it is still allowed (not an unknown column) when present.

    The header must name exactly the schema's columns (in any order): missing columns are rejected,
    and so are unknown extra ones (see :func:`check_columns`). The schema's id and date columns may
    be present: they are dropped here (the result has features and target only). Raises
    :class:`DataQualityError` with the reason codes listed in the module docstring.
    """
    text = decode_text(raw, max_bytes=max_bytes)
    header = read_header(text)
    check_columns(header, schema, require_target=require_target)
    frame = read_text_frame(text, header)
    _reject_formulas(frame)
    ordered = [c for c in schema.all_columns if c in frame.columns]
    return frame[ordered].reset_index(drop=True)


# A spreadsheet treats a cell starting with = + - @ (or tab/CR) as a formula (CSV injection, OWASP).
# Signs also start ordinary numbers and dirt such as "-118,2" or "+-3", so a leading + or - counts
# only when a function name, reference or pipe follows (letters, "(", "|", "!", "$").
_FORMULA_START = r"^(?:[=@\t\r]|[+\-].*[A-Za-z(|!$])"


def _reject_formulas(frame: pd.DataFrame) -> None:
    """Refuse a batch carrying spreadsheet formulas; the cells are never evaluated, only reported."""
    found: dict[str, int] = {}
    first: dict[str, Any] = {}
    for column in frame.columns:
        text = frame[column].astype(str)
        suspicious = text.str.match(_FORMULA_START) & pd.to_numeric(text, errors="coerce").isna()
        if suspicious.any():
            found[column] = int(suspicious.sum())
            row = int(suspicious.idxmax())
            first[column] = {"row": row + 2, "cell": text.iloc[row][:40]}  # +2: 1-based, after the header
    if found:
        raise _reject(f"cells look like spreadsheet formulas in {sorted(found)}; they are kept as data, never evaluated",
                      "formula_injection", cells=found, first=first)


@dataclass
class FixReport:
    """What :func:`fix_batch` did; ``to_dict()`` is JSON-able (the quarantine/curation record).

    Per-column counts have one key per schema column present in the batch (``outliers_capped``:
    one per capped column). ``missing_imputed`` counts every cell that was imputed, whether it
    arrived missing, unparsable or out of bounds. ``bad_row_fraction`` is the share of input rows
    with at least one missing, unparsable or out-of-bounds value (target included).
    """

    rows_in: int = 0
    rows_out: int = 0
    duplicates_removed: int = 0
    rows_dropped_missing_target: int = 0
    bad_row_fraction: float = 0.0
    missing_imputed: dict[str, int] = field(default_factory=dict)
    unparsable: dict[str, int] = field(default_factory=dict)
    out_of_bounds: dict[str, int] = field(default_factory=dict)
    outliers_capped: dict[str, int] = field(default_factory=dict)
    # One key per categorical column that folds (has an ``other`` level): how many values outside
    # its levels were mapped to the fold level. Folding is expected, not a bad value.
    levels_folded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for people (the audit trail): see :func:`describe_report`."""
        return describe_report(self.to_dict())


def describe_report(report: dict[str, Any]) -> str:
    """A fix report (:meth:`FixReport.to_dict`) in one line: rows, duplicates, imputed, capped, folded."""
    parts = [f"{report['rows_in']} rows in, {report['rows_out']} out"]
    if report.get("duplicates_removed"):
        parts.append(f"{report['duplicates_removed']} duplicates removed")
    imputed = sum(report.get("missing_imputed", {}).values())
    if imputed:
        parts.append(f"{imputed} cells imputed")
    capped = sum(report.get("outliers_capped", {}).values())
    if capped:
        parts.append(f"{capped} outliers capped")
    if report.get("rows_dropped_missing_target"):
        parts.append(f"{report['rows_dropped_missing_target']} rows without target dropped")
    folded = {c: n for c, n in report.get("levels_folded", {}).items() if n}
    if folded:
        per_column = ", ".join(f"{c} {n}" for c, n in folded.items())
        parts.append(f"{sum(folded.values())} values outside the known levels folded into 'other' ({per_column})")
    return "; ".join(parts)


@dataclass(frozen=True)
class FixResult:
    """The fixed frame (schema column order, float64 numerics) and what was done to it."""

    frame: pd.DataFrame
    report: FixReport


def _as_text(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(stripped text, missing mask) for an object/string column; NaN/None and markers are missing."""
    absent = series.isna()
    text = series.astype(object).where(~absent, "").map(str).str.strip()
    missing = absent | text.str.lower().isin(MISSING_MARKERS)
    return text, missing


def _coerce_numeric(series: pd.Series, *, whole: bool = False) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(float64 values, missing mask, unparsable mask); both failures end up NaN in the values.

    With ``whole`` (an integer column), a finite value with a fractional part is unparsable.
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        missing = values.isna()
        unparsable = pd.Series(False, index=series.index)
    else:
        text, missing = _as_text(series)
        # Decimal commas ("12,5") are not guessed at: "1,200" is as likely a thousands separator.
        values = pd.to_numeric(text.where(~missing, ""), errors="coerce").astype("float64")
        values = values.where(~missing)
        unparsable = values.isna() & ~missing
    if whole:
        # ±inf stays a number here: the bounds make it out-of-bounds, as for any numeric column.
        fractional = np.isfinite(values) & (values != np.floor(values))
        values = values.where(~fractional)
        unparsable = unparsable | fractional
    return values, missing, unparsable


def _coerce_categorical(series: pd.Series, cat: CategoricalFeature) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """(level or NaN, missing mask, unparsable mask, folded mask) for a categorical or boolean column.

    Values find their level as :class:`selfheal.levels.LevelMap` says (the rules serving and
    training use, so a batch and a request agree). A missing-value marker (``na``, ``none`` ...)
    that names a level (``"None"``: no garage) is that level; otherwise it is missing. A value
    matching no level is folded into the fold level when the column has one (``folded``), and is
    unparsable otherwise.
    """
    absent = series.isna()
    text = series.astype(object).where(~absent, "").map(str).str.strip()
    levels = LevelMap(cat)
    mapping = {value: levels.level(value) for value in text[~absent].unique()}
    level = text.map(mapping).where(~absent)
    missing = absent | (level.isna() & text.str.lower().isin(MISSING_MARKERS))
    unmatched = ~missing & level.isna()
    none = pd.Series(False, index=series.index)
    if cat.folds:
        return level.where(~unmatched, cat.other), missing, none, unmatched
    return level, missing, unmatched, none


def categorical_levels(series: pd.Series, cat: CategoricalFeature) -> pd.Series:
    """Each value of a categorical or boolean column as the level it is, matched as :func:`fix_batch` does.

    Missing values are NaN; a value matching no level is the fold level when the column folds, and
    is kept as (stripped) text otherwise. Drift detection compares columns through this, so a
    reference read back by pandas (``98004.0``, ``True``) and a fixed batch (``"98004"``, ``"1"``)
    speak the same levels.
    """
    level, missing, unparsable, _ = _coerce_categorical(series, cat)
    text = series.astype(object).where(series.notna(), "").map(str).str.strip()
    return level.where(~unparsable, text).where(~missing).astype(object)


def _iqr_cap(values: pd.Series, factor: float, *, whole: bool = False) -> tuple[pd.Series, int]:
    """Clip to ``[Q1 - k·IQR, Q3 + k·IQR]``; for whole numbers the limits are rounded outward."""
    q1, q3 = values.quantile([0.25, 0.75])
    iqr = q3 - q1
    if not np.isfinite(iqr) or iqr <= 0:
        # A (near-)constant column has no spread to measure outliers against; capping would flatten
        # every value that differs from the bulk, so leave it alone.
        return values, 0
    low, high = q1 - factor * iqr, q3 + factor * iqr
    if whole:
        low, high = math.floor(low), math.ceil(high)
    capped = values.clip(low, high)
    return capped, int((capped != values).sum())


def fix_batch(
    df: pd.DataFrame,
    schema: Schema,
    *,
    iqr_factor: float = DEFAULT_IQR_FACTOR,
    max_bad_row_fraction: float = DEFAULT_MAX_BAD_ROW_FRACTION,
    require_target: bool = True,
) -> FixResult:
    """Fix a batch (from :func:`parse_csv`, or any frame with the schema's columns); ``df`` is not modified.

    Steps, in order:

    1. coerce types: numbers parsed from text (markers such as ``"n/a"`` count as missing, other
       non-numbers, and fractions in an integer column, as unparsable), categoricals matched to
       the schema's levels (see the module docstring: numeric codes, boolean spellings, values
       outside the levels folded into ``other`` when the column folds); id and date columns are
       dropped;
    2. hard bounds: values outside a feature's ``minimum``/``maximum`` (and ±inf) become missing;
    3. rows with a missing target are dropped (a label cannot be imputed); a target column with no
       usable value at all is ``invalid_target``;
    4. if more than ``max_bad_row_fraction`` of the rows had any missing, unparsable or
       out-of-bounds value, raise ``too_many_bad_rows``: at that point imputing would invent a
       large part of the batch, so it goes to quarantine instead;
    5. impute: numeric features with the batch median (rounded for integer columns),
       categoricals with the mode;
    6. cap outliers at ``Q1 - k·IQR`` / ``Q3 + k·IQR`` (``k = iqr_factor``; rounded outward for
       integer columns), only in ``schema.capped_columns``: never coordinates, never the target;
    7. drop exact duplicate rows (after imputation, so duplicates of dirty rows are caught too);
    8. reject an empty result (``empty_batch``).

    Without ``require_target`` the output has the feature columns only (a target column, if
    present, is ignored): that is the shape of an unlabelled scoring batch.
    """
    check_columns([str(c) for c in df.columns], schema, require_target=require_target)
    target = schema.target.name
    labelled = require_target
    columns = schema.all_columns if labelled else schema.feature_names
    report = FixReport(rows_in=len(df))
    if len(df) == 0:
        raise _reject("batch has no rows", "empty_batch", report=report.to_dict())

    values: dict[str, pd.Series] = {}
    bad = pd.Series(False, index=df.index)
    for feature in (*schema.numeric, *((schema.target,) if labelled else ())):
        parsed, missing, unparsable = _coerce_numeric(df[feature.name], whole=feature.kind == "integer")
        outside = parsed.notna() & ((parsed < feature.minimum) | (parsed > feature.maximum))
        values[feature.name] = parsed.where(~outside)
        bad |= missing | unparsable | outside
        report.unparsable[feature.name] = int(unparsable.sum())
        report.out_of_bounds[feature.name] = int(outside.sum())
    for cat in schema.categorical:
        parsed, missing, unparsable, folded = _coerce_categorical(df[cat.name], cat)
        values[cat.name] = parsed
        bad |= missing | unparsable
        report.unparsable[cat.name] = int(unparsable.sum())
        report.out_of_bounds[cat.name] = 0
        if cat.folds:
            report.levels_folded[cat.name] = int(folded.sum())
    frame = pd.DataFrame(values, index=df.index)[columns]

    if labelled:
        _check_target(df[target], values[target], schema)
        has_target = frame[target].notna()
        report.rows_dropped_missing_target = int((~has_target).sum())
        frame = frame.loc[has_target].copy()
    report.bad_row_fraction = float(bad.mean())
    if report.bad_row_fraction > max_bad_row_fraction:
        raise _reject(
            f"{report.bad_row_fraction:.1%} of rows have invalid values (limit {max_bad_row_fraction:.1%})"
            f"{_worst_columns(report, schema)}",
            "too_many_bad_rows",
            bad_row_fraction=report.bad_row_fraction,
            max_bad_row_fraction=max_bad_row_fraction,
            report=report.to_dict(),
        )
    if frame.empty:
        raise _reject("no rows left after dropping rows without a target", "empty_batch", report=report.to_dict())

    for name in schema.feature_names:
        gaps = frame[name].isna()
        report.missing_imputed[name] = int(gaps.sum())
        if not gaps.any():
            continue
        fill = _fill_value(frame[name], schema, name)
        if fill is None:
            raise _reject(f"column {name} has no valid value to impute from", "unimputable_column", column=name)
        frame[name] = frame[name].where(~gaps, fill)
    if labelled:
        report.missing_imputed[target] = 0

    integers = set(schema.integer_names)
    for name in schema.capped_columns:
        frame[name], report.outliers_capped[name] = _iqr_cap(frame[name], iqr_factor, whole=name in integers)

    before = len(frame)
    frame = frame.drop_duplicates(ignore_index=True)
    report.duplicates_removed = before - len(frame)
    report.rows_out = len(frame)

    numeric = [n for n in columns if n not in schema.categorical_names]
    frame = frame.astype({n: "float64" for n in numeric} | {n: object for n in schema.categorical_names})
    return FixResult(frame=frame, report=report)


def _check_target(raw: pd.Series, parsed: pd.Series, schema: Schema) -> None:
    """``invalid_target`` when a labelled batch's target column has no usable value at all.

    A few bad labels only cost their rows; a whole column of them is a wrong file (text, a
    formatted ``$325,000``, another unit) and deserves a message naming the column.
    """
    if parsed.notna().any():
        return
    target: Target = schema.target
    name = target.name
    values, missing, unparsable = _coerce_numeric(raw)
    outside = values.notna()
    details: dict[str, Any] = {"column": name, "rows": len(raw), "missing": int(missing.sum()),
                               "unparsable": int(unparsable.sum()), "out_of_bounds": int(outside.sum())}
    if unparsable.any():
        example = str(raw[unparsable].iloc[0])[:40]
        details["example"] = example
        message = (f"target column {name!r} is not numeric: {details['unparsable']} of {len(raw)} values are not "
                   f"numbers (e.g. {example!r})")
    elif outside.any():
        example = f"{values[outside].iloc[0]:g}"
        details["example"] = example
        message = (f"target column {name!r} has no value within its bounds [{target.minimum:g}, {target.maximum:g}] "
                   f"(e.g. {example}; unit {target.unit or 'unspecified'})")
    else:
        message = f"target column {name!r} is empty: a labelled batch needs a value in it"
    raise _reject(message, "invalid_target", **details)


def _worst_columns(report: FixReport, schema: Schema, *, limit: int = 3) -> str:
    """"; most in 'price' (target: 6 unparsable), ..." for a too_many_bad_rows message ("" when none)."""
    counts: dict[str, dict[str, int]] = {}
    for kind in ("unparsable", "out_of_bounds"):
        for name, n in getattr(report, kind).items():
            if n:
                counts.setdefault(name, {})[kind.replace("_", " ")] = n
    ranked = sorted(counts.items(), key=lambda item: -sum(item[1].values()))[:limit]
    if not ranked:
        return ""
    shown = []
    for name, by_kind in ranked:
        what = ", ".join(f"{n} {kind}" for kind, n in by_kind.items())
        role = "target: " if name == schema.target.name else ""
        shown.append(f"{name!r} ({role}{what})")
    return "; most in " + ", ".join(shown)


def _fill_value(values: pd.Series, schema: Schema, name: str) -> float | str | None:
    """Median for numerics (rounded for integer columns); mode for categoricals (ties: the schema's order)."""
    present = values.dropna()
    if present.empty:
        return None
    if name not in schema.categorical_names:
        median = float(present.median())
        return float(math.floor(median + 0.5)) if name in schema.integer_names else median
    counts = present.value_counts()
    categories = next(c.categories for c in schema.categorical if c.name == name)
    return max(categories, key=lambda c: (counts.get(c, 0), -categories.index(c)))
