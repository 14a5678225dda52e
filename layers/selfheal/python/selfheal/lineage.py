"""Which schema a step works with: the one stored with the model version (docs/schema.md).

Every model version's manifest holds the schema it was trained with (``manifest["schema"]``, the
schema file's form). Production's schema is the pipeline's: the drift check, FixData on a
retraining, the champion in Validate, the monitor, the health check and the predict API take
their columns from it. A bootstrap on a user's data (``make up REFERENCE=… SCHEMA=…``) puts the
schema file in the data bucket and names it in the execution input (``schema_key``); FixData and
Train then use that schema, and the version they make carries it. When neither exists (no
production model yet, no schema given), the function's configured schema applies: ``SCHEMA_JSON``,
by default California housing. Versions trained before schemas were stored carry only the schema's
name and are read with the configured schema.

A schema that differs from production's starts a new model lineage: Validate refuses to promote it
unless ``AllowSchemaChange`` is set (``selfheal.gate``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from selfheal.exceptions import DataQualityError, ModelNotFoundError
from selfheal.registry import ModelRegistry
from selfheal.schema import Schema, SchemaFileError, parse_schema_file, schema_to_file_dict

logger = logging.getLogger(__name__)

MANIFEST_KEY = "schema"


def manifest_entry(schema: Schema) -> dict[str, Any]:
    """What a version's manifest stores under ``schema``: the schema file's form (readable, editable)."""
    return schema_to_file_dict(schema)


def fingerprint(schema: Schema) -> str:
    """Equal for equal schemas, whatever their key order: the lineage check compares these."""
    return hashlib.sha256(json.dumps(schema_to_file_dict(schema), sort_keys=True).encode()).hexdigest()[:16]


def describe_change(production: Schema, challenger: Schema) -> str | None:
    """How ``challenger`` differs from ``production`` in words, or ``None`` when they are the same."""
    if fingerprint(production) == fingerprint(challenger):
        return None
    old = {c: production.kind_of(c) for c in production.known_columns}
    new = {c: challenger.kind_of(c) for c in challenger.known_columns}
    parts = []
    if production.target.name != challenger.target.name:
        parts.append(f"target {production.target.name} -> {challenger.target.name}")
    elif (production.target.unit, production.target.transform) != (challenger.target.unit, challenger.target.transform):
        parts.append(f"target unit/transform {production.target.unit or '-'}/{production.target.transform} -> "
                     f"{challenger.target.unit or '-'}/{challenger.target.transform}")
    if added := [c for c in new if c not in old]:
        parts.append("columns added: " + ", ".join(added))
    if removed := [c for c in old if c not in new]:
        parts.append("columns removed: " + ", ".join(removed))
    if kinds := [f"{c} {old[c]} -> {new[c]}" for c in new if c in old and old[c] != new[c]]:
        parts.append("kinds changed: " + ", ".join(kinds))
    return "; ".join(parts) or "bounds, levels or options changed"


def schema_of(manifest: dict[str, Any], fallback: Schema) -> Schema:
    """The schema a version was trained with (``fallback`` for versions that stored only its name)."""
    raw = manifest.get(MANIFEST_KEY)
    return Schema.from_dict(raw) if isinstance(raw, dict) else fallback


def parse_uploaded(body: bytes, *, key: str) -> Schema:
    """A schema file read from S3 (the bootstrap's ``schema_key``); an invalid one is a data error
    naming the problems, so the execution fails with it before anything is trained."""
    try:
        return parse_schema_file(body.decode("utf-8"), source=key)
    except (UnicodeDecodeError, SchemaFileError) as err:
        raise DataQualityError(f"schema file {key} is invalid: {err}", reason="invalid_schema",
                               details={"key": key}) from err


class Schemas:
    """Schemas by model version, read once per version (a version's manifest never changes)."""

    def __init__(self, registry: ModelRegistry, fallback: Schema) -> None:
        self._registry = registry
        self.fallback = fallback
        self._by_version: dict[str, Schema] = {}

    def of_version(self, version: str) -> Schema:
        if version not in self._by_version:
            self._by_version[version] = schema_of(self._registry.get_version(version)["manifest"], self.fallback)
        return self._by_version[version]

    def production(self) -> Schema:
        """Production's schema, or the configured one while there is no production model."""
        try:
            alias = self._registry.production()
            return self.of_version(alias["version"]) if alias else self.fallback
        except (ModelNotFoundError, ValueError) as err:
            # A broken alias or manifest is the health check's to repair; the steps keep working.
            logger.warning("production's schema unreadable (%s); using the configured schema %s", err,
                           self.fallback.name)
            return self.fallback
