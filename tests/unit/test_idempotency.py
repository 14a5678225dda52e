"""Which object version an S3 event record names: the key that makes a duplicate delivery recognisable."""

from __future__ import annotations

import pytest

from selfheal.idempotency import ObjectVersion


def record(**obj: str) -> dict:
    return {"s3": {"bucket": {"name": "data"}, "object": {"key": "incoming/a+b%2B.csv", **obj}}}


@pytest.mark.parametrize(("fields", "version", "source"), [
    ({"versionId": "3HL4kqtJlcpXroDTDmJ", "sequencer": "0A1B", "eTag": "d41d"}, "3HL4kqtJlcpXroDTDmJ", "versionId"),
    ({"sequencer": "0A1B", "eTag": "d41d"}, "0A1B", "sequencer"),
    ({"eTag": "d41d"}, "d41d", "eTag"),
    ({"versionId": "", "eTag": "d41d"}, "d41d", "eTag"),  # an empty field is no identity
    ({}, None, None),
])
def test_the_version_is_the_version_id_else_the_sequencer_else_the_etag(fields, version, source):
    obj = ObjectVersion.from_s3_record(record(**fields))
    assert (obj.bucket, obj.key, obj.version, obj.version_source) == ("data", "incoming/a b+.csv", version, source)


def test_a_version_is_described_as_audit_reasons_name_it():
    assert ObjectVersion("data", "incoming/a.csv", "v1", "versionId").describe() == "s3://data/incoming/a.csv version v1"
    assert ObjectVersion("data", "incoming/a.csv", "0A1B", "sequencer").describe() == (
        "s3://data/incoming/a.csv sequencer 0A1B")
