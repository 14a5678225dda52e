"""The dataset schema, declared as data: feature columns, target and their plausible bounds.

The default is scikit-learn's California housing schema (target ``MedHouseVal`` in $100k). A
different dataset is a different ``Schema``, never a code change: loaded from a schema file
(:func:`load_schema_file`, the hand-editable JSON format described in ``docs/schema.md``) or from
the :meth:`Schema.to_dict` form that ``SCHEMA_JSON`` carries. :mod:`selfheal.schema_inference`
writes a first schema file from a CSV.

Every column has a kind:

=============  ===============================================================================
``numeric``    a number; ``minimum``/``maximum`` are hard bounds (outside = impossible value)
``integer``    a whole number (a count, a year), same bounds; a :class:`NumericFeature`
``categorical``  one of ``levels`` (strings); with a fold level (``other``) any other value is
               folded into it instead of being invalid; a :class:`CategoricalFeature`
``boolean``    a two-level categorical (``["0", "1"]``, ``["no", "yes"]`` ...), never folded
``id``         an identifier: allowed in a CSV, never a feature; an :class:`ExcludedColumn`
``date``       a date: allowed in a CSV, never a feature (see ``docs/schema.md`` for why)
=============  ===============================================================================

The target is a :class:`Target`: bounds, a free-text ``unit`` ("USD", "$100k") and an optional
``transform`` (``log``: the model learns log(target), which needs a positive ``minimum``).

Every inconsistency (bounds reversed, a column listed twice, no features left, ...) raises
:class:`SchemaFileError`, whether the schema comes from a file or is built in code.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NUMERIC_KINDS = ("numeric", "integer")
CATEGORICAL_KINDS = ("categorical", "boolean")
EXCLUDED_KINDS = ("id", "date")
KINDS = NUMERIC_KINDS + CATEGORICAL_KINDS + EXCLUDED_KINDS
TRANSFORMS = ("none", "log")
FORMAT_VERSION = 1
DEFAULT_OTHER = "other"


class SchemaFileError(ValueError):
    """A schema (a file, or one built in code) is invalid; the message names every problem and column."""

    def __init__(self, problems: str | Sequence[str], *, source: str = ""):
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = prefix + self.problems[0]
        else:
            message = prefix + f"{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)

    def with_source(self, source: str) -> SchemaFileError:
        return SchemaFileError(self.problems, source=source)


def _bounds_problems(label: str, minimum: float, maximum: float, example: float | None) -> list[str]:
    problems = []
    for key, value in (("minimum", minimum), ("maximum", maximum), ("example", example)):
        if value is not None and not math.isfinite(value):
            problems.append(f"{label}: {key} must be a finite number, got {value}")
    if not problems and minimum > maximum:
        problems.append(f"{label}: minimum {minimum:g} > maximum {maximum:g}")
    if not problems and example is not None and not minimum <= example <= maximum:
        problems.append(f"{label}: example {example:g} is outside [{minimum:g}, {maximum:g}]")
    return problems


def _name_problems(label: str, name: object) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        return [f"{label}: the name must be a non-empty string"]
    if name != name.strip():
        return [f"{label}: the name has leading or trailing spaces (CSV headers are read stripped)"]
    return []


@dataclass(frozen=True)
class NumericFeature:
    """A numeric column with hard bounds (values outside are invalid, not outliers)."""

    name: str
    minimum: float
    maximum: float
    description: str = ""
    # Whether IQR outlier capping may touch this column. Coordinates never, by default.
    cap_outliers: bool = True
    # A typical value, used for health checks and API examples (the midpoint of the bounds if unset).
    example: float | None = None
    # "numeric" (any number) or "integer" (whole numbers: counts, years).
    kind: str = "numeric"

    def __post_init__(self) -> None:
        label = self._label()
        problems = _name_problems(label, self.name)
        if self.kind not in NUMERIC_KINDS:
            problems.append(f"{label}: kind {self.kind!r} is not one of {', '.join(NUMERIC_KINDS)}")
        problems += _bounds_problems(label, self.minimum, self.maximum, self.example)
        problems += self._extra_problems(label)
        if problems:
            raise SchemaFileError(problems)

    def _label(self) -> str:
        return f"column {self.name!r}"

    def _extra_problems(self, label: str) -> list[str]:
        return []

    @property
    def example_value(self) -> float:
        if self.example is not None:
            return self.example
        middle = (self.minimum + self.maximum) / 2
        return float(math.floor(middle)) if self.kind == "integer" else middle


@dataclass(frozen=True)
class Target(NumericFeature):
    """The target column: bounds, a unit (free text) and the transform the model learns through."""

    # The target is never capped (capping would rewrite labels).
    cap_outliers: bool = False
    # Free text for people: "USD", "$100k", "EUR/m²"; "" when unknown.
    unit: str = ""
    # "none", or "log": the model is fit on log(target) and predictions are exp()'d back.
    transform: str = "none"

    def _label(self) -> str:
        return f"target {self.name!r}"

    def _extra_problems(self, label: str) -> list[str]:
        problems = []
        if self.cap_outliers:
            problems.append(f"{label}: the target is never capped (cap_outliers must be false)")
        if self.kind != "numeric":
            problems.append(f"{label}: the target's kind is numeric, not {self.kind!r}")
        if self.transform not in TRANSFORMS:
            problems.append(f"{label}: invalid transform {self.transform!r} (expected one of {', '.join(TRANSFORMS)})")
        elif self.transform == "log" and math.isfinite(self.minimum) and self.minimum <= 0:
            problems.append(f"{label}: transform 'log' needs a positive minimum, got {self.minimum:g} "
                            "(the log of zero or less is undefined)")
        return problems

    @classmethod
    def from_feature(cls, feature: NumericFeature) -> Target:
        """A plain :class:`NumericFeature` used as a target (older schemas); never capped, no transform."""
        return cls(feature.name, feature.minimum, feature.maximum, feature.description, cap_outliers=False,
                   example=feature.example)


@dataclass(frozen=True)
class CategoricalFeature:
    """A string column with its allowed categories.

    ``categories`` are every level the model sees, the fold level included: with ``other`` set,
    a value outside the known levels is folded into ``other`` (appended to ``categories`` when
    not already there) instead of being invalid. A ``boolean`` is a categorical with exactly two
    levels and no fold level.
    """

    name: str
    categories: tuple[str, ...]
    description: str = ""
    # "categorical" or "boolean".
    kind: str = "categorical"
    # The level rare and unknown values are folded into; None = no folding (unknown values are invalid).
    other: str | None = None

    def __post_init__(self) -> None:
        label = f"column {self.name!r}"
        problems = _name_problems(label, self.name)
        categories = tuple(self.categories)
        if self.other is not None and self.other not in categories:
            categories += (self.other,)
        object.__setattr__(self, "categories", categories)
        if self.kind not in CATEGORICAL_KINDS:
            problems.append(f"{label}: kind {self.kind!r} is not one of {', '.join(CATEGORICAL_KINDS)}")
        known = self.known_levels
        if not known:
            problems.append(f"{label}: a {self.kind} column needs at least one level")
        seen: set[str] = set()
        for level in categories:
            if not isinstance(level, str) or not level.strip():
                problems.append(f"{label}: level {level!r} must be a non-empty string")
            elif level in seen:
                problems.append(f"{label}: level {level!r} is listed twice")
            seen.add(level)
        if self.kind == "boolean":
            if self.other is not None:
                problems.append(f"{label}: a boolean has exactly two levels and no fold level ('other')")
            elif len(categories) != 2:
                problems.append(f"{label}: a boolean needs exactly two levels, got {len(categories)}")
        if self.other is not None and (not isinstance(self.other, str) or not self.other.strip()):
            problems.append(f"{label}: the fold level ('other') must be a non-empty string")
        if problems:
            raise SchemaFileError(problems)

    @property
    def known_levels(self) -> tuple[str, ...]:
        """The levels seen in the data, without the fold level."""
        return tuple(c for c in self.categories if c != self.other)

    @property
    def folds(self) -> bool:
        """Whether values outside the known levels are folded into ``other``."""
        return self.other is not None

    def fold(self, value: str) -> str | None:
        """The level a (stripped) value belongs to: itself, the fold level, or None when invalid."""
        if value in self.categories:
            return value
        return self.other


@dataclass(frozen=True)
class ExcludedColumn:
    """An ``id`` or ``date`` column: a CSV may carry it, it is never a feature."""

    name: str
    kind: str
    description: str = ""

    def __post_init__(self) -> None:
        label = f"column {self.name!r}"
        problems = _name_problems(label, self.name)
        if self.kind not in EXCLUDED_KINDS:
            problems.append(f"{label}: kind {self.kind!r} is not one of {', '.join(EXCLUDED_KINDS)}")
        if problems:
            raise SchemaFileError(problems)


@dataclass(frozen=True)
class ColumnMatch:
    """How a CSV header compares with a schema (:func:`match_columns`)."""

    missing: tuple[str, ...]  # required by the schema, absent from the CSV
    unknown: tuple[str, ...]  # in the CSV, not in the schema
    duplicates: tuple[str, ...]  # named twice in the CSV
    absent_excluded: tuple[str, ...]  # id/date columns the CSV does not carry (fine)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unknown or self.duplicates)

    def problems(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"missing in the CSV: {', '.join(map(repr, self.missing))}")
        if self.unknown:
            out.append(f"in the CSV but not in the schema: {', '.join(map(repr, self.unknown))} "
                       "(add them to the schema's columns, as kind id or date to keep them out of the model)")
        if self.duplicates:
            out.append(f"named twice in the CSV header: {', '.join(map(repr, self.duplicates))}")
        return out


@dataclass(frozen=True)
class Schema:
    """Features and target of one dataset.

    ``numeric`` and ``categorical`` are the features, in that order (``feature_names``);
    ``excluded`` lists id and date columns a CSV may carry but the model never sees. Column lists
    used for modelling (``all_columns``) leave them out; ``known_columns`` includes them.
    """

    name: str
    numeric: tuple[NumericFeature, ...]
    target: Target
    categorical: tuple[CategoricalFeature, ...] = field(default_factory=tuple)
    excluded: tuple[ExcludedColumn, ...] = field(default_factory=tuple)
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.target, Target):
            object.__setattr__(self, "target", Target.from_feature(self.target))
        for attr in ("numeric", "categorical", "excluded"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        problems = [] if isinstance(self.name, str) and self.name.strip() else ["the schema needs a non-empty name"]
        seen: set[str] = set()
        for column in self.feature_names + self.excluded_names:
            if column in seen:
                problems.append(f"column {column!r} is listed twice")
            seen.add(column)
        if self.target.name in seen:
            problems.append(f"target {self.target.name!r} is also listed as a column: remove it from the columns")
        if not self.feature_names:
            problems.append("no feature columns left: every column is an id or a date (or there are none)")
        if problems:
            raise SchemaFileError(problems)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    @property
    def numeric_names(self) -> list[str]:
        return [f.name for f in self.numeric]

    @property
    def integer_names(self) -> list[str]:
        return [f.name for f in self.numeric if f.kind == "integer"]

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.categorical]

    @property
    def boolean_names(self) -> list[str]:
        return [f.name for f in self.categorical if f.kind == "boolean"]

    @property
    def excluded_names(self) -> list[str]:
        return [c.name for c in self.excluded]

    @property
    def all_columns(self) -> list[str]:
        """The features and the target: the columns a model is trained on (id and date excluded)."""
        return self.feature_names + [self.target.name]

    @property
    def known_columns(self) -> list[str]:
        """Every column a CSV may carry: features, target, id and date columns."""
        return self.all_columns + self.excluded_names

    @property
    def capped_columns(self) -> list[str]:
        """Columns IQR capping applies to: flagged numeric features; never the target."""
        return [f.name for f in self.numeric if f.cap_outliers]

    def kind_of(self, name: str) -> str:
        """A column's kind (``"target"`` for the target); KeyError when the schema does not know it."""
        if name == self.target.name:
            return "target"
        columns: list[Column] = [*self.numeric, *self.categorical, *self.excluded]
        for column in columns:
            if column.name == name:
                return column.kind
        raise KeyError(name)

    def example_record(self) -> dict[str, float | str]:
        """A valid, typical record (health checks, documentation): whole numbers for integer columns,
        as the predict API requires them (a JSON 3.0 is not an integer there)."""
        record: dict[str, float | str] = {
            f.name: int(round(f.example_value)) if f.kind == "integer" else f.example_value for f in self.numeric}
        record.update({c.name: c.categories[0] for c in self.categorical})
        return record

    def numeric_feature(self, name: str) -> NumericFeature:
        for f in (*self.numeric, self.target):
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """From :meth:`to_dict`'s form, or from the schema-file form (a dict with ``columns``)."""
        if "columns" in data:
            return schema_from_file_dict(data)
        return cls(
            name=data["name"],
            numeric=tuple(NumericFeature(**f) for f in data["numeric"]),
            # Older schemas carried a plain NumericFeature (cap_outliers meant nothing for the target).
            target=Target(**{**data["target"], "cap_outliers": False}),
            categorical=tuple(
                CategoricalFeature(name=c["name"], categories=tuple(c["categories"]), description=c.get("description", ""),
                                   kind=c.get("kind", "categorical"), other=c.get("other"))
                for c in data.get("categorical", ())
            ),
            excluded=tuple(ExcludedColumn(**c) for c in data.get("excluded", ())),
            description=data.get("description", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))

    def to_file_dict(self) -> dict[str, Any]:
        return schema_to_file_dict(self)


