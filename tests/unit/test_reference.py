"""The drift reference's rolling window: the newest rows of a CSV, without pandas (no IO)."""

from __future__ import annotations

import pytest

from selfheal.flows.reference import newest_rows


def test_only_the_newest_rows_are_kept_under_the_header():
    body = b"a,b\n1,x\n2,y\n3,z\n"
    window = newest_rows(body, 2)
    assert window.body == b"a,b\n2,y\n3,z\n"
    assert (window.rows, window.rows_in) == (2, 3)


def test_a_csv_within_the_limit_is_kept_byte_for_byte():
    body = b"a,b\r\n1,x\r\n2,y"
    assert newest_rows(body, 2) == newest_rows(body, 10)
    assert newest_rows(body, 2).body is body and newest_rows(body, 2).rows == 2


def test_a_quoted_newline_stays_inside_its_row():
    body = b'a,b\n1,"two\nlines"\n2,"x, y"\n3,z\n'
    window = newest_rows(body, 2)
    assert window.body == b'a,b\n2,"x, y"\n3,z\n' and window.rows_in == 3


def test_an_empty_or_header_only_file_has_no_rows():
    assert newest_rows(b"", 5).rows == 0
    assert newest_rows(b"a,b\n", 5).rows == 0


def test_the_window_holds_at_least_one_row():
    with pytest.raises(ValueError):
        newest_rows(b"a\n1\n", 0)
