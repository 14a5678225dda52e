"""The data directory's journal: torn lines, blob names, folding and compaction."""

from __future__ import annotations

import pytest

from infra.localcloud.persistence.journal import CorruptBlobError, Journal
from infra.localcloud.persistence.restore import RESTART_CAUSE, compacted, fold, mark_interrupted


def _journal(tmp_path) -> Journal:
    return Journal(tmp_path / "data")


def test_a_line_torn_by_a_crash_is_skipped_and_the_rest_is_read(tmp_path):
    j = _journal(tmp_path)
    j.append({"k": "s3.bucket", "bucket": "b", "region": "us-east-1"})
    with open(j.path, "ab") as fh:
        fh.write(b'{"k": "s3.put", "bucket": "b", "ke')  # the process died mid-write
    assert [r["k"] for r in j.records()] == ["s3.bucket"]


def test_blobs_are_named_by_content_and_checked_when_read(tmp_path):
    j = _journal(tmp_path)
    digest = j.put_blob(b"model bytes")
    assert j.read_blob(digest) == b"model bytes"
    (j.blobs / digest[:2] / digest).write_bytes(b"tampered")
    with pytest.raises(CorruptBlobError):
        j.read_blob(digest)
    with pytest.raises(ValueError):
        j.read_blob("../../etc/passwd")


def _put(j: Journal, key: str, body: bytes, version: str) -> None:
    j.append({"k": "s3.put", "bucket": "b", "key": key, "version": version, "blob": j.put_blob(body),
              "modified": "2026-01-01T00:00:00+00:00", "metadata": {}})


def test_fold_keeps_versions_markers_items_and_ends_interrupted_executions(tmp_path):
    j = _journal(tmp_path)
    j.append({"k": "s3.bucket", "bucket": "b", "region": "us-east-1"})
    j.append({"k": "s3.versioning", "bucket": "b", "status": "Enabled"})
    _put(j, "m", b"1", "v1")
    _put(j, "m", b"2", "v2")
    j.append({"k": "s3.marker", "bucket": "b", "key": "m", "version": "v3", "modified": None})
    _put(j, "gone", b"x", "v4")
    j.append({"k": "s3.delete", "bucket": "b", "key": "gone", "version": "v4"})
    table = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}
    j.append({"k": "ddb.table", "region": "r", "table": "t", "description": table})
    j.append({"k": "ddb.put", "region": "r", "table": "t", "item": {"pk": {"S": "a"}, "n": {"N": "1"}}})
    j.append({"k": "ddb.put", "region": "r", "table": "t", "item": {"pk": {"S": "a"}, "n": {"N": "2"}}})
    j.append({"k": "sfn.start", "arn": "arn:x", "state_machine": "arn:sm", "name": "x", "input": "{}",
              "start": "2026-01-01T00:00:00+00:00"})
    j.append({"k": "sfn.event", "arn": "arn:x", "event": {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}})

    state = fold(j)
    assert [v.get("version") for v in state.buckets["b"].keys["m"]] == ["v1", "v2", "v3"]
    assert "gone" not in state.buckets["b"].keys
    assert list(state.tables[("r", "t")].items.values()) == [{"pk": {"S": "a"}, "n": {"N": "2"}}]
    assert mark_interrupted(state) == ["arn:x"]
    assert state.executions["arn:x"].end["cause"] == RESTART_CAUSE
    assert state.executions["arn:x"].events[-1]["type"] == "ExecutionFailed"

    # Compaction keeps the same state in fewer records and drops blobs nothing names.
    j.rewrite(compacted(state))
    again = fold(j)
    assert again.counts() == state.counts()
    assert again.executions["arn:x"].end["status"] == "FAILED"
    assert len(list(j.blobs.glob("*/*"))) == 2  # "1" and "2"; the deleted object's blob is gone
    assert again.records < state.records + 2


def test_compaction_at_start_sweeps_temporary_blobs_an_interrupted_write_left(tmp_path):
    j = _journal(tmp_path)
    j.append({"k": "s3.bucket", "bucket": "b", "region": "us-east-1"})
    _put(j, "kept.csv", b"kept", "v1")
    digest = j.put_blob(b"written but never acknowledged")
    debris = j.blobs / digest[:2] / f".{digest}.140528080275136.tmp"
    debris.write_bytes(b"half a blo")  # kill -9 between open() and os.replace()
    j.rewrite(compacted(fold(j)))
    left = sorted(p.relative_to(j.blobs).as_posix() for p in j.blobs.rglob("*") if p.is_file())
    kept = next(r["blob"] for r in j.records() if r.get("key") == "kept.csv")
    assert left == [f"{kept[:2]}/{kept}"]
