"""FixData on a user's dataset: how each column kind of a schema file is parsed, fixed or rejected.

The schema below is a small King-County-like one: integer, numeric, categorical (folding and not,
with a "None" level), boolean, id and date columns and a target in dollars.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selfheal.exceptions import DataQualityError
from selfheal.quality import FixReport, categorical_levels, describe_report, fix_batch, parse_csv
from selfheal.schema import CALIFORNIA_HOUSING, Schema, schema_from_file_dict

HOUSES_CSV = Path(__file__).resolve().parents[1] / "data" / "schema" / "houses.csv"

SCHEMA = schema_from_file_dict({
    "name": "homes",
    "target": {"name": "price", "unit": "USD", "transform": "log", "minimum": 10000, "maximum": 10000000},
    "columns": [
        {"name": "sqft", "kind": "integer", "minimum": 100, "maximum": 20000},
        {"name": "bedrooms", "kind": "integer", "minimum": 0, "maximum": 20},
        {"name": "lat", "kind": "numeric", "minimum": 47, "maximum": 48, "cap_outliers": False},
        {"name": "zipcode", "kind": "categorical", "levels": ["98103", "98105", "98112"], "other": "other"},
        {"name": "garage", "kind": "categorical", "levels": ["None", "attached", "detached"]},
        {"name": "waterfront", "kind": "boolean", "levels": ["0", "1"]},
        {"name": "id", "kind": "id"},
        {"name": "date", "kind": "date"},
    ],
})
HEADER = "id,date,price,sqft,bedrooms,lat,zipcode,garage,waterfront"
ROWS = [
    "1001,2014-05-01,325000,3530,4,47.68,98103,None,0",
    "1002,2014-05-04,410000,1220,1,47.65,98112,attached,0",
    "1003,2014-05-07,389500,1620,4,47.60,98112,detached,1",
    "1004,2014-05-10,452000,3700,5,47.64,98105,None,0",
    "1005,2014-05-13,515000,3390,5,47.60,98103,attached,0",
    "1006,2014-05-16,298000,2230,4,47.60,98105,detached,0",
    "1007,2014-05-19,610000,4160,5,47.63,98103,None,1",
    "1008,2014-05-22,575000,2620,1,47.64,98112,attached,0",
    "1009,2014-06-25,480000,3370,1,47.69,98103,None,0",
    "1010,2014-06-28,365000,2110,4,47.71,98112,detached,0",
]


def csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def with_cell(row: str, column: str, value: str, header: str = HEADER) -> str:
    cells = row.split(",")
    cells[header.split(",").index(column)] = value
    return ",".join(cells)


def fixed(raw: bytes, schema: Schema = SCHEMA, **kwargs):
    return fix_batch(parse_csv(raw, schema), schema, **kwargs)


def rejection(raw: bytes, schema: Schema = SCHEMA, **kwargs) -> DataQualityError:
    with pytest.raises(DataQualityError) as info:
        fixed(raw, schema, **kwargs)
    json.dumps(info.value.to_dict())  # the quarantine record must be JSON
    return info.value


# --- columns: excluded, unknown, missing ------------------------------------------------------


def test_id_and_date_columns_are_accepted_and_dropped_before_fixing():
    frame = parse_csv(csv(*ROWS), SCHEMA)
    assert list(frame.columns) == SCHEMA.all_columns
    result = fix_batch(frame, SCHEMA)
    assert list(result.frame.columns) == SCHEMA.all_columns
    assert "id" not in result.report.to_dict()["missing_imputed"]


def test_id_and_date_columns_are_optional():
    header = HEADER.removeprefix("id,date,")
    frame = parse_csv(csv(*(r.split(",", 2)[2] for r in ROWS), header=header), SCHEMA)
    assert list(frame.columns) == SCHEMA.all_columns


def test_a_frame_carrying_id_and_date_is_fixed_without_them():
    frame = parse_csv(csv(*ROWS), SCHEMA).assign(id=range(10), date="2014-05-01")
    assert list(fix_batch(frame, SCHEMA).frame.columns) == SCHEMA.all_columns


def test_rows_differing_only_by_id_are_duplicates():
    rows = [ROWS[0], "9999,2015-01-01" + ROWS[0][len("1001,2014-05-01"):], *ROWS[1:]]
    assert fixed(csv(*rows)).report.duplicates_removed == 1


def test_a_column_not_in_the_schema_is_still_rejected():
    header = HEADER + ",pool"
    with pytest.raises(DataQualityError) as info:
        parse_csv(csv(*(r + ",1" for r in ROWS), header=header), SCHEMA)
    assert info.value.reason == "unknown_columns"
    assert info.value.details["unknown"] == ["pool"]


def test_a_missing_schema_column_is_quarantined_naming_it():
    header = HEADER.replace(",garage", "")
    rows = [r.replace(",None,", ",").replace(",attached,", ",").replace(",detached,", ",") for r in ROWS]
    with pytest.raises(DataQualityError) as info:
        parse_csv(csv(*rows, header=header), SCHEMA)
    assert info.value.reason == "missing_columns"
    assert info.value.details["missing"] == ["garage"]
    assert "garage" in str(info.value)


# --- the target -----------------------------------------------------------------------------------


def test_a_missing_target_column_names_the_target():
    header = HEADER.replace(",price", "")
    rows = [",".join(c for i, c in enumerate(r.split(",")) if i != 2) for r in ROWS]
    with pytest.raises(DataQualityError) as info:
        parse_csv(csv(*rows, header=header), SCHEMA)
    assert info.value.reason == "missing_columns"
    assert info.value.details["missing"] == ["price"]
    assert "target column 'price'" in str(info.value)
    # An unlabelled batch may leave it out.
    assert list(parse_csv(csv(*rows, header=header), SCHEMA, require_target=False).columns) == SCHEMA.feature_names


def test_a_non_numeric_target_column_names_the_target_and_an_example():
    rows = [with_cell(r, "price", '"$325,000"') for r in ROWS]
    error = rejection(csv(*rows))
    assert error.reason == "invalid_target"
    assert error.details["column"] == "price"
    assert error.details["unparsable"] == 10
    assert error.details["example"] == "$325,000"
    assert "target column 'price' is not numeric" in str(error)
    assert "'$325,000'" in str(error)


def test_an_empty_target_column_names_the_target():
    error = rejection(csv(*(with_cell(r, "price", "") for r in ROWS)), max_bad_row_fraction=1.0)
    assert error.reason == "invalid_target"
    assert "target column 'price' is empty" in str(error)


def test_a_target_in_another_unit_names_the_target_and_its_bounds():
    rows = [with_cell(r, "price", "3.25") for r in ROWS]  # $100k instead of dollars
    error = rejection(csv(*rows))
    assert error.reason == "invalid_target"
    assert error.details["out_of_bounds"] == 10
    assert "within its bounds [10000, 1e+07]" in str(error) and "unit USD" in str(error)


def test_a_few_bad_labels_only_cost_their_rows():
    rows = [with_cell(ROWS[0], "price", "abc"), *ROWS[1:]]
    result = fixed(csv(*rows))
    assert result.report.rows_dropped_missing_target == 1
    assert result.report.unparsable["price"] == 1
    assert result.report.rows_out == 9


def test_too_many_bad_rows_names_the_worst_columns():
    rows = [with_cell(r, "bedrooms", "lots") if i < 4 else r for i, r in enumerate(ROWS)]
    error = rejection(csv(*rows))
    assert error.reason == "too_many_bad_rows"
    assert "most in 'bedrooms' (4 unparsable)" in str(error)


# --- integer columns ------------------------------------------------------------------------------


def test_integer_columns_take_whole_numbers_and_reject_fractions():
    rows = [with_cell(ROWS[0], "bedrooms", "4.0"), with_cell(ROWS[1], "bedrooms", "2.5"), *ROWS[2:]]
    result = fixed(csv(*rows))
    assert result.report.unparsable["bedrooms"] == 1
    assert result.report.missing_imputed["bedrooms"] == 1
    assert result.frame.loc[0, "bedrooms"] == 4.0
    # Imputed with the median of 4,4,5,5,5,1,1,4 and 4.0 -> 4: a whole number.
    assert result.frame.loc[1, "bedrooms"] == 4.0


def test_integer_columns_from_a_frame_reject_fractions_too():
    frame = parse_csv(csv(*ROWS), SCHEMA)
    frame["bedrooms"] = [4, 1.5, 4, 5, 5, 4, 5, 1, 1, 4]
    result = fix_batch(frame, SCHEMA)
    assert result.report.unparsable["bedrooms"] == 1


def test_integer_imputation_rounds_the_median():
    bedrooms = ["1", "2", "2", "3", "3", "4", "", "1", "4", ""]
    rows = [with_cell(r, "bedrooms", v) for r, v in zip(ROWS, bedrooms, strict=True)]
    result = fixed(csv(*rows))
    # The median of 1,1,2,2,3,3,4,4 is 2.5: an integer column gets 3, half rounded up.
    assert result.report.missing_imputed["bedrooms"] == 2
    assert result.frame.loc[[6, 9], "bedrooms"].tolist() == [3.0, 3.0]
    assert result.frame["bedrooms"].map(float.is_integer).all()


def test_integer_columns_keep_the_bounds_rule():
    rows = [with_cell(ROWS[0], "bedrooms", "40"), *ROWS[1:]]
    result = fixed(csv(*rows))
    assert result.report.out_of_bounds["bedrooms"] == 1
    assert result.report.unparsable["bedrooms"] == 0


def test_integer_capping_keeps_whole_numbers():
    sqft = [1500, 1510, 1520, 1530, 1540, 1550, 1560, 1570, 1580, 19000]
    rows = [with_cell(r, "sqft", str(v)) for r, v in zip(ROWS, sqft, strict=True)]
    result = fixed(csv(*rows), iqr_factor=1.0)
    assert result.report.outliers_capped["sqft"] == 1
    capped = result.frame["sqft"].max()
    assert capped < 19000 and float(capped).is_integer()


# --- boolean columns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "level"),
    [("0", "0"), ("1", "1"), ("true", "1"), ("FALSE", "0"), ("Yes", "1"), ("no", "0"), ("T", "1"), ("f", "0"),
     ("y", "1"), ("N", "0"), ("1.0", "1"), (" yes ", "1")],
)
def test_boolean_spellings_are_normalised_to_the_schema_levels(spelling, level):
    rows = [with_cell(ROWS[0], "waterfront", f'"{spelling}"'), *ROWS[1:]]
    result = fixed(csv(*rows))
    assert result.frame.loc[0, "waterfront"] == level
    assert result.report.unparsable["waterfront"] == 0


def test_boolean_spellings_map_onto_word_levels():
    schema = schema_from_file_dict({
        "name": "b", "target": {"name": "price", "minimum": 1, "maximum": 1e7},
        "columns": [{"name": "pool", "kind": "boolean", "levels": ["No", "Yes"]}]})
    result = fixed(b"pool,price\n1,100\nfalse,200\nY,300\nNo,400\n", schema)
    assert result.frame["pool"].tolist() == ["Yes", "No", "Yes", "No"]


def test_a_boolean_whose_levels_are_not_truth_values_takes_only_its_levels():
    schema = schema_from_file_dict({
        "name": "b", "target": {"name": "price", "minimum": 1, "maximum": 1e7},
        "columns": [{"name": "tenure", "kind": "boolean", "levels": ["rent", "own"]}]})
    result = fixed(b"tenure,price\nown,100\nrent,200\nyes,300\nown,400\nown,500\n", schema)
    assert result.report.unparsable["tenure"] == 1


def test_a_boolean_value_that_is_no_spelling_is_unparsable_and_never_folded():
    rows = [with_cell(ROWS[0], "waterfront", "maybe"), with_cell(ROWS[1], "waterfront", "2"), *ROWS[2:]]
    result = fixed(csv(*rows), max_bad_row_fraction=0.5)
    assert result.report.unparsable["waterfront"] == 2
    assert "waterfront" not in result.report.levels_folded
    assert set(result.frame["waterfront"]) <= {"0", "1"}


def test_boolean_frames_from_pandas_are_normalised():
    frame = parse_csv(csv(*ROWS), SCHEMA)
    frame["waterfront"] = [True, False, 1.0, 0, np.nan, True, False, False, False, True]
    result = fix_batch(frame, SCHEMA)
    assert result.frame["waterfront"].tolist() == ["1", "0", "1", "0", "0", "1", "0", "0", "0", "1"]
    assert result.report.missing_imputed["waterfront"] == 1


# --- categorical columns --------------------------------------------------------------------------


def test_new_levels_are_folded_into_other_and_counted():
    rows = [with_cell(ROWS[0], "zipcode", "98004"), with_cell(ROWS[1], "zipcode", "98199"),
            with_cell(ROWS[2], "zipcode", "98004"), with_cell(ROWS[3], "zipcode", "other"), *ROWS[4:]]
    result = fixed(csv(*rows))
    assert result.frame["zipcode"].tolist()[:4] == ["other", "other", "other", "other"]
    # A literal "other" is the fold level already: not counted as folded.
    assert result.report.levels_folded == {"zipcode": 3}
    assert result.report.unparsable["zipcode"] == 0
    assert result.report.bad_row_fraction == 0.0  # folding is expected, not a bad value
    assert "3 values outside the known levels folded into 'other' (zipcode 3)" in result.report.describe()
    assert json.loads(json.dumps(result.report.to_dict()))["levels_folded"] == {"zipcode": 3}


def test_a_column_that_does_not_fold_keeps_rejecting_unknown_values():
    rows = [with_cell(ROWS[0], "garage", "carport"), *ROWS[1:]]
    result = fixed(csv(*rows))
    assert result.report.unparsable["garage"] == 1
    assert "garage" not in result.report.levels_folded
    assert result.frame.loc[0, "garage"] in SCHEMA.categorical[1].categories


def test_none_is_a_level_when_the_schema_lists_it():
    result = fixed(csv(*ROWS))
    assert result.frame["garage"].tolist().count("None") == 4
    assert result.report.missing_imputed["garage"] == 0
    # In any case it is still the level; other markers, and "None" in a column without such a
    # level, are missing values.
    rows = [with_cell(ROWS[1], "garage", "none"), with_cell(ROWS[2], "garage", "n/a"),
            with_cell(ROWS[3], "zipcode", "None"), ROWS[0], *ROWS[4:]]
    result = fixed(csv(*rows))
    assert result.frame.loc[0, "garage"] == "None"
    assert result.report.missing_imputed["garage"] == 1
    assert result.report.missing_imputed["zipcode"] == 1
    assert result.report.levels_folded["zipcode"] == 0


def test_levels_match_in_any_case_when_that_names_one_level():
    schema = schema_from_file_dict({
        "name": "c", "target": {"name": "price", "minimum": 1, "maximum": 1e7},
        "columns": [{"name": "kind", "kind": "categorical", "levels": ["Condo", "house", "House"], "other": "other"}]})
    result = fixed(b"kind,price\n CONDO ,100\ncondo,200\nHOUSE,300\nHouse,400\n", schema)
    # "HOUSE" could be "house" or "House": it names neither, and is folded.
    assert result.frame["kind"].tolist() == ["Condo", "Condo", "other", "House"]
    assert result.report.levels_folded == {"kind": 1}


def test_zero_padded_codes_read_as_numbers_find_their_level():
    schema = schema_from_file_dict({
        "name": "z", "target": {"name": "price", "minimum": 1, "maximum": 1e7},
        "columns": [{"name": "zip", "kind": "categorical", "levels": ["01234", "02139"], "other": "other"}]})
    frame = pd.DataFrame({"zip": [1234, 2139.0, 2140], "price": [100.0, 200.0, 300.0]})
    result = fix_batch(frame, schema)
    assert result.frame["zip"].tolist() == ["01234", "02139", "other"]


def test_integer_coded_categoricals_match_their_string_levels():
    frame = parse_csv(csv(*ROWS), SCHEMA)
    as_int = frame.assign(zipcode=frame["zipcode"].astype(int))
    with_nan = frame.assign(zipcode=[98103.0, 98112.0, np.nan, *frame["zipcode"].astype(float)[3:]])
    for variant in (as_int, with_nan):
        result = fix_batch(variant, SCHEMA)
        assert set(result.frame["zipcode"]) <= {"98103", "98105", "98112"}
        assert result.report.levels_folded == {"zipcode": 0}
    assert fix_batch(with_nan, SCHEMA).report.missing_imputed["zipcode"] == 1
    # Text written by pandas from such a float column matches too.
    rows = [with_cell(ROWS[0], "zipcode", "98103.0"), *ROWS[1:]]
    assert fixed(csv(*rows)).frame.loc[0, "zipcode"] == "98103"


def test_csv_path_and_frame_path_agree_on_a_typed_frame():
    from_csv = fixed(csv(*ROWS))
    typed = pd.read_csv(io.BytesIO(csv(*ROWS)))  # ints, floats, and NaN for "None"
    typed["garage"] = typed["garage"].fillna("None")
    from_frame = fix_batch(typed, SCHEMA)
    pd.testing.assert_frame_equal(from_csv.frame, from_frame.frame)
    assert from_csv.report == from_frame.report


def test_categorical_levels_is_what_fix_batch_sees():
    zipcode = SCHEMA.categorical[0]
    values = pd.Series([98103, 98004.0, np.nan, "98105", " other "], dtype=object)
    assert categorical_levels(values, zipcode).tolist()[:2] == ["98103", "other"]
    assert pd.isna(categorical_levels(values, zipcode)[2])
    garage = SCHEMA.categorical[1]
    # A column that does not fold keeps an unknown value as text (drift still sees it).
    assert categorical_levels(pd.Series(["carport", "None", "n/a"]), garage).tolist()[:2] == ["carport", "None"]


# --- the whole file, and the default schema -------------------------------------------------------


def test_a_real_looking_file_with_every_kind():
    schema = schema_from_file_dict({
        "name": "houses",
        "target": {"name": "price", "unit": "USD", "minimum": 10000, "maximum": 10000000},
        "columns": [
            {"name": "sqft", "kind": "integer", "minimum": 100, "maximum": 20000},
            {"name": "bedrooms", "kind": "integer", "minimum": 0, "maximum": 20},
            {"name": "grade", "kind": "categorical", "levels": ["6", "7", "8", "9"]},
            {"name": "waterfront", "kind": "boolean", "levels": ["0", "1"]},
            {"name": "zip", "kind": "categorical", "levels": ["98103", "98105"], "other": "other"},
            {"name": "lat", "kind": "numeric", "minimum": 47, "maximum": 48, "cap_outliers": False},
            {"name": "lon", "kind": "numeric", "minimum": -123, "maximum": -122, "cap_outliers": False},
            {"name": "neighbourhood", "kind": "categorical", "levels": ["Fremont", "Ballard"], "other": "other"},
            {"name": "property_type", "kind": "categorical", "levels": ["house", "condo", "townhouse"]},
            {"name": "id", "kind": "id"},
            {"name": "date", "kind": "date"},
        ],
    })
    result = fixed(HOUSES_CSV.read_bytes(), schema)
    report = result.report
    assert list(result.frame.columns) == schema.all_columns
    assert report.rows_out == 24
    assert report.levels_folded == {"zip": 6, "neighbourhood": 6}  # 98112 (5), 98199; Capitol Hill (5), Magnolia
    assert report.missing_imputed["property_type"] == 1  # the empty cell
    assert set(result.frame["waterfront"]) == {"0", "1"}
    assert "12 values outside the known levels folded into 'other' (zip 6, neighbourhood 6)" in report.describe()


def test_the_default_schema_reports_no_folding():
    header = ",".join(CALIFORNIA_HOUSING.all_columns)
    report = fix_batch(parse_csv(f"{header}\n3.5,30,5.2,1.05,1200,2.8,34.05,-118.25,2.1\n".encode(),
                                 CALIFORNIA_HOUSING), CALIFORNIA_HOUSING).report
    assert report.levels_folded == {}
    assert report.describe() == "1 rows in, 1 out"


def test_describe_report_reads_a_stored_report():
    report = FixReport(rows_in=10, rows_out=8, duplicates_removed=2, levels_folded={"zip": 0, "town": 3})
    assert describe_report(report.to_dict()) == (
        "10 rows in, 8 out; 2 duplicates removed; 3 values outside the known levels folded into 'other' (town 3)")
    older = {k: v for k, v in report.to_dict().items() if k != "levels_folded"}  # before the field existed
    assert describe_report(older) == "10 rows in, 8 out; 2 duplicates removed"
