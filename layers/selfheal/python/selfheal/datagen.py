"""SYNTHETIC California-housing-shaped data, generated offline: every row here is made up.

Nothing in this module reads the real dataset except :func:`load_reference`, and that only when
scikit-learn's cached copy is already on disk (or the caller explicitly allows a download). Every
other function produces synthetic rows; callers that persist or report data should carry the
``source`` value (:data:`SYNTHETIC_SOURCE`) along so nobody mistakes it for census data. Frames from
:func:`generate` also carry it in ``DataFrame.attrs["source"]``.

The generator mimics the marginals and the main dependencies of the 1990 census block-group table
that scikit-learn ships as ``fetch_california_housing``:

- block groups cluster along the coast (Los Angeles, Orange County, San Diego, the SF Bay Area),
  in Sacramento and along the Central Valley, with sparse desert, mountain and north-coast areas;
- ``MedInc`` (in $10k) is lognormal, richer near the coastal metros, clipped to 0.4999..15.0001 as
  in the census table;
- ``HouseAge`` is an integer 1..52 with the census top-coding spike at 52;
- ``AveRooms``/``AveBedrms`` rise with income and are tied together; ``Population`` and
  ``AveOccup`` are lognormal with rare extreme block groups (dormitories, prisons);
- ``MedHouseVal`` (in $100k) is driven mostly by income and by coastal/metro location, with age,
  rooms and occupancy effects plus noise, top-coded at 5.00001 as in the census table.

The ``drift`` knob (0..1) moves feature distributions (richer, more crowded, newer, more inland)
and, moderately, the price relationship itself (inflation, a larger coastal premium), so a model
trained on ``drift=0`` gets worse on drifted batches and a drift detector flags ``drift≈1``.

The defect helpers (:func:`inject_defects`, :func:`poison_labels`, :func:`drop_columns`,
:func:`add_unknown_column`, :func:`to_csv_bytes`) turn clean frames into the kinds of broken
batches the self-healing pipeline has to cope with.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from selfheal.schema import CALIFORNIA_HOUSING, Schema

SYNTHETIC_SOURCE = "synthetic"
REAL_SOURCE = "california_housing"

# The census table's own limits (tighter than the schema's hard bounds).
_INCOME_CLIP = (0.4999, 15.0001)
_VALUE_CLIP = (0.14999, 5.00001)
_AGE_MAX = 52
_LAT_CLIP = (32.54, 41.95)
_LON_CLIP = (-124.35, -114.31)

# Coastline, south to north, as (latitude, longitude). Latitude increases monotonically, which
# lets us read it as a function lon(lat) to push points that fell into the Pacific back on land.
_COAST = np.array(
    [
        (32.53, -117.12), (32.85, -117.27), (33.20, -117.40), (33.60, -117.90), (33.75, -118.40),
        (34.00, -118.50), (34.03, -118.80), (34.15, -119.20), (34.40, -119.70), (34.47, -120.47),
        (34.90, -120.65), (35.40, -120.90), (35.80, -121.35), (36.30, -121.90), (36.60, -121.90),
        (36.95, -122.05), (37.50, -122.50), (37.80, -122.50), (38.00, -123.00), (38.30, -123.05),
        (38.90, -123.70), (39.50, -123.80), (40.00, -124.05), (40.45, -124.40), (40.80, -124.20),
        (41.50, -124.10), (42.00, -124.20),
    ]
)
# San Francisco Bay shoreline: "near the bay" is priced like "near the ocean".
_BAY = np.array([(37.45, -122.10), (37.60, -122.20), (37.80, -122.30), (38.05, -122.30)])
# Nevada/Arizona border, as lon(lat): the straight north-south line, then the diagonal.
_BORDER_LAT = np.array([32.50, 35.00, 39.00, 42.10])
_BORDER_LON = np.array([-114.60, -114.63, -120.00, -120.00])


@dataclass(frozen=True)
class _Region:
    """A population cluster: a Gaussian blob around a point, or spread along a polyline."""

    name: str
    path: tuple[tuple[float, float], ...]  # one point = blob centre; several = a corridor
    spread: tuple[float, float]  # (lat, lon) standard deviation in degrees
    weight: float  # share of block groups at drift 0
    drift_weight: float  # share at drift 1 (renormalised)
    age_shift: float  # years older (+) or newer (-) than the state-wide mean


_REGIONS: tuple[_Region, ...] = (
    _Region("los_angeles", ((34.05, -118.25),), (0.18, 0.25), 0.22, 0.13, 6.0),
    _Region("la_westside", ((33.92, -118.38),), (0.12, 0.12), 0.05, 0.035, 3.0),
    _Region("san_fernando", ((34.22, -118.45),), (0.08, 0.18), 0.04, 0.04, 0.0),
    _Region("orange_county", ((33.72, -117.85),), (0.12, 0.15), 0.07, 0.06, -4.0),
    _Region("inland_empire", ((34.00, -117.35),), (0.15, 0.30), 0.07, 0.15, -5.0),
    _Region("san_diego", ((32.80, -117.10),), (0.15, 0.12), 0.08, 0.07, -2.0),
    _Region("sf_peninsula", ((37.65, -122.38),), (0.15, 0.08), 0.06, 0.03, 12.0),
    _Region("east_bay", ((37.80, -122.12),), (0.15, 0.15), 0.06, 0.05, 5.0),
    _Region("san_jose", ((37.32, -121.90),), (0.10, 0.12), 0.05, 0.04, -3.0),
    _Region("sacramento", ((38.60, -121.35),), (0.15, 0.20), 0.05, 0.09, -3.0),
    _Region(
        "central_valley",
        ((35.37, -119.02), (36.75, -119.80), (37.64, -121.00), (37.96, -121.29), (39.73, -121.84),
         (40.58, -122.39)),
        (0.15, 0.15), 0.12, 0.22, -4.0,
    ),
    _Region("central_coast", ((34.42, -119.70), (35.28, -120.66), (36.60, -121.85)), (0.08, 0.08), 0.04, 0.03, 0.0),
    _Region("north_coast", ((38.44, -122.70), (39.40, -123.35), (40.80, -124.15)), (0.12, 0.12), 0.03, 0.025, 2.0),
    _Region(
        "desert_mountain",
        ((33.80, -116.50), (34.50, -117.30), (34.70, -118.15), (38.00, -120.40), (38.90, -120.00)),
        (0.25, 0.25), 0.04, 0.08, -8.0,
    ),
    _Region("rural", ((37.25, -119.50),), (2.50, 2.50), 0.02, 0.03, 0.0),
)

# Metro price premia on top of the coastal effect: (lat, lon, scale in km, log-price bump).
_PREMIA = np.array(
    [
        (37.45, -122.20, 35.0, 0.45),  # Peninsula / Silicon Valley
        (37.78, -122.43, 12.0, 0.25),  # San Francisco
        (37.88, -122.25, 15.0, 0.15),  # Berkeley hills
        (34.06, -118.45, 20.0, 0.35),  # Westside / Beverly Hills
        (33.62, -117.85, 20.0, 0.20),  # Newport / Irvine
        (32.85, -117.25, 12.0, 0.20),  # La Jolla
        (34.43, -119.70, 15.0, 0.25),  # Santa Barbara
        (36.58, -121.90, 15.0, 0.25),  # Monterey / Carmel
        (39.10, -120.05, 20.0, 0.20),  # Lake Tahoe
    ]
)

# Mean of _location_value over the drift-0 geography; centring on it keeps incomes' scale fixed.
_MEAN_LOCATION_EFFECT = 0.36

# Unparsable cells seen in the wild: decimal commas, spreadsheet errors, stray text. (Formula
# payloads such as "=cmd|..." are not dirt but hostile input: parse_csv refuses those batches.)
UNPARSABLE_TOKENS: tuple[str, ...] = (
    "#VALUE!",
    "1.2.3",
    "abc",
    "N.A.",
    "?",
    "$1,200",
    "+-3",
)
# How missing cells look once they have been through a spreadsheet or a hand-written exporter.
MISSING_TOKENS: tuple[str, ...] = ("", "n/a", "NULL")


def _km_to_segments(lat: np.ndarray, lon: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance (km, equirectangular) from each point to the nearest segment of a polyline."""
    kx = 111.0 * np.cos(np.deg2rad(37.0))  # km per degree of longitude at California's mid-latitude
    ky = 111.0
    px, py = lon[:, None] * kx, lat[:, None] * ky
    ax, ay = line[:-1, 1] * kx, line[:-1, 0] * ky
    bx, by = line[1:, 1] * kx, line[1:, 0] * ky
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.sqrt((px - ax - t * dx) ** 2 + (py - ay - t * dy) ** 2).min(axis=1)


