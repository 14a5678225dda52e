"""Schema inference from a CSV: kinds, ranges, levels, the target's unit and transform, and bad input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from selfheal.schema import (
    CategoricalFeature,
    ExcludedColumn,
    NumericFeature,
    dump_schema_file,
    parse_schema_file,
)
from selfheal.schema_inference import (
    SchemaInferenceError,
    infer_range,
    infer_schema,
    infer_schema_report,
    read_csv_bytes,
    read_csv_file,
    read_csv_string,
    schema_name,
    value_problems,
)

HOUSES_CSV = Path(__file__).resolve().parents[1] / "data" / "schema" / "houses.csv"

# Small and hand-written: a date, an id, a string column, an integer code, booleans spelled yes/no, dollars.
SALES = """\
sale_id,sold_on,price,rooms,condition,garage,area_m2,ocean_proximity,street
A-1,01/03/2021,250000,3,2,yes,71.5,NEAR BAY,1 Elm St
A-2,02/03/2021,310000,4,3,no,88.0,NEAR BAY,2 Elm St
A-3,03/03/2021,199000,2,1,no,54.25,INLAND,3 Oak Ave
A-4,04/03/2021,275000,3,2,yes,70.0,INLAND,4 Oak Ave
A-5,05/03/2021,420000,5,3,yes,120.0,NEAR OCEAN,5 Pine Rd
A-6,06/03/2021,238000,3,2,no,66.0,INLAND,6 Pine Rd
A-7,07/03/2021,1900000,6,3,yes,240.0,ISLAND,7 Bay Ln
A-8,08/03/2021,265000,3,1,no,69.5,NEAR BAY,8 Bay Ln
A-9,09/03/2021,289000,4,2,yes,81.0,NEAR OCEAN,9 Cliff Dr
A-10,10/03/2021,301000,4,3,no,84.0,NEAR BAY,10 Cliff Dr
A-11,11/03/2021,228000,2,2,no,58.0,INLAND,11 Mill St
A-12,12/03/2021,,3,2,yes,72.0,NEAR OCEAN,12 Mill St
"""


def kinds(schema) -> dict[str, str]:
    return {name: schema.kind_of(name) for name in schema.known_columns}


@pytest.fixture(scope="module")
def houses():
    return infer_schema_report(read_csv_file(HOUSES_CSV), "price", name="houses")


def test_houses_columns_get_their_kinds(houses):
    s = houses.schema
    assert kinds(s) == {
        "sqft": "integer", "bedrooms": "integer", "lat": "numeric", "lon": "numeric",
        "grade": "categorical", "zip": "categorical", "neighbourhood": "categorical", "property_type": "categorical",
        "waterfront": "boolean", "price": "target", "id": "id", "date": "date",
    }
    assert houses.columns[:3] == ("id", "date", "price") and houses.rows == 24


def test_houses_ranges_bounds_and_capping(houses):
    s = houses.schema
    sqft = s.numeric_feature("sqft")  # observed 850..4160, non-negative: never a negative minimum
    assert (sqft.minimum, sqft.maximum, sqft.cap_outliers, sqft.kind) == (0.0, 5000.0, True, "integer")
    assert sqft.example == 2920.0  # the median
    bedrooms = s.numeric_feature("bedrooms")  # a count: stays an integer though it has 5 distinct values
    assert (bedrooms.minimum, bedrooms.maximum) == (0.0, 6.0)
    lat, lon = s.numeric_feature("lat"), s.numeric_feature("lon")
    assert (lat.minimum, lat.maximum, lat.cap_outliers) == (47.57, 47.74, False)
    assert (lon.minimum, lon.maximum, lon.cap_outliers) == (-122.45, -122.27, False)
    assert s.capped_columns == ["sqft", "bedrooms"]


def test_houses_target_in_dollars_is_log_transformed(houses):
    target = houses.schema.target
    assert (target.name, target.unit, target.transform) == ("price", "USD", "log")
    assert (target.minimum, target.maximum) == (100000.0, 3000000.0)  # half the observed minimum at most
    assert not target.cap_outliers
    assert "log: skewness 3.8 > 1" in houses.notes["price"]


def test_houses_levels_fold_rare_values(houses):
    by_name = {c.name: c for c in houses.schema.categorical}
    assert by_name["grade"] == CategoricalFeature("grade", ("6", "7", "8", "9"), other="other")
    assert by_name["zip"] == CategoricalFeature("zip", ("98103", "98105", "98112"), other="other")  # 98199: once
    assert by_name["neighbourhood"].known_levels == ("Fremont", "Ballard", "Capitol Hill")  # Magnolia: once
    assert by_name["property_type"].known_levels == ("house", "condo")  # townhouse: 4 rows < 5
    assert by_name["waterfront"] == CategoricalFeature("waterfront", ("0", "1"), kind="boolean")
    assert "1 rare level(s) (1 row(s)) folded into 'other'" in houses.notes["zip"]
    assert "1 of 24 missing" in houses.notes["property_type"]
    assert "code-like name: codes, not quantities" in houses.notes["zip"]


def test_the_inferred_schema_is_a_valid_file(houses):
    text = dump_schema_file(houses.schema)
    assert parse_schema_file(text) == houses.schema


def test_sales_with_strings_dates_and_yes_no():
    report = infer_schema_report(read_csv_string(SALES), "price", name="sales")
    s = report.schema
    assert kinds(s) == {
        "area_m2": "numeric", "rooms": "integer", "condition": "categorical", "ocean_proximity": "categorical",
        "garage": "boolean", "price": "target", "sale_id": "id", "sold_on": "date", "street": "id",
    }
    by_name = {c.name: c for c in s.categorical}
    assert by_name["garage"].categories == ("no", "yes")
    # condition: "2" six times; "1" and "3" three times each, fewer than 5 rows: rare, folded
    assert by_name["condition"].categories == ("2", "other")
    assert "2 rare level(s) (6 row(s)) folded into 'other'" in report.notes["condition"]
    # no level reaches 5 rows: a sample this small cannot call any of them rare, so all are kept
    assert by_name["ocean_proximity"].known_levels == ("INLAND", "NEAR BAY", "NEAR OCEAN", "ISLAND")
    assert "every level is rare" in report.notes["ocean_proximity"][0]
    assert report.notes["sold_on"] == ("dates (%d/%m/%Y): excluded",)
    assert "1 of 12 missing" in report.notes["price"]
    assert s.target.unit == "USD" and s.target.transform == "log"


def test_inference_is_deterministic_and_ignores_row_order():
    frame = read_csv_file(HOUSES_CSV)
    first = infer_schema(frame, "price")
    assert infer_schema(frame, "price") == first
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert infer_schema(shuffled, "price") == first
    assert dump_schema_file(infer_schema(shuffled, "price")) == dump_schema_file(first)


def test_a_frame_read_with_pandas_types_gives_the_same_schema():
    typed = pd.read_csv(HOUSES_CSV)
    assert infer_schema(typed, "price") == infer_schema(read_csv_file(HOUSES_CSV), "price")


def test_id_rules():
    n = 40
    frame = pd.DataFrame({
        "price": np.linspace(1.0, 5.0, n),
        # an id-like name with a repeated value (a house sold twice) is still an id
        "houseId": [str(1000 + i) for i in range(n - 1)] + ["1000"],
        "record_id": ["7"] * n,  # an id-like name, but not distinct: a constant, not an id
        "description": [f"house number {i}" for i in range(n)],  # nearly unique text
        "empty": [""] * n,
        "x": np.arange(n) % 7 + 0.5,
    })
    s = infer_schema(frame, "price")
    assert kinds(s)["houseId"] == "id" and kinds(s)["description"] == "id" and kinds(s)["empty"] == "id"
    assert kinds(s)["record_id"] == "categorical"


def test_numeric_rules():
    n = 60
    frame = pd.DataFrame({
        "price": np.arange(n) + 1.0,
        "zipcode": [98000 + i for i in range(n)],  # many distinct whole numbers, but a code
        "year_built": [1950 + i % 8 for i in range(n)],  # few distinct, but a year: an integer
        "quality": [1 + i % 4 for i in range(n)],  # few distinct whole numbers: codes
        "lot": [100 + 13 * i for i in range(n)],  # many distinct whole numbers: an integer
        "ratio": [0.5 + i / 7 for i in range(n)],
        "Longitude": [-118.0 - i / 100 for i in range(n)],
        "flag": ["True" if i % 3 else "False" for i in range(n)],
        "spelled": [["Y", "N", "y"][i % 3] for i in range(n)],  # three spellings: not a clean pair
    })
    s = infer_schema(frame, "price")
    assert kinds(s) == {
        "year_built": "integer", "lot": "integer", "ratio": "numeric", "Longitude": "numeric", "zipcode": "categorical",
        "quality": "categorical", "flag": "boolean", "spelled": "categorical", "price": "target",
    }
    assert s.numeric_feature("Longitude").cap_outliers is False
    assert s.numeric_feature("ratio").cap_outliers is True
    flag = next(c for c in s.categorical if c.name == "flag")
    assert flag.categories == ("False", "True")
    zipcode = next(c for c in s.categorical if c.name == "zipcode")
    # every zip is seen once: all rare, so all kept (a sample this small cannot call any rare), in numeric order
    assert zipcode.known_levels == tuple(str(98000 + i) for i in range(n)) and zipcode.folds


def test_target_without_skew_or_dollars_has_no_unit_and_no_transform():
    frame = pd.DataFrame({"MedHouseVal": [1.5, 2.0, 2.5, 3.0, 3.5, 2.2, 2.8], "x": [1.0, 2, 3, 4, 5, 6, 7]})
    target = infer_schema(frame, "MedHouseVal").target
    assert (target.unit, target.transform) == ("", "none")
    assert (target.minimum, target.maximum) == (1.0, 4.0)


def test_range_rules():
    assert infer_range(pd.Series([850.0, 4160.0]), integer=True) == (0.0, 5000.0)
    assert infer_range(pd.Series([-3.2, 7.9])) == (-6.0, 11.0)  # negative data keeps its margin below
    assert infer_range(pd.Series([1.0, 3.0]), integer=True) == (0.0, 4.0)
    assert infer_range(pd.Series([5.0, 5.0])) == (3.0, 7.0)  # a constant still gets a range around it
    assert infer_range(pd.Series([0.0, 0.0])) == (0.0, 1.0)
    assert infer_range(pd.Series([298000.0, 2450000.0]), positive=True) == (100000.0, 3000000.0)
    assert infer_range(pd.Series([10.0, 20.0]), margin=0.0) == (10.0, 20.0)


def test_value_problems_say_what_fix_data_would_do():
    schema = infer_schema(read_csv_file(HOUSES_CSV), "price")
    batch = read_csv_string(
        "id,date,price,sqft,bedrooms,grade,waterfront,zip,lat,lon,neighbourhood,property_type\n"
        "1,2015-01-01,50000,9000,2.5,6,0,98199,47.6,-122.3,Fremont,castle\n"
        "2,2015-01-02,500000,abc,3,10,maybe,98103,47.6,-122.3,Fremont,house\n")
    problems = value_problems(schema, batch)
    assert problems == [
        "column 'sqft': 1 value(s) are not numbers, e.g. 'abc'",
        "column 'sqft': 1 value(s) above maximum 5000 (largest 9000) are impossible values",
        "column 'bedrooms': 1 value(s) are not whole numbers, e.g. 2.5",
        "target 'price': 1 value(s) below minimum 100000 (smallest 50,000) are impossible values",
        "column 'grade': 1 value(s) not among the levels are folded into 'other', e.g. '10'",
        "column 'waterfront': 1 value(s) not among the levels are invalid, e.g. 'maybe'",
        "column 'zip': 1 value(s) not among the levels are folded into 'other', e.g. '98199'",
        "column 'property_type': 1 value(s) not among the levels are folded into 'other', e.g. 'castle'",
    ]


def test_schema_names_come_from_file_names():
    assert schema_name("data/King County sales (2015).csv") == "king_county_sales_2015"
    assert schema_name("---.csv") == "dataset"


# ---- bad input ---------------------------------------------------------------------------------------

BAD_INPUT = [
    ("target absent", "a,b\n1,2\n", "prize", "target column 'prize' is not in the CSV; its columns are: a, b"),
    ("target misspelled", "price,b\n1,2\n", "prise", "(did you mean 'price'?)"),
    ("target in dollars with separators", 'price,b\n"$250,000",1\n', "price",
     "e.g. '$250,000' (write plain numbers: no currency symbols or thousands separators)"),
    ("target text", "price,b\nhigh,1\nlow,2\n", "price",
     "target column 'price' is not numeric: 2 of 2 values are not numbers, e.g. 'high'"),
    ("target empty", "price,b\n,1\nn/a,2\n", "price", "target column 'price' has no values"),
    ("header only", "price,b\n", "price", "header but no data rows"),
    ("duplicate columns", "price,b,b\n1,2,3\n", "price", "columns named twice in the header: 'b'"),
    ("unnamed column", ",price,b\n0,1,2\n", "price", "column #1 has no name in the header"),
    ("only ids left", "price,id\n1,a\n2,b\n", "price", "no feature columns left"),
    ("wrong delimiter", "price;b\n1;2\n", "price", "header is one column containing ';'"),
]


@pytest.mark.parametrize(("text", "target", "expected"), [(t, g, e) for _, t, g, e in BAD_INPUT],
                         ids=[case for case, _, _, _ in BAD_INPUT])
def test_bad_input_is_named(text, target, expected):
    with pytest.raises(SchemaInferenceError) as info:
        infer_schema(read_csv_string(text), target)
    assert expected in str(info.value), str(info.value)


def test_unreadable_bytes_are_named():
    with pytest.raises(SchemaInferenceError, match="file is empty"):
        read_csv_bytes(b"")
    with pytest.raises(SchemaInferenceError, match="not UTF-8"):
        read_csv_bytes("price,ville\n1,Montréal\n".encode("latin-1"))
    with pytest.raises(SchemaInferenceError, match="NUL bytes"):
        read_csv_bytes("price,b\n1,2\n".encode("utf-16"))
    with pytest.raises(SchemaInferenceError, match="no columns"):
        infer_schema(pd.DataFrame(), "price")
    with pytest.raises(SchemaInferenceError, match="margin"):
        infer_schema(pd.read_csv(io.StringIO("price,b\n1,2\n")), "price", margin=-1)


def test_unreadable_files_are_named(tmp_path):
    with pytest.raises(SchemaInferenceError, match="no such file"):
        read_csv_file(tmp_path / "absent.csv")
    with pytest.raises(SchemaInferenceError, match="is a directory"):
        read_csv_file(tmp_path)


def test_column_types_in_the_model():
    s = infer_schema(read_csv_file(HOUSES_CSV), "price")
    assert all(isinstance(c, NumericFeature) for c in s.numeric)
    assert s.excluded == (ExcludedColumn("id", "id"), ExcludedColumn("date", "date"))
