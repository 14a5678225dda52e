"""The schema file: its format, strict validation (each problem named with its column), and the
backward-compatible data model (the California housing default and SCHEMA_JSON's to_dict form)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from selfheal.config import Settings
from selfheal.schema import (
    CALIFORNIA_HOUSING,
    DEFAULT_SCHEMA,
    CategoricalFeature,
    ExcludedColumn,
    NumericFeature,
    Schema,
    SchemaFileError,
    Target,
    dump_schema_file,
    load_schema_file,
    match_columns,
    parse_schema_file,
    schema_from_file_dict,
)

# What Schema.to_dict() wrote before kinds, units and excluded columns existed (a SCHEMA_JSON in the wild).
LEGACY_DICT: dict[str, Any] = {
    "name": "california_housing",
    "numeric": [
        {"name": "MedInc", "minimum": 0.0, "maximum": 20.0, "description": "median income in block group, $10k",
         "cap_outliers": True, "example": 3.87},
        {"name": "Latitude", "minimum": 32.0, "maximum": 42.5, "description": "block group latitude",
         "cap_outliers": False, "example": 34.05},
    ],
    "target": {"name": "MedHouseVal", "minimum": 0.0, "maximum": 10.0, "description": "median house value, $100k",
               "cap_outliers": True, "example": None},
    "categorical": [{"name": "OceanProximity", "categories": ["INLAND", "NEAR BAY"], "description": ""}],
}

HOUSES: dict[str, Any] = {
    "format_version": 1,
    "name": "houses",
    "target": {"name": "price", "unit": "USD", "transform": "log", "minimum": 10000, "maximum": 10000000},
    "columns": [
        {"name": "sqft", "kind": "numeric", "minimum": 100, "maximum": 20000, "cap_outliers": True, "example": 1800},
        {"name": "bedrooms", "kind": "integer", "minimum": 0, "maximum": 20},
        {"name": "lat", "kind": "numeric", "minimum": 47.0, "maximum": 48.0, "cap_outliers": False},
        {"name": "zip", "kind": "categorical", "levels": ["98103", "98105"], "other": "other"},
        {"name": "property_type", "kind": "categorical", "levels": ["house", "condo"]},
        {"name": "waterfront", "kind": "boolean", "levels": ["0", "1"]},
        {"name": "id", "kind": "id"},
        {"name": "date", "kind": "date", "description": "sale date"},
    ],
}


def houses(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(HOUSES)
    data.update(changes)
    return data


def with_column(column_name: str, /, **fields: Any) -> dict[str, Any]:
    """HOUSES with one column's fields changed (a field set to None is removed)."""
    data = houses()
    column = next(c for c in data["columns"] if c["name"] == column_name)
    for key, value in fields.items():
        if value is None:
            column.pop(key, None)
        else:
            column[key] = value
    return data


def problem(data: Any) -> str:
    with pytest.raises(SchemaFileError) as info:
        schema_from_file_dict(data)
    return str(info.value)


# ---- backward compatibility -------------------------------------------------------------------------


def test_california_round_trips_through_to_dict_and_json():
    assert Schema.from_dict(CALIFORNIA_HOUSING.to_dict()) == CALIFORNIA_HOUSING
    assert Schema.from_json(json.dumps(CALIFORNIA_HOUSING.to_dict())) == CALIFORNIA_HOUSING
    assert DEFAULT_SCHEMA is CALIFORNIA_HOUSING


def test_california_round_trips_through_the_file_format(tmp_path):
    text = dump_schema_file(CALIFORNIA_HOUSING)
    assert parse_schema_file(text) == CALIFORNIA_HOUSING
    path = tmp_path / "california.schema.json"
    path.write_text(text)
    assert load_schema_file(path) == CALIFORNIA_HOUSING
    assert Schema.from_dict(json.loads(text)) == CALIFORNIA_HOUSING  # from_dict reads the file form too


