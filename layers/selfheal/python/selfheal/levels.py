"""Which level of a categorical column a value names: the one set of rules for data and requests.

FixData and drift detection (``selfheal.quality``, a whole column at a time through pandas),
training (``selfheal.training.encode_levels``) and serving (``selfheal.inference.OnnxModel``) all
map values to levels with :class:`LevelMap`, so a value in a training batch and the same value in
a request are the same level. Only numpy is imported: the Predict Lambda loads this module and
stays free of pandas and scikit-learn.

The rules (:meth:`LevelMap.level`), in order: the level as spelled; the same text stripped and in
any case; the same number (``98103``, ``98103.0`` and ``"98103.0"`` are the level ``"98103"``;
``1`` is ``"01"`` when that is the only level equal to 1); for a boolean, ``True``/``False`` are
its second/first level and, when its levels are themselves false/true spellings (``0``/``1``,
``no``/``yes`` ...), any usual spelling (0/1, false/true, no/yes, f/t, n/y, any case) is its
level. A spelling that would name two levels names neither. Anything else (``None``, NaN, an
unseen value, an unhashable value) is no level: :meth:`LevelMap.encode` folds it into the fold
level or, for a column that does not fold, sends :data:`UNKNOWN_LEVEL`. What a missing-value
marker means is the caller's business (FixData reads ``"None"`` as a level when it is one, else
as a missing value).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from selfheal.schema import CategoricalFeature

# What an unknown level of a column without a fold level is sent as: never a level (levels are
# non-empty), so the one-hot encoder's handle_unknown="ignore" encodes it as none of them.
UNKNOWN_LEVEL = ""

# The usual spellings of a boolean's false and true values (compared lower-cased).
FALSE_SPELLINGS = frozenset({"0", "false", "no", "f", "n"})
TRUE_SPELLINGS = frozenset({"1", "true", "yes", "t", "y"})


def as_number(value: Any) -> float | None:
    """A finite float for a number (or a string spelling one: ``"98004.0"``, ``"01234"``), else
    None. Booleans are not numbers."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, str):
        if "_" in value:  # float() accepts "1_000"; a CSV reader does not
            return None
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def unique_keys(pairs: Iterable[tuple[Any, str]]) -> dict[Any, str]:
    """key -> level for the keys that name exactly one level (a spelling naming two names neither)."""
    found: dict[Any, set[str]] = {}
    for key, level in pairs:
        found.setdefault(key, set()).add(level)
    return {key: next(iter(levels)) for key, levels in found.items() if len(levels) == 1}


class LevelMap:
    """How one categorical column's values become its levels (the rules: see the module docstring)."""

    def __init__(self, feature: CategoricalFeature):
        self.name = feature.name
        self.fold_level = feature.other
        self.categories = feature.categories
        self._exact = {c: c for c in feature.categories}
        self._loose = unique_keys((c.strip().casefold(), c) for c in feature.categories)
        self._numbers = unique_keys((n, c) for c in feature.categories if (n := as_number(c)) is not None)
        self._boolean = feature.categories if feature.kind == "boolean" else None
        self._spellings: dict[str, str] = {}
        if self._boolean is not None:
            false_level, true_level = self._boolean
            if false_level.casefold() in FALSE_SPELLINGS and true_level.casefold() in TRUE_SPELLINGS:
                self._spellings = {**dict.fromkeys(FALSE_SPELLINGS, false_level),
                                   **dict.fromkeys(TRUE_SPELLINGS, true_level)}

    def level(self, value: Any) -> str | None:
        """The level ``value`` stands for; None when it is not one of the column's levels."""
        if isinstance(value, str):
            hit = self._exact.get(value)
            if hit is not None:
                return hit
            text = value.strip()
            folded = text.casefold()
            hit = self._exact.get(text) or self._loose.get(folded)
            number = as_number(text) if hit is None and (self._numbers or self._spellings) else None
            if hit is None and number is not None:
                hit = self._numbers.get(number)
            if hit is None and self._spellings:
                hit = self._spellings.get(folded if number is None or not number.is_integer() else str(int(number)))
            return hit
        if isinstance(value, bool | np.bool_):
            if self._boolean is not None:
                return self._boolean[1 if value else 0]
            return self._loose.get("true" if value else "false")
        number = as_number(value)
        if number is None:
            return None
        text = str(int(number)) if number.is_integer() else repr(number)
        return self._numbers.get(number) or self._loose.get(text) or self._spellings.get(text)

    def encode(self, values: Iterable[Any]) -> tuple[list[str], int]:
        """(the level sent to the model for each value, how many values were unknown)."""
        out: list[str] = []
        unknown = 0
        cache: dict[tuple[type, Any], str | None] = {}
        for value in values:
            try:
                key = (type(value), value)
                level = cache[key] if key in cache else cache.setdefault(key, self.level(value))
            except TypeError:  # unhashable: never a level
                level = None
            if level is None:
                unknown += 1
                level = self.fold_level if self.fold_level is not None else UNKNOWN_LEVEL
            out.append(level)
        return out, unknown
