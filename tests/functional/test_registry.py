"""Model registry against moto's S3: immutable versions, alias moves, rollback targets."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.responses import S3Response

from selfheal.exceptions import (
    ModelLoadError,
    ModelNotFoundError,
    ModelVersionExistsError,
    NoHealthyModelError,
)
from selfheal.registry import ModelRegistry
from tests.functional.conftest import FakeClock
from tests.functional.race import race

BUCKET = "model-bucket"
MODEL = "house-prices"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        # template.yaml turns versioning on for ModelBucket; conditional writes must hold there too.
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def registry(s3: Any) -> ModelRegistry:
    return ModelRegistry(s3, BUCKET, MODEL, clock=FakeClock(tick=timedelta(seconds=1)))


def publish(registry: ModelRegistry, n: int, *, rmse: float = 0.5, parent: str | None = None) -> str:
    return registry.publish_version(
        f"model-{n}".encode(),
        {"rmse": rmse, "r2": 0.8},
        {"params": {"max_depth": n}, "parent_version": parent, "rows": {"train": 100}},
    )


def read(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


class RacingS3:
    """Delegates to S3, but runs a competitor just before our first write to a key ending in ``suffix``."""

    def __init__(self, s3: Any, suffix: str, competitor: Callable[[], object]) -> None:
        self._s3 = s3
        self._suffix = suffix
        self._competitor: Callable[[], object] | None = competitor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"].endswith(self._suffix) and self._competitor is not None:
            competitor, self._competitor = self._competitor, None
            competitor()
        return self._s3.put_object(**kwargs)


# ---- the S3 features the registry's guarantees rest on ----------------------------------------


def test_moto_rejects_put_if_none_match_on_existing_key(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"second", IfNoneMatch="*")
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    assert read(s3, "k") == b"first"


def test_moto_rejects_put_if_match_with_stale_etag(s3: Any) -> None:
    stale = s3.put_object(Bucket=BUCKET, Key="k", Body=b"v1")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2", IfMatch=stale)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"v3", IfMatch=stale)
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    assert read(s3, "k") == b"v2"


# ---- versions -----------------------------------------------------------------------------------


def test_publish_allocates_increasing_versions_with_full_layout(registry: ModelRegistry, s3: Any) -> None:
    assert publish(registry, 1) == "v0001"
    assert publish(registry, 2, parent="v0001") == "v0002"

    prefix = f"models/{MODEL}/v0002/"
    assert read(s3, prefix + "model.onnx") == b"model-2"
    assert json.loads(read(s3, prefix + "metrics.json")) == {"rmse": 0.5, "r2": 0.8}
    manifest = json.loads(read(s3, prefix + "manifest.json"))
    assert manifest["version"] == "v0002"
    assert manifest["parent_version"] == "v0001"
    assert manifest["params"] == {"max_depth": 2}
    assert manifest["metrics"]["rmse"] == 0.5
    assert manifest["created_at"].startswith("2024-05-01T12:00:")
    assert len(manifest["model_sha256"]) == 64
    assert [v["version"] for v in registry.list_versions()] == ["v0001", "v0002"]


def test_forced_overwrite_of_an_existing_version_fails_and_keeps_the_original(
    registry: ModelRegistry, s3: Any
) -> None:
    publish(registry, 1)
    manifest_before = read(s3, f"models/{MODEL}/v0001/manifest.json")

    with pytest.raises(ModelVersionExistsError):
        registry.publish_version(b"impostor", {"rmse": 0.1}, {}, version="v0001")

    assert registry.load_model_bytes("v0001") == b"model-1"
    assert read(s3, f"models/{MODEL}/v0001/manifest.json") == manifest_before


def test_incomplete_version_is_ignored_and_its_number_never_reused(registry: ModelRegistry, s3: Any) -> None:
    publish(registry, 1)
    # A writer that crashed after claiming v0002 (model written, manifest never).
    s3.put_object(Bucket=BUCKET, Key=f"models/{MODEL}/v0002/model.onnx", Body=b"half")

    assert [v["version"] for v in registry.list_versions()] == ["v0001"]
    with pytest.raises(ModelNotFoundError):
        registry.promote("v0002", reason="should not be possible")
    with pytest.raises(ModelNotFoundError):
        registry.load_model_bytes("v0002")
    assert publish(registry, 3) == "v0003"


def test_publisher_that_loses_the_race_for_a_number_takes_the_next(registry: ModelRegistry, s3: Any) -> None:
    # The competitor publishes between our listing (which saw no versions) and our claim of v0001.
    racing = RacingS3(s3, "model.onnx", lambda: publish(registry, 1))
    ours = ModelRegistry(racing, BUCKET, MODEL, clock=FakeClock(tick=timedelta(seconds=1)))

    assert publish(ours, 2) == "v0002"
    assert registry.load_model_bytes("v0001") == b"model-1"
    assert registry.load_model_bytes("v0002") == b"model-2"


@pytest.fixture
def atomic_moto_s3_puts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's conditional PutObject atomic, as S3's is.

    moto checks If-None-Match and stores the object in separate Python steps, so threads can both
    pass the check (and moto's in-memory buffers are not thread-safe either). Real S3 guarantees
    exactly one winner. Serialising moto's handler models that guarantee; the registry still has
    to use it correctly for this test to pass.
    """
    lock = threading.Lock()
    original = S3Response.put_object

    def serialised(self: S3Response) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(S3Response, "put_object", serialised)