def match_columns(schema: Schema, columns: Iterable[str], *, require_target: bool = True) -> ColumnMatch:
    """Compare a CSV header with a schema: features (and the target) must be there, nothing unknown.

    Id and date columns are allowed and optional. Names are compared stripped, as CSV headers are read.
    """
    header = [str(c).strip() for c in columns]
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in header:
        if name in seen and name not in duplicates:
            duplicates.append(name)
        seen.add(name)
    required = schema.feature_names + ([schema.target.name] if require_target else [])
    allowed = set(schema.known_columns)
    return ColumnMatch(
        missing=tuple(c for c in required if c not in seen),
        unknown=tuple(dict.fromkeys(c for c in header if c not in allowed)),
        duplicates=tuple(duplicates),
        absent_excluded=tuple(c for c in schema.excluded_names if c not in seen),
    )


# ---- the schema file ---------------------------------------------------------------------------------
# One JSON object: {"format_version": 1, "name": ..., "description": ..., "target": {...}, "columns": [...]}
# (docs/schema.md). Loading is strict: an unknown field is a typo, not something to ignore.

_TOP_FIELDS = ("format_version", "name", "description", "target", "columns")
_TARGET_FIELDS = ("name", "unit", "transform", "minimum", "maximum", "description")
_NUMERIC_FIELDS = ("name", "kind", "minimum", "maximum", "cap_outliers", "example", "description")
_COLUMN_FIELDS: dict[str, tuple[str, ...]] = {
    "numeric": _NUMERIC_FIELDS,
    "integer": _NUMERIC_FIELDS,
    "categorical": ("name", "kind", "levels", "other", "description"),
    "boolean": ("name", "kind", "levels", "description"),
    "id": ("name", "kind", "description"),
    "date": ("name", "kind", "description"),
}
_ALL_COLUMN_FIELDS = tuple(dict.fromkeys(f for fields in _COLUMN_FIELDS.values() for f in fields))


