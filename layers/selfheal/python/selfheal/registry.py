"""Model registry on S3: immutable, numbered versions plus a movable ``production`` alias.

S3 layout (a product contract: the console, the predict function and operators read it)::

    models/<model>/v0001/model.onnx           ONNX bytes (written first; it claims the number)
    models/<model>/v0001/metrics.json         evaluation metrics
    models/<model>/v0001/<document>.json      optional documents, e.g. holdout_predictions.json
    models/<model>/v0001/manifest.json        written last: its presence marks the version complete
    models/<model>/aliases/production.json    alias record: current version + bounded history
    models/<model>/status/v0001.json          mutable verdict ("rejected" / "rolled_back")

Guarantees:

* **Versions are never overwritten.** Every version file is written with ``If-None-Match: *``
  (S3 conditional writes, GA since Aug 2024): S3 rejects the write with 412 if the key exists,
  atomically, across concurrent writers. A version number is claimed by the ``model.onnx`` write;
  a writer that loses the race moves on to the next number. A crash between the claim and the
  manifest leaves an incomplete version that ``list_versions`` ignores and whose number is never
  reused.
* **Alias moves are optimistic-concurrency safe.** The alias object is replaced with
  ``If-Match: <etag read>`` (or ``If-None-Match: *`` when creating it); a concurrent move makes
  ours fail with 412 and we re-read and re-decide, so no move is silently lost.
* **Verdicts live beside versions, not in them.** ``mark_status`` writes ``status/<v>.json``;
  the immutable version files are never touched.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, Literal, TypedDict, cast, get_args

from botocore.exceptions import ClientError

from selfheal.clock import Clock, isoformat, utc_now
from selfheal.exceptions import (
    ModelLoadError,
    ModelNotFoundError,
    ModelVersionExistsError,
    NoHealthyModelError,
    SelfHealError,
)

logger = logging.getLogger(__name__)

PRODUCTION_ALIAS = "production"
MODEL_FILE = "model.onnx"
METRICS_FILE = "metrics.json"
MANIFEST_FILE = "manifest.json"
# The ONNX model's predictions on its own holdout: the reference for live prediction drift.
HOLDOUT_PREDICTIONS_FILE = "holdout_predictions.json"

AliasAction = Literal["promote", "rollback"]
VersionStatus = Literal["production", "previous", "rejected", "rolled_back", "candidate"]
MarkedStatus = Literal["rejected", "rolled_back"]

# Keys the registry owns inside manifest.json; a caller supplying one is a bug, not an override.
RESERVED_MANIFEST_KEYS = frozenset(
    {"model_name", "version", "created_at", "metrics", "model_sha256", "model_size_bytes"}
)

_VERSION_RE = re.compile(r"^v(\d{4,})$")
_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# S3 error codes, as botocore reports them. HEAD has no body, so a missing key is just "404".
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
# 412: the If-None-Match / If-Match condition did not hold. 409 ConditionalRequestConflict: S3 saw
# a concurrent conditional write to the same key still in flight; AWS says to retry, and for us a
# retry re-reads state first, so both mean "someone else got there; look again".
_CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})

S3Client = Any  # botocore builds client classes at runtime; we type the boundary by usage.
HealthCheck = Callable[[bytes], bool]


class AliasConflictError(SelfHealError):
    """The alias kept changing under us; another promote/rollback is running concurrently."""

    reason = "alias_conflict"


class AliasHistoryEntry(TypedDict):
    """One move of the alias: what it pointed to after the move, and why it moved."""

    version: str
    previous_version: str | None
    updated_at: str
    action: AliasAction
    reason: str
    execution_arn: str | None


class AliasRecord(AliasHistoryEntry):
    """``aliases/<alias>.json``: the latest move, plus ``history`` (newest first, latest included)."""

    model_name: str
    alias: str
    history: list[AliasHistoryEntry]


class StatusRecord(TypedDict):
    """``status/<version>.json``: a verdict that takes a version out of rollback candidacy."""

    version: str
    status: MarkedStatus
    reason: str
    updated_at: str
    execution_arn: str | None


class VersionRecord(TypedDict):
    """A complete version as the console and validator see it."""

    version: str
    created_at: str
    status: VersionStatus
    metrics: dict[str, Any]
    manifest: dict[str, Any]


def format_version(number: int) -> str:
    """``1 -> "v0001"``; widths grow past 9999 and still sort numerically via ``version_number``."""
    return f"v{number:04d}"


def version_number(version: str) -> int:
    """``"v0012" -> 12``; a malformed id raises ``ModelNotFoundError`` (it can name no version)."""
    match = _VERSION_RE.match(version)
    if match is None:
        raise ModelNotFoundError(f"invalid model version id {version!r}", details={"version": version})
    return int(match.group(1))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _json_default(value: Any) -> Any:
    # numpy scalars (np.float64 from metric code) expose .item(); everything else is a caller bug.
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(document: Any) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON; a NaN metric is a training bug and must not be
    # written into an immutable version where the console's JSON.parse would choke on it.
    return json.dumps(document, sort_keys=True, allow_nan=False, default=_json_default).encode("utf-8")


class ModelRegistry:
    """Versions and the ``production`` alias of one model, stored in one S3 bucket.

    ``s3_client`` is a boto3 S3 client (built once at cold start by the caller). ``clock`` returns an
    aware UTC datetime; tests pass a fake one. ``history_limit`` bounds the alias history kept in
    the alias object (the audit trail keeps everything); versions that fell out of it are no
    longer rollback candidates.
    """

    def __init__(
        self,
        s3_client: S3Client,
        bucket: str,
        model_name: str,
        *,
        clock: Clock = utc_now,
        history_limit: int = 50,
        max_attempts: int = 20,
    ) -> None:
        if not _MODEL_NAME_RE.match(model_name):
            raise ValueError(f"invalid model name {model_name!r} (letters, digits, '.', '_', '-')")
        if history_limit < 1 or max_attempts < 1:
            raise ValueError("history_limit and max_attempts must be >= 1")
        self._s3 = s3_client
        self._bucket = bucket
        self._model = model_name
        self._clock = clock
        self._history_limit = history_limit
        self._max_attempts = max_attempts
        self._prefix = f"models/{model_name}/"

    @property
    def model_name(self) -> str:
        return self._model

    @property
    def bucket(self) -> str:
        return self._bucket

    # ---- keys -------------------------------------------------------------------------------

    def version_key(self, version: str, filename: str) -> str:
        """S3 key of one file of a version (``models/<model>/v0001/model.onnx``)."""
        version_number(version)
        return f"{self._prefix}{version}/{filename}"

    def alias_key(self, alias: str = PRODUCTION_ALIAS) -> str:
        return f"{self._prefix}aliases/{alias}.json"

    def status_key(self, version: str) -> str:
        version_number(version)
        return f"{self._prefix}status/{version}.json"

    # ---- versions ---------------------------------------------------------------------------

    def publish_version(
        self,
        onnx_bytes: bytes,
        metrics: dict[str, Any],
        manifest: dict[str, Any],
        *,
        version: str | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> str:
        """Write a new immutable version and return its id (``"v0001"``, ``"v0002"``, ...).

        ``manifest`` is the caller's provenance (params, data fingerprint, row counts, library
        versions, training time, parent version); the registry adds ``model_name``, ``version``,
        ``created_at``, ``metrics``, ``model_sha256`` and ``model_size_bytes``. Files are written
        model first and manifest last, each with ``If-None-Match: *``.

        ``version`` pins the id instead of allocating the next one (imports, tests); if it exists,
        ``ModelVersionExistsError`` is raised and nothing is changed.

        ``documents`` are further JSON files of the version (``{"holdout_predictions.json": {...}}``),
        written after the metrics and before the manifest, so a complete version has them all.
        """
        if not onnx_bytes:
            raise ValueError("onnx_bytes is empty")
        clash = RESERVED_MANIFEST_KEYS.intersection(manifest)
        if clash:
            raise ValueError(f"manifest keys {sorted(clash)} are set by the registry")
        extra = dict(documents or {})
        taken = {MODEL_FILE, METRICS_FILE, MANIFEST_FILE}.intersection(extra)
        if taken or not all(name.endswith(".json") and "/" not in name for name in extra):
            raise ValueError(f"documents must be <name>.json files other than {sorted(taken) or 'the registry files'}")
        # Serialise before claiming a number, so a bad metric does not burn a version.
        metrics_body = _dumps(metrics)
        bodies = [(name, _dumps(doc)) for name, doc in extra.items()]
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        document = {
            **manifest,
            "model_name": self._model,
            "created_at": isoformat(self._clock()),
            "metrics": metrics,
            "model_sha256": digest,
            "model_size_bytes": len(onnx_bytes),
        }
        _dumps(document)

        claimed = self._claim(onnx_bytes, version)
        document["version"] = claimed
        for filename, body in ((METRICS_FILE, metrics_body), *bodies, (MANIFEST_FILE, _dumps(document))):
            try:
                self._put(self.version_key(claimed, filename), body, "application/json", if_none_match=True)
            except ClientError as exc:
                if _error_code(exc) in _CONFLICT_CODES:
                    raise ModelVersionExistsError(
                        f"{claimed}/{filename} was written by someone else after we claimed {claimed}",
                        details={"version": claimed, "file": filename},
                    ) from exc
                raise
        logger.info("published %s/%s sha256=%s", self._model, claimed, digest)
        return claimed

    def _claim(self, onnx_bytes: bytes, version: str | None) -> str:
        """Claim a version number by creating its model.onnx; the first writer of the key wins."""
        if version is not None:
            if not _VERSION_RE.match(version):
                raise ValueError(f"invalid version id {version!r}; expected 'v' and at least 4 digits")
            candidates: Iterator[int] = iter([int(version[1:])])
        else:
            existing = self._version_numbers()
            start = (existing[-1] if existing else 0) + 1
            candidates = iter(range(start, start + self._max_attempts))
        for number in candidates:
            candidate = format_version(number)
            if self._put_if(self.version_key(candidate, MODEL_FILE), onnx_bytes, "application/octet-stream",
                            if_none_match=True):
                return candidate
            logger.info("version %s/%s already taken; trying the next number", self._model, candidate)
        raise ModelVersionExistsError(
            f"could not claim a version of {self._model}: "
            + (f"{version} exists" if version else f"{self._max_attempts} numbers in a row were taken"),
            details={"version": version},
        )

    def _version_numbers(self) -> list[int]:
        """Numbers of every version prefix, complete or not (an incomplete one still holds its number)."""
        numbers: list[int] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(self._prefix) :].rstrip("/")
                match = _VERSION_RE.match(name)
                if match:
                    numbers.append(int(match.group(1)))
        return sorted(numbers)

    def list_versions(self) -> list[VersionRecord]:
        """Complete versions (those with a manifest), oldest first, with their current status."""
        alias = self.production()
        marks = self._marks()
        records: list[VersionRecord] = []
        for number in self._version_numbers():
            version = format_version(number)
            manifest = self._read_manifest(version)
            if manifest is None:
                logger.info("skipping incomplete version %s/%s (no manifest)", self._model, version)
                continue
            records.append(self._record(version, manifest, alias, marks))
        return records

    def get_version(self, version: str) -> VersionRecord:
        """One complete version; ``ModelNotFoundError`` if it is missing or incomplete."""
        manifest = self._require_manifest(version)
        return self._record(version, manifest, self.production(), self._marks())

    def read_document(self, version: str, filename: str) -> dict[str, Any] | None:
        """A JSON document of a version (see ``publish_version``), or ``None`` if it has none by that name."""
        found = self._get_json(self.version_key(version, filename))
        return found[0] if found else None

    def load_model_bytes(self, version: str) -> bytes:
        """The ONNX bytes of a complete version, checked against the manifest's sha256.

        ``ModelNotFoundError`` if the version is missing or incomplete; ``ModelLoadError`` if the
        stored bytes no longer match the digest recorded at publish time (the bucket is versioned
        and writable outside this class, so bytes can change under a fixed key).
        """
        manifest = self._require_manifest(version)
        key = self.version_key(version, MODEL_FILE)
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                raise ModelNotFoundError(
                    f"{self._model}/{version} has a manifest but no {MODEL_FILE}",
                    details={"version": version},
                ) from exc
            raise
        expected = manifest.get("model_sha256")
        actual = hashlib.sha256(body).hexdigest()
        if expected != actual:
            raise ModelLoadError(
                f"{self._model}/{version}: {MODEL_FILE} sha256 {actual[:12]} != manifest {str(expected)[:12]}",
                details={"version": version, "expected_sha256": expected, "actual_sha256": actual},
            )
        return cast(bytes, body)

    # ---- alias ------------------------------------------------------------------------------

    def production(self) -> AliasRecord | None:
        """The ``production`` alias record, or ``None`` before the first promotion."""
        found = self._read_alias()
        return found[0] if found else None

    def alias_etag(self) -> str | None:
        """ETag of the alias object via HeadObject: a cheap change check for the serving side."""
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=self.alias_key())
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise
        return cast(str, head["ETag"])

    def promote(self, version: str, *, reason: str, execution_arn: str | None = None) -> AliasRecord:
        """Point ``production`` at a complete version and return the new alias record.

        Promoting the version that is already production is a no-op returning the current record,
        so a retried Promote state does not push a duplicate entry into the history. An explicit
        promotion clears a previous ``rejected``/``rolled_back`` mark on that version.
        """
        self._require_manifest(version)

        def decide(current: AliasRecord | None) -> AliasHistoryEntry | None:
            if current is not None and current["version"] == version:
                return None
            return self._entry(version, current, "promote", reason, execution_arn)

        record = self._move_alias(decide)
        self._clear_mark(version)
        return record

    def rollback(
        self,
        *,
        reason: str,
        execution_arn: str | None = None,
        to_version: str | None = None,
        is_healthy: HealthCheck | None = None,
    ) -> AliasRecord:
        """Move ``production`` back to ``to_version`` or to ``last_known_good()``; return the record.

        The version rolled back from is marked ``rolled_back`` so it is never picked again as a
        rollback target. ``NoHealthyModelError`` if no target qualifies. A retry by the same
        execution (same ``execution_arn``) after a successful rollback is a no-op, so a retried
        Rollback state cannot walk the alias back twice.
        """
        if to_version is not None:
            self._require_manifest(to_version)
        rolled_back_from: list[str] = []

        def decide(current: AliasRecord | None) -> AliasHistoryEntry | None:
            rolled_back_from.clear()
            if (
                current is not None
                and execution_arn is not None
                and current["action"] == "rollback"
                and current["execution_arn"] == execution_arn
            ):
                return None
            bad = current["version"] if current is not None else None
            target = to_version
            if target is None:
                target = self._last_known_good(
                    current, exclude={bad} if bad else set(), is_healthy=is_healthy
                )
            if target is None:
                raise NoHealthyModelError(
                    f"no earlier healthy production version of {self._model} to roll back to",
                    details={"current_version": bad},
                )
            if target == bad:
                return None
            if bad is not None:
                rolled_back_from.append(bad)
            return self._entry(target, current, "rollback", reason, execution_arn)

        record = self._move_alias(decide)
        # After the move, not before: if the move fails nothing was rolled back. If this write
        # fails the bad version stays merely "previous"; rollback excludes the current version
        # anyway, and the audit trail records the decision.
        for bad in rolled_back_from:
            self.mark_status(bad, "rolled_back", reason, execution_arn=execution_arn)
        return record

    def last_known_good(
        self, *, exclude: Collection[str] = (), is_healthy: HealthCheck | None = None
    ) -> str | None:
        """Most recent version that was production, is not marked bad, and whose bytes load.

        Walks the alias history newest first (the current production included, unless in
        ``exclude``), skipping ``rejected``/``rolled_back`` versions, versions whose bytes are
        missing or fail their sha256 check, and versions for which ``is_healthy(bytes)`` is False.
        ``is_healthy`` is the caller's loader check (e.g. an onnxruntime session); it must return
        False rather than raise for a model it cannot load.
        """
        return self._last_known_good(self.production(), exclude=set(exclude), is_healthy=is_healthy)

    def _last_known_good(
        self, alias: AliasRecord | None, *, exclude: set[str], is_healthy: HealthCheck | None
    ) -> str | None:
        if alias is None:
            return None
        marks = self._marks()
        seen: set[str] = set()
        for entry in alias["history"]:
            version = entry["version"]
            if version in seen or version in exclude:
                continue
            seen.add(version)
            if version in marks:
                continue
            try:
                body = self.load_model_bytes(version)
            except (ModelNotFoundError, ModelLoadError) as exc:
                logger.warning("rollback candidate %s/%s unusable: %s", self._model, version, exc)
                continue
            if is_healthy is not None and not is_healthy(body):
                logger.warning("rollback candidate %s/%s failed the health check", self._model, version)
                continue
            return version
        return None

    def _entry(
        self,
        version: str,
        current: AliasRecord | None,
        action: AliasAction,
        reason: str,
        execution_arn: str | None,
    ) -> AliasHistoryEntry:
        return {
            "version": version,
            "previous_version": current["version"] if current is not None else None,
            "updated_at": isoformat(self._clock()),
            "action": action,
            "reason": reason,
            "execution_arn": execution_arn,
        }

    def _move_alias(self, decide: Callable[[AliasRecord | None], AliasHistoryEntry | None]) -> AliasRecord:
        """Read-decide-write with If-Match; on a concurrent move, re-read and decide again."""
        for _ in range(self._max_attempts):
            found = self._read_alias()
            current, etag = found if found else (None, None)
            entry = decide(current)
            if entry is None:
                assert current is not None  # decide() only declines when an alias exists
                return current
            history = [entry, *(current["history"] if current is not None else [])][: self._history_limit]
            record: AliasRecord = {
                **entry,
                "model_name": self._model,
                "alias": PRODUCTION_ALIAS,
                "history": history,
            }
            if not self._put_if(self.alias_key(), _dumps(record), "application/json",
                                if_none_match=etag is None, if_match=etag):
                logger.info("alias %s/%s moved concurrently; re-reading", self._model, PRODUCTION_ALIAS)
                continue
            logger.info(
                "alias %s/%s -> %s (%s: %s)",
                self._model,
                PRODUCTION_ALIAS,
                entry["version"],
                entry["action"],
                entry["reason"],
            )
            return record
        raise AliasConflictError(
            f"alias {self._model}/{PRODUCTION_ALIAS} changed {self._max_attempts} times while we tried to move it"
        )

    def _read_alias(self) -> tuple[AliasRecord, str] | None:
        found = self._get_json(self.alias_key())
        if found is None:
            return None
        document, etag = found
        return cast(AliasRecord, document), etag

    # ---- status marks -----------------------------------------------------------------------

    def mark_status(
        self, version: str, status: MarkedStatus, reason: str, *, execution_arn: str | None = None
    ) -> StatusRecord:
        """Record a verdict on a complete version (``"rejected"`` or ``"rolled_back"``)."""
        if status not in get_args(MarkedStatus):
            raise ValueError(f"status must be one of {get_args(MarkedStatus)}, not {status!r}")
        self._require_manifest(version)
        record: StatusRecord = {
            "version": version,
            "status": status,
            "reason": reason,
            "updated_at": isoformat(self._clock()),
            "execution_arn": execution_arn,
        }
        # Unconditional on purpose: a verdict is mutable state, and the bucket's versioning keeps
        # the earlier ones.
        self._put(self.status_key(version), _dumps(record), "application/json")
        return record

    def version_status(self, version: str) -> VersionStatus:
        """``production``, a mark (``rejected``/``rolled_back``), ``previous`` (was production) or ``candidate``."""
        self._require_manifest(version)
        marks = self._marks()
        return self._status(version, self.production(), marks)

    def _clear_mark(self, version: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=self.status_key(version))

    def _marks(self) -> dict[str, StatusRecord]:
        marks: dict[str, StatusRecord] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=f"{self._prefix}status/"):
            for obj in page.get("Contents", []):
                found = self._get_json(obj["Key"])
                if found is not None:
                    record = cast(StatusRecord, found[0])
                    marks[record["version"]] = record
        return marks

    @staticmethod
    def _status(version: str, alias: AliasRecord | None, marks: dict[str, StatusRecord]) -> VersionStatus:
        if alias is not None and alias["version"] == version:
            return "production"
        if version in marks:
            return marks[version]["status"]
        if alias is not None and any(entry["version"] == version for entry in alias["history"]):
            return "previous"
        return "candidate"

    def _record(
        self,
        version: str,
        manifest: dict[str, Any],
        alias: AliasRecord | None,
        marks: dict[str, StatusRecord],
    ) -> VersionRecord:
        return {
            "version": version,
            "created_at": str(manifest.get("created_at", "")),
            "status": self._status(version, alias, marks),
            "metrics": dict(manifest.get("metrics", {})),
            "manifest": manifest,
        }

    # ---- S3 plumbing ------------------------------------------------------------------------

    def _read_manifest(self, version: str) -> dict[str, Any] | None:
        found = self._get_json(self.version_key(version, MANIFEST_FILE))
        return found[0] if found else None

    def _require_manifest(self, version: str) -> dict[str, Any]:
        manifest = self._read_manifest(version)
        if manifest is None:
            raise ModelNotFoundError(
                f"{self._model}/{version} does not exist or is incomplete (no {MANIFEST_FILE})",
                details={"version": version},
            )
        return manifest

    def _get_json(self, key: str) -> tuple[dict[str, Any], str] | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return None
            raise
        return json.loads(response["Body"].read()), cast(str, response["ETag"])

    def _put_if(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> bool:
        """A conditional write; False when its condition did not hold (someone else wrote first)."""
        try:
            self._put(key, body, content_type, if_none_match=if_none_match, if_match=if_match)
        except ClientError as exc:
            if _error_code(exc) not in _CONFLICT_CODES:
                raise
            return False
        return True

    def _put(
        self,
        key: str,
        body: bytes,
        content_type: str,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
        }
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        return cast(str, self._s3.put_object(**kwargs)["ETag"])