@pytest.mark.usefixtures("atomic_moto_s3_puts")
def test_concurrent_publishers_get_distinct_versions_and_none_is_overwritten(s3: Any) -> None:
    writers = 6
    registries = [ModelRegistry(boto3.client("s3"), BUCKET, MODEL, clock=FakeClock(tick=timedelta(seconds=1)))
                  for _ in range(writers)]

    results, errors = race(writers, lambda n: publish(registries[n], n))

    assert errors == []
    assert sorted(results.values()) == [f"v{i:04d}" for i in range(1, writers + 1)]
    registry = ModelRegistry(s3, BUCKET, MODEL)
    for n, version in results.items():
        assert registry.load_model_bytes(version) == f"model-{n}".encode()


def test_publish_rejects_reserved_manifest_keys_and_nan_metrics_without_burning_a_version(
    registry: ModelRegistry,
) -> None:
    with pytest.raises(ValueError, match="set by the registry"):
        registry.publish_version(b"m", {"rmse": 0.5}, {"version": "v0042"})
    with pytest.raises(ValueError):
        registry.publish_version(b"m", {"rmse": float("nan")}, {})
    assert publish(registry, 1) == "v0001"


def test_documents_are_part_of_the_version_and_read_back(registry: ModelRegistry, s3: Any) -> None:
    version = registry.publish_version(b"m", {"rmse": 0.5}, {}, documents={"holdout_predictions.json": {"p": [1.5]}})
    assert registry.read_document(version, "holdout_predictions.json") == {"p": [1.5]}
    assert registry.read_document(version, "absent.json") is None
    keys = [v["Key"] for v in s3.list_object_versions(Bucket=BUCKET, Prefix=f"models/{MODEL}/{version}/")["Versions"]]
    assert f"models/{MODEL}/{version}/holdout_predictions.json" in keys
    for bad in ({"manifest.json": {}}, {"notes.txt": {}}, {"a/b.json": {}}):
        with pytest.raises(ValueError):
            registry.publish_version(b"m", {"rmse": 0.5}, {}, documents=bad)
    assert [r["version"] for r in registry.list_versions()] == [version]  # a refused document burns no number


def test_load_model_bytes_detects_tampered_bytes(registry: ModelRegistry, s3: Any) -> None:
    publish(registry, 1)
    s3.put_object(Bucket=BUCKET, Key=f"models/{MODEL}/v0001/model.onnx", Body=b"bit rot")
    with pytest.raises(ModelLoadError):
        registry.load_model_bytes("v0001")
    with pytest.raises(ModelNotFoundError):
        registry.load_model_bytes("v0099")
    with pytest.raises(ModelNotFoundError):
        registry.load_model_bytes("../v0001")


# ---- alias --------------------------------------------------------------------------------------


def test_promote_moves_alias_and_changes_its_etag(registry: ModelRegistry) -> None:
    assert registry.production() is None
    assert registry.alias_etag() is None
    publish(registry, 1)
    publish(registry, 2)

    registry.promote("v0001", reason="bootstrap", execution_arn="arn:exec:1")
    etag_1 = registry.alias_etag()
    record = registry.promote("v0002", reason="better rmse", execution_arn="arn:exec:2")

    assert registry.production() == record
    assert record["version"] == "v0002"
    assert record["previous_version"] == "v0001"
    assert record["action"] == "promote"
    assert record["execution_arn"] == "arn:exec:2"
    assert [h["version"] for h in record["history"]] == ["v0002", "v0001"]
    assert registry.alias_etag() not in (None, etag_1)


def test_promoting_the_current_version_again_is_a_no_op(registry: ModelRegistry) -> None:
    publish(registry, 1)
    first = registry.promote("v0001", reason="bootstrap")
    etag = registry.alias_etag()
    again = registry.promote("v0001", reason="retried state")
    assert again == first
    assert registry.alias_etag() == etag


def test_alias_history_is_bounded(s3: Any) -> None:
    registry = ModelRegistry(s3, BUCKET, MODEL, clock=FakeClock(tick=timedelta(seconds=1)), history_limit=3)
    for n in range(1, 6):
        registry.promote(publish(registry, n), reason=f"round {n}")
    assert [h["version"] for h in registry.production()["history"]] == ["v0005", "v0004", "v0003"]


