"""The dataset schema, declared as data: feature columns, target and their plausible bounds.

The default is scikit-learn's California housing schema (target ``MedHouseVal`` in $100k). A
different dataset is a different ``Schema`` (for instance loaded from JSON), never a code change.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


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

    @property
    def example_value(self) -> float:
        return self.example if self.example is not None else (self.minimum + self.maximum) / 2


@dataclass(frozen=True)
class CategoricalFeature:
    """A string column with its allowed categories."""

    name: str
    categories: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Schema:
    """Features and target of one dataset."""

    name: str
    numeric: tuple[NumericFeature, ...]
    target: NumericFeature
    categorical: tuple[CategoricalFeature, ...] = field(default_factory=tuple)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    @property
    def numeric_names(self) -> list[str]:
        return [f.name for f in self.numeric]

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.categorical]

    @property
    def all_columns(self) -> list[str]:
        return self.feature_names + [self.target.name]

    @property
    def capped_columns(self) -> list[str]:
        """Columns IQR capping applies to: flagged numeric features; never the target."""
        return [f.name for f in self.numeric if f.cap_outliers]

    def example_record(self) -> dict[str, float | str]:
        """A valid, typical record (health checks, documentation)."""
        record: dict[str, float | str] = {f.name: f.example_value for f in self.numeric}
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
        return cls(
            name=data["name"],
            numeric=tuple(NumericFeature(**f) for f in data["numeric"]),
            target=NumericFeature(**data["target"]),
            categorical=tuple(
                CategoricalFeature(name=c["name"], categories=tuple(c["categories"]), description=c.get("description", ""))
                for c in data.get("categorical", ())
            ),
        )

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_dict(json.loads(text))


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
    target=NumericFeature("MedHouseVal", 0.0, 10.0, "median house value, $100k", cap_outliers=False),
)

DEFAULT_SCHEMA = CALIFORNIA_HOUSING