def _sample_locations(rng: np.random.Generator, n: int, drift: float) -> tuple[np.ndarray, ...]:
    weights = np.array([(1 - drift) * r.weight + drift * r.drift_weight for r in _REGIONS])
    region = rng.choice(len(_REGIONS), size=n, p=weights / weights.sum())
    lat = np.empty(n)
    lon = np.empty(n)
    age_shift = np.empty(n)
    for i, r in enumerate(_REGIONS):
        idx = np.flatnonzero(region == i)
        path = np.array(r.path)
        if len(path) == 1:
            base = np.repeat(path, len(idx), axis=0)
        else:
            # Uniform along the corridor: pick a segment by length, then a point on it.
            seg_len = np.hypot(*(path[1:] - path[:-1]).T)
            seg = rng.choice(len(seg_len), size=len(idx), p=seg_len / seg_len.sum())
            t = rng.random(len(idx))[:, None]
            base = path[seg] + t * (path[seg + 1] - path[seg])
        lat[idx] = base[:, 0] + rng.normal(0.0, r.spread[0], len(idx))
        lon[idx] = base[:, 1] + rng.normal(0.0, r.spread[1], len(idx))
        age_shift[idx] = r.age_shift
    lat = np.clip(lat, *_LAT_CLIP)
    # Mirror points that fell into the ocean (or over the state line) back inland, so the map has
    # the state's shape instead of blobs hanging off the coast.
    coast_lon = np.interp(lat, _COAST[:, 0], _COAST[:, 1])
    lon = np.where(lon < coast_lon, 2 * coast_lon - lon + 0.01, lon)
    border_lon = np.interp(lat, _BORDER_LAT, _BORDER_LON)
    lon = np.where(lon > border_lon, 2 * border_lon - lon, lon)
    lon = np.clip(np.maximum(lon, coast_lon + 0.01), *_LON_CLIP)
    return np.round(lat, 2), np.round(lon, 2), age_shift