def test_concurrent_alias_move_is_not_lost(registry: ModelRegistry, s3: Any) -> None:
    for n in (1, 2, 3):
        publish(registry, n)
    registry.promote("v0001", reason="bootstrap")

    racing = RacingS3(
        s3, "aliases/production.json", lambda: registry.promote("v0002", reason="the other execution")
    )
    ours = ModelRegistry(racing, BUCKET, MODEL, clock=FakeClock(tick=timedelta(seconds=1)))
    record = ours.promote("v0003", reason="ours")

    # Our stale write was refused (If-Match); we re-read and recorded the competitor's move.
    assert record["previous_version"] == "v0002"
    assert [h["version"] for h in record["history"]] == ["v0003", "v0002", "v0001"]


# ---- rollback -----------------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_good_model(registry: ModelRegistry) -> None:
    registry.promote(publish(registry, 1), reason="bootstrap")
    registry.promote(publish(registry, 2), reason="drift retrain")

    record = registry.rollback(reason="smoke test failed", execution_arn="arn:exec:9")

    assert record["version"] == "v0001"
    assert record["previous_version"] == "v0002"
    assert record["action"] == "rollback"
    assert registry.production()["version"] == "v0001"
    assert registry.version_status("v0002") == "rolled_back"
    assert registry.version_status("v0001") == "production"


def test_rollback_skips_corrupt_and_unhealthy_versions(registry: ModelRegistry, s3: Any) -> None:
    for n in (1, 2, 3, 4):
        registry.promote(publish(registry, n), reason=f"round {n}")
    s3.put_object(Bucket=BUCKET, Key=f"models/{MODEL}/v0003/model.onnx", Body=b"truncated")

    record = registry.rollback(reason="v4 unhealthy", is_healthy=lambda body: body != b"model-2")

    assert record["version"] == "v0001"


def test_rollback_never_returns_to_a_rolled_back_version(registry: ModelRegistry) -> None:
    registry.promote(publish(registry, 1), reason="bootstrap")
    registry.promote(publish(registry, 2), reason="retrain")
    registry.rollback(reason="v2 failed smoke test")
    registry.promote(publish(registry, 3), reason="retrain")

    assert registry.rollback(reason="v3 failed smoke test")["version"] == "v0001"


def test_never_promoted_candidates_are_not_rollback_targets(registry: ModelRegistry) -> None:
    registry.promote(publish(registry, 1), reason="bootstrap")
    publish(registry, 2)  # trained but never promoted
    registry.promote(publish(registry, 3), reason="retrain")

    assert registry.last_known_good(exclude={"v0003"}) == "v0001"
    assert registry.last_known_good() == "v0003"
    assert registry.rollback(reason="bad")["version"] == "v0001"


def test_rollback_without_a_previous_model_fails_and_leaves_production(registry: ModelRegistry) -> None:
    registry.promote(publish(registry, 1), reason="bootstrap")
    with pytest.raises(NoHealthyModelError):
        registry.rollback(reason="nothing to go back to")
    assert registry.production()["version"] == "v0001"
    assert registry.version_status("v0001") == "production"


def test_retried_rollback_of_the_same_execution_does_not_roll_back_twice(registry: ModelRegistry) -> None:
    for n in (1, 2, 3):
        registry.promote(publish(registry, n), reason=f"round {n}")
    first = registry.rollback(reason="v3 bad", execution_arn="arn:exec:7")
    again = registry.rollback(reason="v3 bad", execution_arn="arn:exec:7")
    assert first["version"] == again["version"] == "v0002"


def test_rollback_to_an_explicit_version(registry: ModelRegistry) -> None:
    for n in (1, 2, 3):
        registry.promote(publish(registry, n), reason=f"round {n}")
    assert registry.rollback(reason="operator", to_version="v0001")["version"] == "v0001"
    with pytest.raises(ModelNotFoundError):
        registry.rollback(reason="operator", to_version="v0042")


# ---- status -------------------------------------------------------------------------------------


def test_version_status_lifecycle_and_marks_leave_version_files_untouched(
    registry: ModelRegistry, s3: Any
) -> None:
    publish(registry, 1)
    publish(registry, 2)
    assert registry.version_status("v0001") == "candidate"
    registry.promote("v0001", reason="bootstrap")
    assert registry.version_status("v0001") == "production"

    files = [f"models/{MODEL}/v0002/{name}" for name in ("model.onnx", "metrics.json", "manifest.json")]
    etags = [s3.head_object(Bucket=BUCKET, Key=key)["ETag"] for key in files]
    registry.mark_status("v0002", "rejected", "rmse worse than champion")
    assert registry.version_status("v0002") == "rejected"
    assert [s3.head_object(Bucket=BUCKET, Key=key)["ETag"] for key in files] == etags

    registry.promote("v0002", reason="operator override")
    assert registry.version_status("v0001") == "previous"
    assert registry.version_status("v0002") == "production"
    statuses = {v["version"]: v["status"] for v in registry.list_versions()}
    assert statuses == {"v0001": "previous", "v0002": "production"}

    with pytest.raises(ValueError):
        registry.mark_status("v0001", "production", "not a mark")  # type: ignore[arg-type]
    with pytest.raises(ModelNotFoundError):
        registry.version_status("v0009")
