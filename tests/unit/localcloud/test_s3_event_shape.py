"""S3 event records as AWS writes them: form-encoded keys, versionId on versioned buckets, a sequencer."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import moto.s3.notifications as s3n

from infra.localcloud import motobridge


def test_the_moto_seam_still_builds_events_in_get_s3_event():
    # If a moto upgrade moves this, our completed records silently stop reaching the functions.
    assert list(inspect.signature(s3n._get_s3_event).parameters) == ["event_name", "bucket", "key", "notification_id"]
    assert "_get_s3_event(" in inspect.getsource(s3n.send_event)


def _event(key_name: str, version_id: str | None):
    bucket = SimpleNamespace(region_name="us-east-1", name="b", arn="arn:aws:s3:::b")
    key = SimpleNamespace(name=key_name, etag='"abc"', size=3, version_id=version_id)
    return motobridge._aws_s3_event("s3:ObjectCreated:Put", bucket, key, "cfg")["Records"][0]["s3"]["object"]


def test_keys_are_form_encoded_with_slashes_kept():
    assert _event("incoming/my batch (1).csv", None)["key"] == "incoming/my+batch+%281%29.csv"


def test_versioned_objects_carry_their_version_and_every_event_a_growing_sequencer():
    first, second = _event("incoming/a.csv", "v1"), _event("incoming/a.csv", "v2")
    assert first["versionId"] == "v1" and second["versionId"] == "v2"
    assert int(second["sequencer"], 16) > int(first["sequencer"], 16)
    assert "versionId" not in _event("incoming/a.csv", "null")  # unversioned bucket: AWS omits it