class _Object(dict[str, Any]):
    """A JSON object that remembers keys given twice (json keeps the last one silently)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    keys = [k for k, _ in pairs]
    obj.duplicates = tuple(dict.fromkeys(k for k in keys if keys.count(k) > 1))
    return obj


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a number JSON allows")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_fields(obj: dict[str, Any], label: str, allowed: Sequence[str], every: Sequence[str], kind: str,
                  problems: list[str]) -> None:
    for key in getattr(obj, "duplicates", ()):
        problems.append(f"{label}: field {key!r} is given twice")
    for key in obj:
        if key in allowed:
            continue
        if key in every:
            problems.append(f"{label}: field {key!r} does not apply to {kind}")
        else:
            problems.append(f"{label}: unknown field {key!r}{_suggest(key, allowed)}; "
                            f"allowed: {', '.join(allowed)}")


def _number(obj: dict[str, Any], key: str, label: str, problems: list[str], *, required: bool) -> float | None:
    if key not in obj or (obj[key] is None and not required):
        if required:
            problems.append(f"{label}: missing field {key!r} (a number)")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{label}: {key} must be a number, got {json.dumps(value)}")
        return None
    return float(value)


def _text(obj: dict[str, Any], key: str, label: str, problems: list[str], default: str = "") -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        problems.append(f"{label}: {key} must be a string, got {json.dumps(value)}")
        return default
    return value


def _levels(obj: dict[str, Any], label: str, problems: list[str]) -> list[str] | None:
    if "levels" not in obj:
        problems.append(f"{label}: missing field 'levels' (a list of strings)")
        return None
    levels = obj["levels"]
    if not isinstance(levels, list):
        problems.append(f"{label}: levels must be a list of strings, got {json.dumps(levels)}")
        return None
    if not levels:
        problems.append(f"{label}: a {obj.get('kind')} column has no levels (list at least one)")
        return None
    wrong = [lv for lv in levels if not isinstance(lv, str)]
    if wrong:
        problems.append(f"{label}: levels must be strings, got {json.dumps(wrong[0])} "
                        "(quote numeric codes: \"98103\", as they appear in the CSV)")
        return None
    return levels


def _parse_target(raw: Any, problems: list[str]) -> Target | None:
    if not isinstance(raw, dict):
        problems.append("target must be an object like {\"name\": \"price\", \"minimum\": 0, \"maximum\": 1e7}")
        return None
    name = raw.get("name")
    label = f"target {name!r}" if isinstance(name, str) and name else "target"
    before = len(problems)
    _check_fields(raw, label, _TARGET_FIELDS, _TARGET_FIELDS, "the target", problems)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{label}: missing field 'name' (the target column's name)")
    minimum = _number(raw, "minimum", label, problems, required=True)
    maximum = _number(raw, "maximum", label, problems, required=True)
    unit = _text(raw, "unit", label, problems)
    transform = _text(raw, "transform", label, problems, "none")
    description = _text(raw, "description", label, problems)
    if len(problems) > before or minimum is None or maximum is None or not isinstance(name, str):
        return None
    try:
        return Target(name, minimum, maximum, description, unit=unit, transform=transform)
    except SchemaFileError as err:
        problems.extend(err.problems)
        return None


Column = NumericFeature | CategoricalFeature | ExcludedColumn


def _parse_column(raw: Any, position: int, problems: list[str]) -> Column | None:
    if not isinstance(raw, dict):
        problems.append(f"column #{position}: must be an object like {{\"name\": \"sqft\", \"kind\": \"numeric\", ...}}")
        return None
    name = raw.get("name")
    label = f"column {name!r}" if isinstance(name, str) and name else f"column #{position}"
    before = len(problems)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{label}: missing field 'name' (a non-empty string)")
    kind = raw.get("kind")
    if kind is None:
        problems.append(f"{label}: missing field 'kind' (one of {', '.join(KINDS)})")
        return None
    if kind not in KINDS:
        shown = json.dumps(kind)
        problems.append(f"{label}: unknown kind {shown}{_suggest(str(kind), KINDS)}; expected one of {', '.join(KINDS)}")
        return None
    _check_fields(raw, label, _COLUMN_FIELDS[kind], _ALL_COLUMN_FIELDS, f"kind {kind}", problems)
    description = _text(raw, "description", label, problems)
    column: Column | None = None
    try:
        if kind in NUMERIC_KINDS:
            minimum = _number(raw, "minimum", label, problems, required=True)
            maximum = _number(raw, "maximum", label, problems, required=True)
            example = _number(raw, "example", label, problems, required=False)
            cap = raw.get("cap_outliers", True)
            if not isinstance(cap, bool):
                problems.append(f"{label}: cap_outliers must be true or false, got {json.dumps(cap)}")
            if len(problems) == before and minimum is not None and maximum is not None:
                column = NumericFeature(str(name), minimum, maximum, description, cap_outliers=cap, example=example,
                                        kind=kind)
        elif kind in CATEGORICAL_KINDS:
            levels = _levels(raw, label, problems)
            other = raw.get("other")
            if other is not None and not isinstance(other, str):
                problems.append(f"{label}: other must be a string (the fold level's name) or null, got {json.dumps(other)}")
            elif levels is not None and other is not None and other in levels:
                problems.append(f"{label}: the fold level {other!r} is also listed in levels "
                                "(levels are the values kept; every other value is folded into it)")
            if len(problems) == before and levels is not None:
                column = CategoricalFeature(str(name), tuple(levels), description, kind=kind, other=other)
        elif len(problems) == before:
            column = ExcludedColumn(str(name), kind, description)
    except SchemaFileError as err:
        problems.extend(err.problems)
        return None
    return column


def schema_from_file_dict(data: Any, *, source: str = "") -> Schema:
    """A :class:`Schema` from a parsed schema file; :class:`SchemaFileError` lists every problem."""
    if not isinstance(data, dict):
        raise SchemaFileError("a schema file holds one JSON object: {\"name\": ..., \"target\": {...}, \"columns\": [...]}",
                              source=source)
    problems: list[str] = []
    _check_fields(data, "top level", _TOP_FIELDS, _TOP_FIELDS, "the top level", problems)
    if "format_version" in data and data["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version {json.dumps(data['format_version'])} is not supported (this code reads {FORMAT_VERSION})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("missing field 'name' (the data set's name, a non-empty string)")
    description = _text(data, "description", "top level", problems)
    target: Target | None = None
    if "target" not in data:
        problems.append("missing target: add \"target\": {\"name\": <the column to predict>, \"minimum\": ..., \"maximum\": ...}")
    else:
        target = _parse_target(data["target"], problems)
    raw_columns = data.get("columns")
    columns: list[Column] = []
    if raw_columns is None:
        problems.append("missing field 'columns' (a list of column objects)")
    elif not isinstance(raw_columns, list) or not raw_columns:
        problems.append("columns must be a non-empty list of column objects")
    else:
        for position, raw in enumerate(raw_columns, start=1):
            column = _parse_column(raw, position, problems)
            if column is not None:
                columns.append(column)
    if problems or target is None or not isinstance(name, str):
        raise SchemaFileError(problems or ["invalid schema"], source=source)
    try:
        return Schema(
            name=name,
            numeric=tuple(c for c in columns if isinstance(c, NumericFeature)),
            target=target,
            categorical=tuple(c for c in columns if isinstance(c, CategoricalFeature)),
            excluded=tuple(c for c in columns if isinstance(c, ExcludedColumn)),
            description=description,
        )
    except SchemaFileError as err:
        raise err.with_source(source) from None


def _plain(value: float) -> float | int:
    """20000.0 -> 20000 in the file: easier to read and edit; the value is the same."""
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def schema_to_file_dict(schema: Schema) -> dict[str, Any]:
    """The schema-file form: numeric and integer columns, then categorical and boolean, then id and date."""
    target = schema.target
    target_out: dict[str, Any] = {"name": target.name, "unit": target.unit, "transform": target.transform,
                                  "minimum": _plain(target.minimum), "maximum": _plain(target.maximum)}
    if target.description:
        target_out["description"] = target.description
    columns: list[dict[str, Any]] = []
    for f in schema.numeric:
        out: dict[str, Any] = {"name": f.name, "kind": f.kind, "minimum": _plain(f.minimum),
                               "maximum": _plain(f.maximum), "cap_outliers": f.cap_outliers}
        if f.example is not None:
            out["example"] = _plain(f.example)
        columns.append(out)
    for c in schema.categorical:
        out = {"name": c.name, "kind": c.kind, "levels": list(c.known_levels)}
        if c.other is not None:
            out["other"] = c.other
        columns.append(out)
    columns += [{"name": e.name, "kind": e.kind} for e in schema.excluded]
    every: list[Column] = [*schema.numeric, *schema.categorical, *schema.excluded]
    descriptions = {c.name: c.description for c in every}
    for out in columns:
        if descriptions[out["name"]]:
            out["description"] = descriptions[out["name"]]
    data: dict[str, Any] = {"format_version": FORMAT_VERSION, "name": schema.name}
    if schema.description:
        data["description"] = schema.description
    data["target"] = target_out
    data["columns"] = columns
    return data


def dump_schema_file(schema: Schema) -> str:
    """The schema file's text: one line per column, so it reads (and diffs) like a table."""
    data = schema_to_file_dict(schema)
    lines = ["{"]
    for key, value in data.items():
        if key == "columns":
            lines.append('  "columns": [')
            rows = [f"    {json.dumps(c, ensure_ascii=False)}" for c in value]
            lines.append(",\n".join(rows))
            lines.append("  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    return "\n".join(lines) + "\n}\n"