def test_california_keeps_its_columns_and_behaviour():
    s = CALIFORNIA_HOUSING
    assert s.feature_names == ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                               "Latitude", "Longitude"]
    assert s.all_columns == [*s.feature_names, "MedHouseVal"]
    assert s.known_columns == s.all_columns
    assert s.capped_columns == ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup"]
    assert s.example_record()["Latitude"] == 34.05
    assert s.target.unit == "$100k" and s.target.transform == "none" and not s.target.cap_outliers
    assert s.numeric_feature("MedHouseVal") is s.target


def test_a_legacy_to_dict_still_loads():
    schema = Schema.from_dict(LEGACY_DICT)
    assert isinstance(schema.target, Target)
    assert schema.target.cap_outliers is False  # meant nothing for a target; never capped
    assert schema.categorical == (CategoricalFeature("OceanProximity", ("INLAND", "NEAR BAY")),)
    assert Schema.from_dict(schema.to_dict()) == schema
    assert Settings(data_bucket="d", model_bucket="m", state_table="t",
                    schema_json=json.dumps(LEGACY_DICT)).schema == schema


def test_settings_read_a_schema_file_in_schema_json():
    settings = Settings(data_bucket="d", model_bucket="m", state_table="t", schema_json=json.dumps(HOUSES))
    assert settings.schema == schema_from_file_dict(HOUSES)


def test_code_built_schemas_still_work():
    legacy_target = Schema("s", (NumericFeature("x", 0.0, 1.0),), NumericFeature("y", 0.0, 5.0))  # type: ignore[arg-type]
    assert isinstance(legacy_target.target, Target) and legacy_target.target.name == "y"
    ocean = replace(CALIFORNIA_HOUSING, categorical=(CategoricalFeature("OceanProximity", ("INLAND", "NEAR BAY")),))
    assert ocean.categorical_names == ["OceanProximity"]
    assert Schema.from_dict(ocean.to_dict()) == ocean


# ---- the file format ----------------------------------------------------------------------------------


def test_every_kind_loads_into_the_data_model():
    s = schema_from_file_dict(HOUSES)
    assert s.name == "houses"
    assert s.target == Target("price", 10000.0, 10000000.0, unit="USD", transform="log")
    assert s.numeric_names == ["sqft", "bedrooms", "lat"]
    assert s.integer_names == ["bedrooms"]
    assert s.categorical_names == ["zip", "property_type", "waterfront"]
    assert s.boolean_names == ["waterfront"]
    assert s.excluded == (ExcludedColumn("id", "id"), ExcludedColumn("date", "date", "sale date"))
    assert s.feature_names == ["sqft", "bedrooms", "lat", "zip", "property_type", "waterfront"]
    assert s.all_columns == [*s.feature_names, "price"]  # what a model trains on: no id, no date
    assert s.known_columns == [*s.all_columns, "id", "date"]
    assert s.capped_columns == ["sqft", "bedrooms"]  # cap_outliers defaults to true; lat says false
    assert [s.kind_of(c) for c in ("price", "bedrooms", "zip", "waterfront", "date")] == [
        "target", "integer", "categorical", "boolean", "date"]
    assert s.example_record() == {"sqft": 1800, "bedrooms": 10.0, "lat": 47.5, "zip": "98103",
                                  "property_type": "house", "waterfront": "0"}


def test_folding_adds_the_fold_level_and_maps_unknown_values_to_it():
    s = schema_from_file_dict(HOUSES)
    zip_code = s.categorical[0]
    assert zip_code.categories == ("98103", "98105", "other")  # what the model's encoder sees
    assert zip_code.known_levels == ("98103", "98105")
    assert zip_code.folds and zip_code.fold("98199") == "other" and zip_code.fold("98105") == "98105"
    kind = s.categorical[1]
    assert not kind.folds and kind.fold("castle") is None  # no fold level: an unknown value is invalid


