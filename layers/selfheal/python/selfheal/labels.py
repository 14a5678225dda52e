"""Ground truth: label files read safely, merged, and joined to the captured predictions.

A label file is a CSV with exactly two columns, ``prediction_id,<target>`` (the schema's target,
``MedHouseVal`` by default), uploaded under ``labels/`` (``make labels FILE=...``). The id is the
one ``POST /predict`` returned (``selfheal.capture``), so a label can only ever be joined to a
prediction that was captured.

Pure functions, bytes and DataFrames in and out; the monitor (``selfheal.flows.live``) reads the
objects and quarantines what :func:`parse_labels` rejects. Every rejection is a
:class:`~selfheal.exceptions.DataQualityError` with a machine-readable ``reason``: those of
``selfheal.quality`` for an unreadable file (``too_large``, ``empty_file``, ``not_utf8``,
``malformed_csv``, ``wrong_delimiter``, ``duplicate_columns``, ``missing_columns``,
``unknown_columns``, ``header_only``), and

==================  ===========================================================================
``invalid_ids``     at least half the rows are invalid, most of them for their id (not a UUID)
``invalid_targets`` at least half the rows are invalid, most of them for their target (missing,
                    not a number, not finite, or outside the schema's bounds for the target)
==================  ===========================================================================

Invalid rows that are a minority are counted (``LabelFile.report()``) and dropped. Within a file,
and across files merged oldest first, the last label of an id wins: a correction is a new row or a
new file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from selfheal.exceptions import DataQualityError
from selfheal.quality import DEFAULT_MAX_BYTES, MISSING_MARKERS, decode_text, read_header, read_text_frame
from selfheal.schema import Schema

LABELS_PREFIX = "labels/"
ID_COLUMN = "prediction_id"
# Any RFC 9562 layout (8-4-4-4-12 hex digits); ids are compared in lower case, as the capture writes them.
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


@dataclass(frozen=True)
class LabelFile:
    """The valid labels of one file (``prediction_id``, target; last label per id) and what was dropped."""

    frame: pd.DataFrame
    rows_in: int
    invalid_ids: int
    missing_targets: int
    non_numeric_targets: int
    out_of_bounds_targets: int
    rows_dropped: int  # rows with an invalid id or target (a row can have both)
    duplicates: int  # earlier labels of an id that a later row of the file replaced

    def report(self) -> dict[str, int]:
        return {"rows_in": self.rows_in, "rows_out": len(self.frame), "rows_dropped": self.rows_dropped,
                "invalid_ids": self.invalid_ids, "missing_targets": self.missing_targets,
                "non_numeric_targets": self.non_numeric_targets, "out_of_bounds_targets": self.out_of_bounds_targets,
                "duplicates": self.duplicates}


def _reject(message: str, reason: str, **details: Any) -> DataQualityError:
    return DataQualityError(message, reason=reason, details=details)


def label_columns(schema: Schema) -> list[str]:
    return [ID_COLUMN, schema.target.name]


def check_label_header(header: list[str], schema: Schema) -> None:
    """``duplicate_columns``, ``missing_columns`` or ``unknown_columns`` for a label file's header."""
    expected = label_columns(schema)
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise _reject(f"duplicate columns: {duplicates}", "duplicate_columns", duplicates=duplicates)
    missing = [c for c in expected if c not in header]
    unknown = [c for c in header if c not in expected]
    if missing:
        raise _reject(f"missing columns: {missing} (a label file is {','.join(expected)})", "missing_columns",
                      missing=missing, unknown=unknown)
    if unknown:
        raise _reject(f"unknown columns: {unknown} (a label file is {','.join(expected)})", "unknown_columns",
                      unknown=unknown)


