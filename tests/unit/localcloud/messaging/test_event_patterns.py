"""EventBridge event patterns, matched as AWS documents them."""

from __future__ import annotations

import pytest

from infra.localcloud.messaging.patterns import PatternError, matches

EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Step Functions Execution Status Change",
    "source": "aws.states",
    "account": "123456789012",
    "time": "2026-01-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:states:us-east-1:123456789012:execution:flow:run-1"],
    "detail": {
        "status": "FAILED",
        "name": "run-1",
        "attempt": 3,
        "cost": 12.5,
        "retried": True,
        "note": None,
        "tags": ["nightly", "retrain"],
        "origin": {"ip": "10.0.3.7", "user": "Alice"},
    },
}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"source": ["aws.states"]}, True),
    ({"source": ["aws.s3", "aws.states"]}, True),  # any of the listed values
    ({"source": ["aws.s3"]}, False),
    ({"source": ["aws.states"], "detail-type": ["Other"]}, False),  # every field must match
    ({"detail": {"status": ["FAILED", "TIMED_OUT"]}}, True),
    ({"detail": {"status": ["failed"]}}, False),  # exact values are case-sensitive
    ({"detail": {"attempt": [3]}}, True),
    ({"detail": {"attempt": [3.0]}}, True),  # numbers compare by value
    ({"detail": {"attempt": ["3"]}}, False),  # ...but a string is not a number
    ({"detail": {"retried": [True]}}, True),
    ({"detail": {"attempt": [True]}}, False),  # true is not 1
    ({"detail": {"note": [None]}}, True),  # null matches a present null
    ({"detail": {"missing": [None]}}, False),  # ...not an absent field
    ({"detail": {"tags": ["retrain"]}}, True),  # an array matches when any element does
    ({"detail": {"origin": {"user": ["Alice"]}}}, True),  # nested objects
    ({"resources": ["arn:aws:states:us-east-1:123456789012:execution:flow:run-1"]}, True),
])
def test_exact_values(pattern, expected):
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"detail": {"name": [{"prefix": "run-"}]}}, True),
    ({"detail": {"name": [{"prefix": "job-"}]}}, False),
    ({"detail": {"name": [{"prefix": {"equals-ignore-case": "RUN-"}}]}}, True),
    ({"detail": {"name": [{"suffix": "-1"}]}}, True),
    ({"detail": {"attempt": [{"prefix": "3"}]}}, False),  # prefix only applies to strings
    ({"detail": {"origin": {"user": [{"equals-ignore-case": "alice"}]}}}, True),
    ({"detail": {"name": [{"wildcard": "r*-?"}]}}, False),  # only * is special
    ({"detail": {"name": [{"wildcard": "r*1"}]}}, True),
    ({"detail": {"origin": {"ip": [{"cidr": "10.0.0.0/16"}]}}}, True),
    ({"detail": {"origin": {"ip": [{"cidr": "192.168.0.0/16"}]}}}, False),
])
def test_string_filters(pattern, expected):
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"detail": {"status": [{"anything-but": "SUCCEEDED"}]}}, True),
    ({"detail": {"status": [{"anything-but": ["FAILED", "ABORTED"]}]}}, False),
    ({"detail": {"status": [{"anything-but": {"prefix": "FAIL"}}]}}, False),
    ({"detail": {"status": [{"anything-but": {"suffix": "ED"}}]}}, False),
    ({"detail": {"attempt": [{"anything-but": [1, 2]}]}}, True),
    ({"detail": {"missing": [{"anything-but": "x"}]}}, False),  # never matches an absent field
    ({"detail": {"tags": [{"anything-but": "nightly"}]}}, True),  # "retrain" is not excluded
])
def test_anything_but(pattern, expected):
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"detail": {"attempt": [{"numeric": [">", 2]}]}}, True),
    ({"detail": {"attempt": [{"numeric": [">", 3]}]}}, False),
    ({"detail": {"attempt": [{"numeric": [">=", 3, "<", 4]}]}}, True),
    ({"detail": {"cost": [{"numeric": [">", 0, "<=", 12.5]}]}}, True),
    ({"detail": {"cost": [{"numeric": ["=", 12.5]}]}}, True),
    ({"detail": {"name": [{"numeric": [">", 0]}]}}, False),  # only JSON numbers
    ({"detail": {"retried": [{"numeric": [">", 0]}]}}, False),  # a boolean is not a number
])
def test_numeric(pattern, expected):
    assert matches(pattern, EVENT) is expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"detail": {"status": [{"exists": True}]}}, True),
    ({"detail": {"note": [{"exists": True}]}}, True),  # a null value exists
    ({"detail": {"missing": [{"exists": True}]}}, False),
    ({"detail": {"missing": [{"exists": False}]}}, True),
    ({"detail": {"status": [{"exists": False}]}}, False),
    ({"detail": {"origin": [{"exists": True}]}}, False),  # exists matches leaves only
    ({"absent": {"deeper": [{"exists": False}]}}, True),  # a missing object has no fields
    ({"detail": {"status": [{"exists": False}, "FAILED"]}}, True),  # any condition may match
])
def test_exists(pattern, expected):
    assert matches(pattern, EVENT) is expected


def test_or_combines_alternative_patterns():
    pattern = {"source": ["aws.states"],
               "$or": [{"detail": {"status": ["SUCCEEDED"]}}, {"detail": {"attempt": [{"numeric": [">", 2]}]}}]}
    assert matches(pattern, EVENT)
    assert not matches({"$or": [{"source": ["a"]}, {"source": ["b"]}]}, EVENT)


def test_nested_pattern_matches_any_object_in_an_array():
    event = {"detail": {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 5}]}}
    assert matches({"detail": {"items": {"qty": [{"numeric": [">", 3]}]}}}, event)
    assert not matches({"detail": {"items": {"qty": [{"numeric": [">", 9]}]}}}, event)


@pytest.mark.parametrize("pattern", [
    {"source": "aws.states"},  # a value, not an array
    {"source": []},
    {"source": [{"prefix": "a", "suffix": "b"}]},  # one key per filter
    {"source": [{"begins-with": "aws"}]},
    {"detail": {"attempt": [{"numeric": [">"]}]}},
    {"detail": {"attempt": [{"numeric": ["~", 1]}]}},
    {"detail": {"status": [{"exists": "yes"}]}},
])
def test_invalid_patterns_are_refused(pattern):
    with pytest.raises(PatternError):
        matches(pattern, EVENT)