def test_the_file_is_one_line_per_column_and_round_trips(tmp_path):
    schema = schema_from_file_dict(HOUSES)
    text = dump_schema_file(schema)
    assert json.loads(text)["columns"][0] == {"name": "sqft", "kind": "numeric", "minimum": 100, "maximum": 20000,
                                              "cap_outliers": True, "example": 1800}
    assert '    {"name": "zip", "kind": "categorical", "levels": ["98103", "98105"], "other": "other"}' in text
    assert parse_schema_file(text) == schema
    assert dump_schema_file(parse_schema_file(text)) == text


# ---- validation: every problem named, with its column --------------------------------------------------

COLUMN_PROBLEMS = [
    ("unknown kind", with_column("sqft", kind="text"),
     ["column 'sqft'", "unknown kind \"text\"", "numeric, integer, categorical, boolean, id, date"]),
    ("kind typo", with_column("sqft", kind="integr"), ["column 'sqft'", "did you mean 'integer'?"]),
    ("missing kind", with_column("sqft", kind=None), ["column 'sqft'", "missing field 'kind'"]),
    ("minimum > maximum", with_column("sqft", minimum=30000), ["column 'sqft'", "minimum 30000 > maximum 20000"]),
    ("missing bound", with_column("sqft", maximum=None), ["column 'sqft'", "missing field 'maximum'"]),
    ("bound not a number", with_column("sqft", minimum="100"), ["column 'sqft'", "minimum must be a number", '"100"']),
    ("bound is a boolean", with_column("sqft", minimum=True), ["column 'sqft'", "minimum must be a number"]),
    ("example outside", with_column("sqft", example=50000), ["column 'sqft'", "example 50000 is outside [100, 20000]"]),
    ("cap_outliers not boolean", with_column("sqft", cap_outliers="yes"), ["column 'sqft'", "cap_outliers must be true or false"]),
    ("unknown field", with_column("sqft", maxmum=5), ["column 'sqft'", "unknown field 'maxmum'", "did you mean 'maximum'?"]),
    ("field of another kind", with_column("sqft", levels=["a"]), ["column 'sqft'", "field 'levels' does not apply to kind numeric"]),
    ("categorical without levels", with_column("zip", levels=[]), ["column 'zip'", "no levels"]),
    ("categorical levels missing", with_column("zip", levels=None), ["column 'zip'", "missing field 'levels'"]),
    ("numeric levels", with_column("zip", levels=[98103, 98105]), ["column 'zip'", "levels must be strings", '"98103"']),
    ("level twice", with_column("zip", levels=["98103", "98103"]), ["column 'zip'", "level '98103' is listed twice"]),
    ("empty level", with_column("zip", levels=["98103", " "]), ["column 'zip'", "must be a non-empty string"]),
    ("fold level among levels", with_column("zip", levels=["98103", "other"]), ["column 'zip'", "fold level 'other' is also listed"]),
    ("fold level not a string", with_column("zip", other=1), ["column 'zip'", "other must be a string"]),
    ("boolean with three levels", with_column("waterfront", levels=["0", "1", "2"]), ["column 'waterfront'", "exactly two levels"]),
    ("boolean that folds", with_column("waterfront", other="other"), ["column 'waterfront'", "field 'other' does not apply to kind boolean"]),
    ("id with bounds", with_column("id", minimum=0), ["column 'id'", "field 'minimum' does not apply to kind id"]),
    ("name with spaces around", with_column("sqft", name=" sqft"), ["column ' sqft'", "leading or trailing spaces"]),
    ("column not an object", houses(columns=[*HOUSES["columns"], "sqft"]), ["column #9", "must be an object"]),
    ("column without a name", houses(columns=[*HOUSES["columns"], {"kind": "id"}]), ["column #9", "missing field 'name'"]),
]


@pytest.mark.parametrize(("data", "expected"), [(d, e) for _, d, e in COLUMN_PROBLEMS],
                         ids=[case for case, _, _ in COLUMN_PROBLEMS])
def test_a_column_problem_is_named_with_its_column(data, expected):
    message = problem(data)
    for part in expected:
        assert part in message, message