def _location_value(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Log-price effect of location: coastal proximity plus metro premia, inland discount."""
    coast_km = np.minimum(_km_to_segments(lat, lon, _COAST), _km_to_segments(lat, lon, _BAY))
    effect = 0.45 * np.exp(-coast_km / 15.0) + 0.35 * np.exp(-coast_km / 60.0) - 0.25 * np.minimum(coast_km / 150.0, 1.5)
    kx = 111.0 * np.cos(np.deg2rad(37.0))
    for plat, plon, scale, bump in _PREMIA:
        d2 = ((lat - plat) * 111.0) ** 2 + ((lon - plon) * kx) ** 2
        effect += bump * np.exp(-d2 / (2 * scale**2))
    return effect


def generate(n_rows: int, *, seed: int, drift: float = 0.0, schema: Schema = CALIFORNIA_HOUSING) -> pd.DataFrame:
    """Generate ``n_rows`` SYNTHETIC labelled block groups, deterministic for a given seed.

    ``drift`` in [0, 1] shifts features (incomes up ~30%, population up ~50%, more crowded,
    newer houses, more inland geography) and the price relationship (≈+20% prices, larger coastal
    premium). ``schema`` only names the columns; it must be the California housing layout (8
    numeric features and the target), which is what this generator models.
    """
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be within [0, 1], got {drift}")
    if schema.all_columns != CALIFORNIA_HOUSING.all_columns:
        raise ValueError(f"generate() models the California housing columns, not {schema.all_columns}")
    rng = np.random.default_rng(seed)
    n = n_rows

    lat, lon, age_shift = _sample_locations(rng, n, drift)
    loc = _location_value(lat, lon)

    # Income: lognormal around ~$35k median, richer where housing is expensive (people sort).
    log_inc = np.log(3.5) + 0.35 * (loc - _MEAN_LOCATION_EFFECT) + rng.normal(0.0, 0.42, n) + 0.28 * drift
    med_inc = np.clip(np.exp(log_inc), *_INCOME_CLIP)

    # House age: census values are top-coded at 52, which produces the spike there.
    age = rng.normal(28.5 + age_shift - 7.0 * drift, 12.5, n)
    house_age = np.clip(np.round(age), 1, _AGE_MAX)

    # Rooms rise with income; rare block groups (resorts, second homes) have very few households.
    rooms = 5.0 * (med_inc / 3.5) ** 0.3 * np.exp(0.14 * rng.standard_t(5, n))
    resort = rng.random(n) < 0.003
    rooms = np.where(resort, rooms * np.exp(rng.uniform(0.7, 3.0, n)), rooms)
    bedroom_share = 0.21 * (med_inc / 3.5) ** -0.12 * np.exp(rng.normal(0.0, 0.11, n))
    bedrms = rooms * bedroom_share

    # Student-t noise gives the census table's long tails (a few block groups of 20k+ people).
    pop = np.exp(np.log(1166.0) + 0.4 * drift + 0.5 * rng.standard_t(5, n))
    population = np.clip(np.round(pop), 3, 35682)

    # Occupancy: crowded where incomes are low; a few institutional block groups are extreme.
    occ = 2.85 * (med_inc / 3.5) ** -0.12 * np.exp(rng.normal(0.0, 0.22, n) + 0.12 * drift)
    institutional = rng.random(n) < 0.002
    occ = np.where(institutional, occ * np.exp(rng.uniform(1.0, 5.5, n)), occ)
    occ = np.minimum(occ, 1243.0)

    # Price: income and location dominate; occupancy, rooms and age matter at the margin.
    log_val = (
        -0.80
        + 0.78 * np.log(med_inc)
        + loc * (1.0 + 0.25 * drift)  # drift: buyers pay more for the same proximity to the coast
        - 0.40 * np.log(np.minimum(occ, 12.0) / 2.85)
        + 0.12 * np.log(np.minimum(rooms, 15.0) / 5.2)
        + 0.004 * (house_age - 28.5)
        + 0.18 * drift
        + rng.normal(0.0, 0.23, n)
    )
    value = np.exp(log_val)
    value = np.where(value > 5.0, _VALUE_CLIP[1], np.maximum(value, _VALUE_CLIP[0]))

    frame = pd.DataFrame(
        {
            "MedInc": np.round(med_inc, 4),
            "HouseAge": house_age,
            "AveRooms": np.round(rooms, 6),
            "AveBedrms": np.round(bedrms, 6),
            "Population": population,
            "AveOccup": np.round(occ, 6),
            "Latitude": lat,
            "Longitude": lon,
            "MedHouseVal": np.round(value, 5),
        },
        columns=schema.all_columns,
    ).astype("float64")
    frame.attrs["source"] = SYNTHETIC_SOURCE
    return frame


def load_reference(
    n_rows: int,
    *,
    seed: int,
    cache_dir: str | Path | None = None,
    allow_download: bool = False,
) -> tuple[pd.DataFrame, str]:
    """Reference data and where it came from: ``(frame, source)``.

    ``source`` is ``"california_housing"`` when scikit-learn's cached copy of the real dataset is
    found in ``cache_dir`` (scikit-learn's default data home when None), sampled down to at most
    ``n_rows`` rows with ``seed``; otherwise the frame is :func:`generate` output and ``source`` is
    ``"synthetic"``. Nothing is downloaded unless ``allow_download`` is True, so by default this
    touches only the local disk and cannot hang on the network.
    """
    # Imported here: sklearn.datasets is only needed on this path, and generate() stays light.
    from sklearn.datasets import fetch_california_housing

    try:
        bunch = fetch_california_housing(data_home=cache_dir, download_if_missing=allow_download, as_frame=True)
    except OSError:
        # Not cached (sklearn raises OSError when download_if_missing=False), or the download
        # failed (URLError is an OSError): fall back to synthetic data, labelled as such.
        return generate(n_rows, seed=seed), SYNTHETIC_SOURCE
    frame = bunch.frame[CALIFORNIA_HOUSING.all_columns].astype("float64")
    if n_rows < len(frame):
        frame = frame.sample(n=n_rows, random_state=seed)
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = REAL_SOURCE
    return frame, REAL_SOURCE


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value}")


def inject_defects(
    df: pd.DataFrame,
    *,
    seed: int,
    missing_fraction: float = 0.0,
    outlier_fraction: float = 0.0,
    duplicate_fraction: float = 0.0,
    unparsable_fraction: float = 0.0,
    out_of_bounds_fraction: float = 0.0,
    missing_target_fraction: float = 0.0,
    schema: Schema = CALIFORNIA_HOUSING,
) -> pd.DataFrame:
    """A dirty copy of ``df`` (which is not modified), as a badly exported upload would look.

    - ``missing_fraction``: share of feature cells emptied (NaN, ``""``, ``"n/a"`` or ``"NULL"``);
    - ``unparsable_fraction``: share of numeric feature cells replaced by text that is not a
      number (decimal commas such as ``"12,5"``, ``"#VALUE!"`` ...);
    - ``outlier_fraction``: share of rows where one cappable column is multiplied by 8..25 (kept
      inside the schema's hard bounds: an outlier, not an invalid value);
    - ``out_of_bounds_fraction``: share of rows where one numeric feature gets an impossible value
      (negative population, latitude 99 ...);
    - ``missing_target_fraction``: share of rows whose target is emptied;
    - ``duplicate_fraction``: exact copies of that share of rows, inserted at random positions
      (added last, so duplicates are byte-identical to their dirty originals).

    Columns that receive text become ``object`` dtype.
    """
    for name, value in (
        ("missing_fraction", missing_fraction),
        ("outlier_fraction", outlier_fraction),
        ("duplicate_fraction", duplicate_fraction),
        ("unparsable_fraction", unparsable_fraction),
        ("out_of_bounds_fraction", out_of_bounds_fraction),
        ("missing_target_fraction", missing_target_fraction),
    ):
        _check_fraction(name, value)
    rng = np.random.default_rng(seed)
    out = df.copy()
    out.attrs = dict(df.attrs)
    n = len(out)
    features = schema.numeric_names

    def cells(fraction: float) -> list[tuple[int, str]]:
        mask = rng.random((n, len(features))) < fraction
        return [(int(r), features[c]) for r, c in zip(*np.nonzero(mask), strict=True)]

    def set_cell(row: int, column: str, value: object) -> None:
        if isinstance(value, str) and out[column].dtype != object:
            out[column] = out[column].astype(object)
        out.iat[row, out.columns.get_loc(column)] = value

    capped = schema.capped_columns
    for row in map(int, np.flatnonzero(rng.random(n) < outlier_fraction)):
        column = capped[rng.integers(len(capped))]
        feature = schema.numeric_feature(column)
        current = float(out.iat[row, out.columns.get_loc(column)])
        value = min(max(current, 1.0) * rng.uniform(8.0, 25.0), feature.maximum - 0.01 * (feature.maximum - feature.minimum))
        set_cell(row, column, round(value, 4))

    for row in map(int, np.flatnonzero(rng.random(n) < out_of_bounds_fraction)):
        column = features[rng.integers(len(features))]
        feature = schema.numeric_feature(column)
        span = feature.maximum - feature.minimum
        value = feature.minimum - 0.5 * span if rng.random() < 0.5 else feature.maximum + 0.5 * span
        set_cell(row, column, round(value, 2))

    for row, column in cells(unparsable_fraction):
        if rng.random() < 0.4:
            # A European-style export of the real value: a decimal comma instead of a point.
            current = out.iat[row, out.columns.get_loc(column)]
            number = float(current) if isinstance(current, int | float | np.floating) else 12.5
            set_cell(row, column, f"{number:.1f}".replace(".", ","))
        else:
            set_cell(row, column, UNPARSABLE_TOKENS[rng.integers(len(UNPARSABLE_TOKENS))])

    for row, column in cells(missing_fraction):
        token = MISSING_TOKENS[rng.integers(len(MISSING_TOKENS))] if rng.random() < 0.5 else np.nan
        set_cell(row, column, token)

    target = schema.target.name
    if target in out.columns:
        for row in map(int, np.flatnonzero(rng.random(n) < missing_target_fraction)):
            set_cell(row, target, np.nan)

    n_dup = int(round(duplicate_fraction * n))
    if n_dup and n:
        copies = out.iloc[rng.integers(0, n, n_dup)]
        combined = pd.concat([out, copies], ignore_index=True)
        out = combined.iloc[rng.permutation(len(combined))].reset_index(drop=True)
        out.attrs = dict(df.attrs)
    return out


def poison_labels(df: pd.DataFrame, seed: int, *, fraction: float = 1.0, schema: Schema = CALIFORNIA_HOUSING) -> pd.DataFrame:
    """A copy of ``df`` whose targets are shuffled across rows (all rows by default).

    The marginal distribution of the target is unchanged, so only a model-quality check (not a
    drift check on the target alone) notices: the features no longer explain the labels.
    """
    _check_fraction("fraction", fraction)
    rng = np.random.default_rng(seed)
    out = df.copy()
    out.attrs = dict(df.attrs)
    target = schema.target.name
    rows = np.flatnonzero(rng.random(len(out)) < fraction) if fraction < 1.0 else np.arange(len(out))
    column = out.columns.get_loc(target)
    out.iloc[rows, column] = out.iloc[rng.permutation(rows), column].to_numpy()
    return out


def drop_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A copy of ``df`` without ``columns`` (a batch from an exporter that forgot some)."""
    return df.drop(columns=columns)


def add_unknown_column(df: pd.DataFrame, name: str = "Unnamed: 0") -> pd.DataFrame:
    """A copy of ``df`` with an extra column; the default is pandas' exported-index column."""
    out = df.copy()
    out.insert(0, name, np.arange(len(out)))
    return out


def to_csv_bytes(df: pd.DataFrame, *, sep: str = ",", decimal: str = ".", encoding: str = "utf-8") -> bytes:
    """``df`` serialised as an uploaded CSV would be; ``sep=";", decimal=","`` is a European export."""
    buffer = io.StringIO()
    df.to_csv(buffer, index=False, sep=sep, decimal=decimal)
    return buffer.getvalue().encode(encoding)