def parse_labels(raw: bytes, schema: Schema, *, max_bytes: int = DEFAULT_MAX_BYTES) -> LabelFile:
    """Read one label file; raise :class:`DataQualityError` (reasons in the module docstring) if unusable."""
    text = decode_text(raw, max_bytes=max_bytes)
    header = read_header(text)
    check_label_header(header, schema)
    cells = read_text_frame(text, header)
    target = schema.target

    ids = cells[ID_COLUMN].str.strip().str.lower()
    bad_id = ~ids.str.match(_UUID)
    text_target = cells[target.name].str.strip()
    missing = text_target.str.lower().isin(MISSING_MARKERS)
    values = pd.to_numeric(text_target.where(~missing, ""), errors="coerce").astype("float64")
    non_numeric = values.isna() & ~missing
    finite = np.isfinite(values.to_numpy())
    outside = values.notna() & (~finite | (values < target.minimum) | (values > target.maximum))
    bad = bad_id | missing | non_numeric | outside
    rows = len(cells)
    counts = {"rows": rows, "invalid_ids": int(bad_id.sum()), "missing_targets": int(missing.sum()),
              "non_numeric_targets": int(non_numeric.sum()), "out_of_bounds_targets": int(outside.sum()),
              "invalid_rows": int(bad.sum())}
    if 2 * counts["invalid_rows"] >= rows:
        bad_targets = int((missing | non_numeric | outside).sum())
        reason = "invalid_ids" if counts["invalid_ids"] >= bad_targets else "invalid_targets"
        what = "ids that are not UUIDs" if reason == "invalid_ids" else "targets that are missing, not numbers or out of bounds"
        raise _reject(f"{counts['invalid_rows']} of {rows} rows are invalid, most for {what}", reason, **counts)

    labels = pd.DataFrame({ID_COLUMN: ids[~bad], target.name: values[~bad]}).reset_index(drop=True)
    before = len(labels)
    labels = labels.drop_duplicates(ID_COLUMN, keep="last", ignore_index=True)
    return LabelFile(frame=labels, rows_in=rows, invalid_ids=counts["invalid_ids"],
                     missing_targets=counts["missing_targets"], non_numeric_targets=counts["non_numeric_targets"],
                     out_of_bounds_targets=counts["out_of_bounds_targets"], rows_dropped=counts["invalid_rows"],
                     duplicates=before - len(labels))


@dataclass(frozen=True)
class MergedLabels:
    frame: pd.DataFrame  # one row per id: the label of the newest file that has it
    replaced: int  # labels of older files that a newer file replaced


def merge_labels(frames: Sequence[pd.DataFrame], schema: Schema) -> MergedLabels:
    """Labels of several files, given oldest first: for an id in several files, the newest file's wins."""
    columns = label_columns(schema)
    if not frames:
        return MergedLabels(pd.DataFrame({c: pd.Series(dtype="float64" if c != ID_COLUMN else object)
                                          for c in columns}), 0)
    stacked = pd.concat([f[columns] for f in frames], ignore_index=True)
    merged = stacked.drop_duplicates(ID_COLUMN, keep="last", ignore_index=True)
    return MergedLabels(merged, len(stacked) - len(merged))


@dataclass(frozen=True)
class LabelJoin:
    """Captured records that have a label (their columns plus the target), and the labels that matched none."""

    joined: pd.DataFrame
    unmatched_ids: list[str]

    @property
    def unmatched(self) -> int:
        return len(self.unmatched_ids)


def join_labels(captured: pd.DataFrame, labels: pd.DataFrame, schema: Schema) -> LabelJoin:
    """Inner join on ``prediction_id``; a label whose id was not captured is counted, never guessed at.

    ``captured`` has one row per prediction id (the first capture of an id is kept if a retried
    write stored it twice).
    """
    target = schema.target.name
    captured = captured.drop_duplicates(ID_COLUMN, keep="first")
    known = labels[ID_COLUMN].isin(captured[ID_COLUMN])
    joined = captured.merge(labels[[ID_COLUMN, target]], on=ID_COLUMN, how="inner", validate="one_to_one")
    return LabelJoin(joined=joined.reset_index(drop=True), unmatched_ids=labels.loc[~known, ID_COLUMN].tolist())
