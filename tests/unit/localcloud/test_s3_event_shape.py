"""S3 event records as AWS writes them: form-encoded keys, versionId on versioned buckets, a sequencer.

That moto still builds its records in ``_get_s3_event`` is checked in tests/unit/test_moto_seam.py.
"""

from __future__ import annotations

from types import SimpleNamespace

from infra.localcloud.motoseam import s3 as seam_s3


def _event(key_name: str, version_id: str | None):
    bucket = SimpleNamespace(region_name="us-east-1", name="b", arn="arn:aws:s3:::b")
    key = SimpleNamespace(name=key_name, etag='"abc"', size=3, version_id=version_id)
    return seam_s3.aws_s3_event("s3:ObjectCreated:Put", bucket, key, "cfg")["Records"][0]["s3"]["object"]


def test_keys_are_form_encoded_with_slashes_kept():
    assert _event("incoming/my batch (1).csv", None)["key"] == "incoming/my+batch+%281%29.csv"


def test_versioned_objects_carry_their_version_and_every_event_a_growing_sequencer():
    first, second = _event("incoming/a.csv", "v1"), _event("incoming/a.csv", "v2")
    assert first["versionId"] == "v1" and second["versionId"] == "v2"
    assert int(second["sequencer"], 16) > int(first["sequencer"], 16)
    assert "versionId" not in _event("incoming/a.csv", "null")  # unversioned bucket: AWS omits it