def parse_schema_file(text: str, *, source: str = "") -> Schema:
    """A :class:`Schema` from a schema file's text; :class:`SchemaFileError` when it is not valid."""
    try:
        data = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise SchemaFileError(f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}", source=source) from None
    except ValueError as err:
        raise SchemaFileError(f"not valid JSON: {err}", source=source) from None
    return schema_from_file_dict(data, source=source)


def load_schema_file(path: str | Path) -> Schema:
    """Read and validate a schema file; :class:`SchemaFileError` names the file, the problem and the column."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except IsADirectoryError:
        raise SchemaFileError("is a directory, not a schema file", source=source) from None
    except FileNotFoundError:
        raise SchemaFileError("no such file", source=source) from None
    except OSError as err:
        raise SchemaFileError(f"cannot read: {err.strerror}", source=source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SchemaFileError(f"not UTF-8 text ({err.reason} at byte {err.start})", source=source) from None
    if not text.strip():
        raise SchemaFileError("the file is empty", source=source)
    return parse_schema_file(text, source=source)


CALIFORNIA_HOUSING = Schema(
    name="california_housing",
    numeric=(
        NumericFeature("MedInc", 0.0, 20.0, "median income in block group, $10k", example=3.87),
        NumericFeature("HouseAge", 0.0, 100.0, "median house age in block group, years", example=29.0),
        NumericFeature("AveRooms", 0.0, 200.0, "average rooms per household", example=5.43),
        NumericFeature("AveBedrms", 0.0, 50.0, "average bedrooms per household", example=1.10),
        NumericFeature("Population", 0.0, 50000.0, "block group population", example=1425.0),
        NumericFeature("AveOccup", 0.0, 1500.0, "average household members", example=3.07),
        NumericFeature("Latitude", 32.0, 42.5, "block group latitude", cap_outliers=False, example=34.05),
        NumericFeature("Longitude", -124.5, -114.0, "block group longitude", cap_outliers=False, example=-118.25),
    ),
    target=Target("MedHouseVal", 0.0, 10.0, "median house value, $100k", unit="$100k"),
)

DEFAULT_SCHEMA = CALIFORNIA_HOUSING
