"""Label files: parsing (what is dropped, what is quarantined and why), merging and the join to captures."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from selfheal.exceptions import DataQualityError
from selfheal.labels import ID_COLUMN, join_labels, merge_labels, parse_labels
from selfheal.schema import DEFAULT_SCHEMA

TARGET = DEFAULT_SCHEMA.target.name


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1, version=4)) for i in range(n)]


def csv(rows: list[tuple[str, str]], header: str = f"prediction_id,{TARGET}") -> bytes:
    return (header + "\n" + "".join(f"{a},{b}\n" for a, b in rows)).encode()


def reason(raw: bytes) -> str:
    with pytest.raises(DataQualityError) as caught:
        parse_labels(raw, DEFAULT_SCHEMA)
    return caught.value.reason


def test_a_clean_file_gives_one_float_label_per_lowercased_id():
    a, b = ids(2)
    parsed = parse_labels(csv([(a.upper(), "2.5"), (b, " 1.25 ")]), DEFAULT_SCHEMA)
    assert parsed.frame.to_dict("records") == [{ID_COLUMN: a, TARGET: 2.5}, {ID_COLUMN: b, TARGET: 1.25}]
    assert parsed.report() == {"rows_in": 2, "rows_out": 2, "rows_dropped": 0, "invalid_ids": 0, "missing_targets": 0,
                               "non_numeric_targets": 0, "out_of_bounds_targets": 0, "duplicates": 0}


def test_columns_may_come_in_any_order():
    (a,) = ids(1)
    parsed = parse_labels(f"{TARGET},prediction_id\n3.0,{a}\n".encode(), DEFAULT_SCHEMA)
    assert parsed.frame.to_dict("records") == [{ID_COLUMN: a, TARGET: 3.0}]


def test_within_a_file_the_last_label_of_an_id_wins():
    a, b = ids(2)
    parsed = parse_labels(csv([(a, "1.0"), (b, "2.0"), (a, "3.0")]), DEFAULT_SCHEMA)
    assert dict(zip(parsed.frame[ID_COLUMN], parsed.frame[TARGET], strict=True)) == {a: 3.0, b: 2.0}
    assert parsed.duplicates == 1


def test_a_minority_of_bad_rows_is_counted_and_dropped():
    good = ids(7)
    rows = [(i, "2.0") for i in good] + [(ids(9)[7], "abc"), (ids(9)[8], ""), ("row-10", "2.0")]
    parsed = parse_labels(csv(rows), DEFAULT_SCHEMA)
    assert parsed.frame[ID_COLUMN].tolist() == good
    assert (parsed.non_numeric_targets, parsed.missing_targets, parsed.invalid_ids, parsed.rows_dropped) == (1, 1, 1, 3)


def test_targets_outside_the_schemas_bounds_or_infinite_are_invalid():
    a, b, c, d = ids(4)
    parsed = parse_labels(csv([(a, "-1"), (b, "inf"), (c, "2"), (d, "3"), *[(i, "1") for i in ids(10)[4:]]]),
                          DEFAULT_SCHEMA)
    assert parsed.out_of_bounds_targets == 2 and a not in parsed.frame[ID_COLUMN].tolist()


@pytest.mark.parametrize(("raw", "expected"), [
    (b"", "empty_file"),
    (b"   \n", "empty_file"),
    ("prediction_id,MedHouseVal\n".encode("utf-16"), "not_utf8"),
    (b"prediction_id,MedHouseVal\n\xff\xfe,1\n", "not_utf8"),
    (b"prediction_id,MedHouseVal\n", "header_only"),
    (b"prediction_id;MedHouseVal\nx;1\n", "wrong_delimiter"),
    (b"prediction_id\nabc\n", "missing_columns"),
    (b"id,MedHouseVal\nabc,1\n", "missing_columns"),
    (b"prediction_id,MedHouseVal,MedInc\nabc,1,2\n", "unknown_columns"),
    (b"prediction_id,MedHouseVal,MedHouseVal\nabc,1,2\n", "duplicate_columns"),
    (b"prediction_id,MedHouseVal\na,1,2,3\n", "malformed_csv"),
])
def test_an_unusable_file_is_rejected_with_a_machine_readable_reason(raw, expected):
    assert reason(raw) == expected


def test_ids_that_are_not_uuids_make_the_file_unusable():
    assert reason(csv([(str(n), "1.0") for n in range(10)])) == "invalid_ids"


def test_no_valid_target_at_all_makes_the_file_unusable():
    assert reason(csv([(i, "n/a") for i in ids(5)])) == "invalid_targets"


def test_half_of_the_rows_invalid_is_not_a_minority():
    good, bad = ids(4)[:2], ids(4)[2:]
    with pytest.raises(DataQualityError) as caught:
        parse_labels(csv([(i, "1") for i in good] + [(i, "x") for i in bad]), DEFAULT_SCHEMA)
    assert caught.value.reason == "invalid_targets"
    assert caught.value.details["non_numeric_targets"] == 2 and caught.value.details["rows"] == 4


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    with pytest.raises(DataQualityError) as caught:
        parse_labels(csv([(i, "1") for i in ids(50)]), DEFAULT_SCHEMA, max_bytes=100)
    assert caught.value.reason == "too_large"


def test_across_files_the_newest_files_label_wins():
    a, b, c = ids(3)
    older = pd.DataFrame({ID_COLUMN: [a, b], TARGET: [1.0, 2.0]})
    newer = pd.DataFrame({ID_COLUMN: [b, c], TARGET: [9.0, 3.0]})
    merged = merge_labels([older, newer], DEFAULT_SCHEMA)
    assert dict(zip(merged.frame[ID_COLUMN], merged.frame[TARGET], strict=True)) == {a: 1.0, b: 9.0, c: 3.0}
    assert merged.replaced == 1
    assert merge_labels([], DEFAULT_SCHEMA).frame.columns.tolist() == [ID_COLUMN, TARGET]


def test_the_join_keeps_labelled_captures_and_counts_ids_never_captured():
    a, b, unknown = ids(3)
    captured = pd.DataFrame({ID_COLUMN: [a, b, a], "model_version": ["v0001", "v0002", "v0001"],
                             "prediction": [1.0, 2.0, 1.5]})
    labels = pd.DataFrame({ID_COLUMN: [a, unknown], TARGET: [1.2, 5.0]})
    join = join_labels(captured, labels, DEFAULT_SCHEMA)
    # A capture stored twice (a retried write) counts once: the first one.
    assert join.joined[[ID_COLUMN, "prediction", TARGET]].to_dict("records") == [
        {ID_COLUMN: a, "prediction": 1.0, TARGET: 1.2}]
    assert join.unmatched_ids == [unknown] and join.unmatched == 1


def test_joining_no_labels_gives_no_rows_and_nothing_unmatched():
    captured = pd.DataFrame({ID_COLUMN: ids(2), "model_version": ["v0001"] * 2, "prediction": [1.0, 2.0]})
    join = join_labels(captured, merge_labels([], DEFAULT_SCHEMA).frame, DEFAULT_SCHEMA)
    assert join.joined.empty and join.unmatched == 0 and TARGET in join.joined.columns