SCHEMA_PROBLEMS = [
    ("missing target", {k: v for k, v in HOUSES.items() if k != "target"}, ["missing target"]),
    ("target not an object", houses(target="price"), ["target must be an object"]),
    ("target without a name", houses(target={"minimum": 1, "maximum": 2}), ["target", "missing field 'name'"]),
    ("target also a feature", houses(columns=[*HOUSES["columns"], {"name": "price", "kind": "numeric", "minimum": 0,
                                                                  "maximum": 1}]),
     ["target 'price' is also listed as a column"]),
    ("target also an id", houses(columns=[*HOUSES["columns"], {"name": "price", "kind": "id"}]),
     ["target 'price' is also listed as a column"]),
    ("column listed twice", houses(columns=[*HOUSES["columns"], {"name": "zip", "kind": "id"}]),
     ["column 'zip' is listed twice"]),
    ("invalid transform", houses(target={**HOUSES["target"], "transform": "sqrt"}),
     ["target 'price'", "invalid transform 'sqrt'", "none, log"]),
    ("log with a zero minimum", houses(target={**HOUSES["target"], "minimum": 0}),
     ["target 'price'", "transform 'log' needs a positive minimum, got 0"]),
    ("log with a negative minimum", houses(target={**HOUSES["target"], "minimum": -5}),
     ["target 'price'", "needs a positive minimum, got -5"]),
    ("target minimum > maximum", houses(target={**HOUSES["target"], "minimum": 5e7}), ["target 'price'", "minimum 5e+07 > maximum 1e+07"]),
    ("target capped", houses(target={**HOUSES["target"], "cap_outliers": True}),
     ["target 'price'", "unknown field 'cap_outliers'"]),
    ("target unit not text", houses(target={**HOUSES["target"], "unit": 100}), ["target 'price'", "unit must be a string"]),
    ("no features left", houses(columns=[{"name": "id", "kind": "id"}, {"name": "date", "kind": "date"}]),
     ["no feature columns left"]),
    ("no columns", houses(columns=[]), ["columns must be a non-empty list"]),
    ("columns missing", {k: v for k, v in HOUSES.items() if k != "columns"}, ["missing field 'columns'"]),
    ("unknown top-level field", houses(colums=[]), ["top level: unknown field 'colums'", "did you mean 'columns'?"]),
    ("missing name", {k: v for k, v in HOUSES.items() if k != "name"}, ["missing field 'name'"]),
    ("newer format", houses(format_version=2), ["format_version 2 is not supported"]),
    ("not an object", ["price"], ["one JSON object"]),
]


@pytest.mark.parametrize(("data", "expected"), [(d, e) for _, d, e in SCHEMA_PROBLEMS],
                         ids=[case for case, _, _ in SCHEMA_PROBLEMS])
def test_a_schema_problem_is_named(data, expected):
    message = problem(data)
    for part in expected:
        assert part in message, message


def test_every_problem_is_reported_at_once():
    data = with_column("sqft", minimum=30000)
    data["columns"].append({"name": "garage", "kind": "text"})
    with pytest.raises(SchemaFileError) as info:
        schema_from_file_dict(data, source="houses.schema.json")
    assert info.value.problems == [
        "column 'sqft': minimum 30000 > maximum 20000",
        'column \'garage\': unknown kind "text"; expected one of numeric, integer, categorical, boolean, id, date',
    ]
    assert str(info.value).startswith("houses.schema.json: 2 problems:\n  - column 'sqft'")
    assert isinstance(info.value, ValueError)


def test_the_text_is_checked_as_strict_json():
    text = dump_schema_file(schema_from_file_dict(HOUSES))
    with pytest.raises(SchemaFileError, match=r"not valid JSON: .* at line 4, column \d+"):
        parse_schema_file(text.replace('"USD",', '"USD"'))
    with pytest.raises(SchemaFileError, match="NaN is not a number JSON allows"):
        parse_schema_file(text.replace('"minimum": 100,', '"minimum": NaN,'))
    with pytest.raises(SchemaFileError, match="column 'sqft': field 'minimum' is given twice"):
        parse_schema_file(text.replace('"minimum": 100,', '"minimum": 100, "minimum": 200,'))


