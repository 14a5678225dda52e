"""Data quality: what a user uploading a CSV sees accepted, fixed or rejected (and why)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from selfheal import datagen
from selfheal.exceptions import DataQualityError
from selfheal.quality import fix_batch, parse_csv
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA
from selfheal.schema import CategoricalFeature

HEADER = ",".join(SCHEMA.all_columns).encode()
ROW = b"3.5,30,5.2,1.05,1200,2.8,34.05,-118.25,2.1"


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return datagen.generate(3_000, seed=21)


@pytest.fixture(scope="module")
def dirty(clean) -> pd.DataFrame:
    return datagen.inject_defects(
        clean,
        seed=22,
        missing_fraction=0.01,
        unparsable_fraction=0.005,
        outlier_fraction=0.01,
        out_of_bounds_fraction=0.005,
        missing_target_fraction=0.005,
        duplicate_fraction=0.03,
    )


def _reason(raw: bytes, **kwargs) -> str:
    with pytest.raises(DataQualityError) as info:
        parse_csv(raw, SCHEMA, **kwargs)
    json.dumps(info.value.to_dict())  # the quarantine record must be JSON
    return info.value.reason


# --- parse_csv -------------------------------------------------------------------------------


def test_parse_keeps_text_verbatim_in_schema_order():
    shuffled = ",".join(reversed(SCHEMA.all_columns)).encode()
    frame = parse_csv(shuffled + b"\n" + b",".join(reversed(ROW.split(b","))) + b"\n", SCHEMA)
    assert list(frame.columns) == SCHEMA.all_columns
    assert frame.iloc[0].tolist() == ROW.decode().split(",")


def test_parse_accepts_a_bom_and_crlf():
    frame = parse_csv(b"\xef\xbb\xbf" + HEADER + b"\r\n" + ROW + b"\r\n", SCHEMA)
    assert frame.shape == (1, 9)
    assert frame.loc[0, "MedInc"] == "3.5"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty_file"),
        (b" \n\n", "empty_file"),
        (HEADER + b"\n", "header_only"),
        (HEADER + b"\n\n\n", "header_only"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not_utf8"),
        ((HEADER + b"\n" + ROW).decode().encode("utf-16"), "not_utf8"),
        (HEADER + b"\n" + "3,5,30,caf\xe9".encode("latin-1"), "not_utf8"),
        (HEADER.replace(b",", b";") + b"\n" + ROW.replace(b",", b";"), "wrong_delimiter"),
        (HEADER.replace(b",", b"\t") + b"\n" + ROW.replace(b",", b"\t"), "wrong_delimiter"),
        (HEADER + b",MedInc\n" + ROW + b",1\n", "duplicate_columns"),
        (HEADER + b"\n" + ROW + b",99\n", "malformed_csv"),
    ],
)
def test_parse_rejects_unreadable_uploads_with_a_reason(raw, reason):
    assert _reason(raw) == reason


def test_parse_rejects_oversized_uploads_before_reading_them():
    assert _reason(HEADER + b"\n" + ROW, max_bytes=20) == "too_large"


def test_missing_columns_are_listed():
    raw = datagen.to_csv_bytes(datagen.drop_columns(datagen.generate(5, seed=0), ["AveOccup", "Latitude"]))
    with pytest.raises(DataQualityError) as info:
        parse_csv(raw, SCHEMA)
    assert info.value.reason == "missing_columns"
    assert info.value.details["missing"] == ["AveOccup", "Latitude"]


def test_unknown_columns_are_rejected_not_dropped():
    raw = datagen.to_csv_bytes(datagen.add_unknown_column(datagen.generate(5, seed=0)))
    with pytest.raises(DataQualityError) as info:
        parse_csv(raw, SCHEMA)
    assert info.value.reason == "unknown_columns"
    assert info.value.details["unknown"] == ["Unnamed: 0"]


def test_target_is_optional_for_unlabelled_batches():
    features = ",".join(SCHEMA.feature_names).encode()
    frame = parse_csv(features + b"\n" + ROW.rsplit(b",", 1)[0] + b"\n", SCHEMA, require_target=False)
    assert list(frame.columns) == SCHEMA.feature_names
    assert _reason(features + b"\n" + ROW.rsplit(b",", 1)[0] + b"\n") == "missing_columns"


def test_formula_cells_are_refused_as_data_and_never_evaluated():
    payload = "=cmd|' /C calc'!A0"
    raw = HEADER + b'\n"' + payload.encode() + b'",30,5.2,1.05,1200,2.8,34.05,-118.25,2.1\n'
    raw += ROW + b"\n" + ROW.replace(b"3.5,", b"4.5,") + b"\n"
    with pytest.raises(DataQualityError) as info:
        parse_csv(raw, SCHEMA)
    assert info.value.reason == "formula_injection"
    assert info.value.details["cells"] == {"MedInc": 1}
    assert info.value.details["first"]["MedInc"] == {"row": 2, "cell": payload}


@pytest.mark.parametrize("cell", ["-1.5", "+2", "-0", '"-118,2"', "+-3"])
def test_signed_numbers_and_dirt_are_not_formulas(cell):
    raw = HEADER + b"\n" + ROW.replace(b"-118.25", cell.encode()) + b"\n" + ROW + b"\n"
    assert len(parse_csv(raw, SCHEMA)) == 2


# --- fix_batch -------------------------------------------------------------------------------


def test_dirty_batch_comes_out_complete_unique_and_typed(dirty):
    result = fix_batch(dirty, SCHEMA)
    frame = result.frame
    assert list(frame.columns) == SCHEMA.all_columns
    assert (frame.dtypes == "float64").all()
    assert not frame.isna().any().any()
    assert not frame.duplicated().any()
    for name in SCHEMA.all_columns:
        f = SCHEMA.numeric_feature(name)
        assert frame[name].between(f.minimum, f.maximum).all(), name


def test_report_accounts_for_every_row_and_cell(dirty):
    report = fix_batch(dirty, SCHEMA).report
    assert report.rows_in == len(dirty)
    assert report.rows_out == report.rows_in - report.rows_dropped_missing_target - report.duplicates_removed
    assert report.duplicates_removed >= 90  # 3% of 3,000 injected
    assert report.rows_dropped_missing_target > 0
    for name in SCHEMA.feature_names:
        arrived_missing = report.missing_imputed[name] - report.unparsable[name] - report.out_of_bounds[name]
        assert arrived_missing >= 0, name
    assert sum(report.unparsable.values()) > 0
    assert sum(report.out_of_bounds.values()) > 0
    assert 0 < report.bad_row_fraction < 0.2
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_csv_path_and_frame_path_agree(dirty):
    from_frame = fix_batch(dirty, SCHEMA)
    from_csv = fix_batch(parse_csv(datagen.to_csv_bytes(dirty), SCHEMA), SCHEMA)
    pd.testing.assert_frame_equal(from_frame.frame, from_csv.frame)
    assert from_frame.report == from_csv.report


def test_input_frame_is_not_modified(dirty):
    before = dirty.copy()
    fix_batch(dirty, SCHEMA)
    pd.testing.assert_frame_equal(dirty, before)


def test_outliers_are_capped_but_coordinates_and_target_never(clean):
    frame = clean.copy()
    frame.loc[0, "AveRooms"] = 150.0  # valid (bound is 200) but absurd
    frame.loc[1, "Latitude"] = 32.0  # edge of the bounds, far from the bulk
    frame.loc[2, "Longitude"] = -124.5
    frame.loc[3, "MedHouseVal"] = 9.5
    result = fix_batch(frame, SCHEMA)
    rooms = frame["AveRooms"]
    q1, q3 = rooms.quantile([0.25, 0.75])
    assert result.frame.loc[0, "AveRooms"] == pytest.approx(q3 + 3.0 * (q3 - q1))
    assert result.frame.loc[1, "Latitude"] == 32.0
    assert result.frame.loc[2, "Longitude"] == -124.5
    assert result.frame.loc[3, "MedHouseVal"] == 9.5
    assert set(result.report.outliers_capped) == set(SCHEMA.capped_columns)
    assert result.report.outliers_capped["AveRooms"] >= 1


def test_iqr_factor_is_configurable(clean):
    loose = fix_batch(clean, SCHEMA, iqr_factor=10.0).report.outliers_capped
    tight = fix_batch(clean, SCHEMA, iqr_factor=1.5).report.outliers_capped
    assert sum(tight.values()) > sum(loose.values())


def test_out_of_bounds_values_become_missing_then_imputed():
    frame = datagen.generate(200, seed=3)
    frame.loc[0, "Population"] = -5.0
    frame.loc[1, "Latitude"] = 99.0
    frame.loc[2, "HouseAge"] = np.inf
    result = fix_batch(frame, SCHEMA)
    assert result.report.out_of_bounds["Population"] == 1
    assert result.report.out_of_bounds["Latitude"] == 1
    assert result.report.out_of_bounds["HouseAge"] == 1
    assert result.frame.loc[1, "Latitude"] == pytest.approx(frame["Latitude"].drop(index=1).median(), abs=0.01)


def test_missing_markers_count_as_missing_not_unparsable():
    rows = [ROW.decode().replace("3.5", marker, 1) for marker in ("", "n/a", "NULL", "NaN")]
    raw = HEADER + b"\n" + "\n".join(rows + [ROW.decode()] * 16).encode() + b"\n"
    result = fix_batch(parse_csv(raw, SCHEMA), SCHEMA)
    assert result.report.unparsable["MedInc"] == 0
    assert result.report.missing_imputed["MedInc"] == 4


def test_decimal_commas_are_not_guessed():
    raw = HEADER + b"\n" + ROW.replace(b"3.5,", b'"3,5",') + b"\n" + (ROW + b"\n") * 9
    result = fix_batch(parse_csv(raw, SCHEMA), SCHEMA)
    assert result.report.unparsable["MedInc"] == 1


def test_rows_without_target_are_dropped_not_imputed():
    frame = datagen.generate(100, seed=4)
    frame.loc[[5, 6], "MedHouseVal"] = np.nan
    result = fix_batch(frame, SCHEMA)
    assert result.report.rows_dropped_missing_target == 2
    assert result.report.rows_out == 98


def test_too_many_bad_rows_goes_to_quarantine_with_the_report(clean):
    very_dirty = datagen.inject_defects(clean, seed=9, missing_fraction=0.05)
    with pytest.raises(DataQualityError) as info:
        fix_batch(very_dirty, SCHEMA)
    assert info.value.reason == "too_many_bad_rows"
    assert info.value.details["bad_row_fraction"] > 0.2
    assert info.value.details["report"]["missing_imputed"] == {}  # stopped before imputing
    assert fix_batch(very_dirty, SCHEMA, max_bad_row_fraction=0.5).report.rows_out > 0


def test_empty_and_unimputable_batches_are_rejected():
    empty = datagen.generate(0, seed=0)
    with pytest.raises(DataQualityError) as info:
        fix_batch(empty, SCHEMA)
    assert info.value.reason == "empty_batch"
    no_population = datagen.generate(10, seed=0)
    no_population["Population"] = np.nan
    with pytest.raises(DataQualityError) as info:
        fix_batch(no_population, SCHEMA, max_bad_row_fraction=1.0)
    assert info.value.reason == "unimputable_column"


def test_fix_rejects_frames_with_missing_or_unknown_columns(clean):
    with pytest.raises(DataQualityError) as info:
        fix_batch(clean.drop(columns=["MedInc"]), SCHEMA)
    assert info.value.reason == "missing_columns"
    with pytest.raises(DataQualityError) as info:
        fix_batch(clean.assign(Extra=1), SCHEMA)
    assert info.value.reason == "unknown_columns"


def test_unlabelled_batch_keeps_features_only(clean):
    result = fix_batch(clean.drop(columns=["MedHouseVal"]), SCHEMA, require_target=False)
    assert list(result.frame.columns) == SCHEMA.feature_names


def test_categorical_columns_are_validated_and_imputed_with_the_mode():
    schema = replace(SCHEMA, categorical=(CategoricalFeature("OceanProximity", ("INLAND", "NEAR BAY", "NEAR OCEAN")),))
    frame = datagen.generate(20, seed=5)
    frame["OceanProximity"] = ["INLAND"] * 12 + ["NEAR BAY"] * 5 + ["", "ATLANTIS", "NEAR OCEAN"]
    result = fix_batch(frame, schema)
    assert list(result.frame.columns) == schema.all_columns
    assert result.report.unparsable["OceanProximity"] == 1
    assert result.report.missing_imputed["OceanProximity"] == 2
    assert result.frame["OceanProximity"].tolist()[-3:] == ["INLAND", "INLAND", "NEAR OCEAN"]


@pytest.mark.parametrize("cell", ["@SUM(A1)", "+cmd|' /C calc'!A0", "-2+HYPERLINK(x)", "=1+1"])
def test_formula_shapes_are_refused(cell):
    raw = HEADER + b"\n" + ROW.replace(b"-118.25", b'"' + cell.encode() + b'"') + b"\n" + ROW + b"\n"
    with pytest.raises(DataQualityError) as info:
        parse_csv(raw, SCHEMA)
    assert info.value.reason == "formula_injection"