def test_loading_a_file_names_the_file(tmp_path):
    path = tmp_path / "my schema.json"
    for raw, expected in [(b"", "the file is empty"), (b"\xff\xfe{}", "not UTF-8 text"),
                          (b'{"name": "x"', "not valid JSON")]:
        path.write_bytes(raw)
        with pytest.raises(SchemaFileError, match=expected) as info:
            load_schema_file(path)
        assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(SchemaFileError, match="no such file"):
        load_schema_file(tmp_path / "absent.json")
    with pytest.raises(SchemaFileError, match="is a directory"):
        load_schema_file(tmp_path)
    path.write_text(json.dumps(with_column("sqft", minimum=30000)))
    with pytest.raises(SchemaFileError, match=r"my schema\.json: column 'sqft': minimum 30000 > maximum 20000"):
        load_schema_file(path)


def test_code_built_columns_are_validated_too():
    with pytest.raises(SchemaFileError, match="column 'x': minimum 5 > maximum 1"):
        NumericFeature("x", 5.0, 1.0)
    with pytest.raises(SchemaFileError, match="column 'x': kind 'decimal' is not one of numeric, integer"):
        NumericFeature("x", 0.0, 1.0, kind="decimal")
    with pytest.raises(SchemaFileError, match="column 'c': a categorical column needs at least one level"):
        CategoricalFeature("c", ())
    with pytest.raises(SchemaFileError, match="column 'd': kind 'time' is not one of id, date"):
        ExcludedColumn("d", "time")
    with pytest.raises(SchemaFileError, match="target 'y': transform 'log' needs a positive minimum"):
        Target("y", 0.0, 1.0, transform="log")
    with pytest.raises(SchemaFileError, match="target 'y': the target is never capped"):
        Target("y", 0.0, 1.0, cap_outliers=True)
    with pytest.raises(SchemaFileError, match="column 'MedInc' is listed twice"):
        replace(CALIFORNIA_HOUSING, excluded=(ExcludedColumn("MedInc", "id"),))


# ---- a schema against a CSV header --------------------------------------------------------------------


def test_a_header_matches_with_or_without_id_and_date_columns():
    s = schema_from_file_dict(HOUSES)
    full = match_columns(s, ["id", "date", "price", "sqft", "bedrooms", "lat", "zip", "property_type", "waterfront"])
    assert full.ok and full.problems() == [] and full.absent_excluded == ()
    lean = match_columns(s, [" price", "sqft ", "bedrooms", "lat", "zip", "property_type", "waterfront"])
    assert lean.ok and lean.absent_excluded == ("id", "date")


def test_a_header_mismatch_names_the_columns():
    s = schema_from_file_dict(HOUSES)
    result = match_columns(s, ["id", "price", "sqft", "sqft", "bedrooms", "latitude", "zip", "garage"])
    assert not result.ok
    assert result.missing == ("lat", "property_type", "waterfront")
    assert result.unknown == ("latitude", "garage")
    assert result.duplicates == ("sqft",)
    assert result.problems() == [
        "missing in the CSV: 'lat', 'property_type', 'waterfront'",
        "in the CSV but not in the schema: 'latitude', 'garage' (add them to the schema's columns, "
        "as kind id or date to keep them out of the model)",
        "named twice in the CSV header: 'sqft'",
    ]


def test_an_unlabelled_header_may_leave_out_the_target():
    s = schema_from_file_dict(HOUSES)
    header = ["sqft", "bedrooms", "lat", "zip", "property_type", "waterfront"]
    assert match_columns(s, header, require_target=False).ok
    assert match_columns(s, header).missing == ("price",)


def test_the_documented_example_is_a_valid_schema_file():
    page = (Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text()
    example = page.split("```json\n", 1)[1].split("```", 1)[0]
    schema = parse_schema_file(example, source="docs/schema.md")
    assert schema.target.transform == "log" and schema.excluded_names == ["id", "date"]
    assert schema.boolean_names == ["waterfront"] and schema.integer_names == ["sqft_living"]
