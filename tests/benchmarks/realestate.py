"""SYNTHETIC house sales shaped like a county assessor's table (King County's, for instance): made up, offline.

    generate(rows=20_000, seed=0) -> pandas.DataFrame

Deterministic for a seed, no download, no file. One row per sale, 18 columns:

=================  =====================================================================================
``id``             a 10-digit parcel number (unique): an id, never a feature
``date``           the sale date, ``20140502T000000`` as assessors export it (May 2014 to May 2015)
``price``          the sale price in dollars (the target; right-skewed, so a schema infers ``log``)
``bedrooms``       a count, 0 (studios) to 10
``bathrooms``      in quarter steps (a three-quarter bath is 0.75)
``sqft_living``    living area, square feet (rounded to 10)
``sqft_lot``       lot area, square feet (condos share a small lot)
``floors``         1 to 3.5 in half steps
``waterfront``     0/1 (under 1% are on the water)
``view``           a 0..4 view rating code
``condition``      a 1..5 condition code
``grade``          a 4..13 construction-quality code (King County's scale, the strongest signal)
``yr_built``       1900 to 2015
``zipcode``        a 5-digit code, 2 to 3 per neighbourhood (numbers in the CSV)
``lat``/``long``   coordinates around the neighbourhood's centre
``neighbourhood``  a name (24 of them; one is so rare that a schema folds it into ``other``)
``property_type``  house, townhouse, condo, multi-family or mobile
=================  =====================================================================================

The price is multiplicative, as real prices are: size with diminishing returns, location (each
neighbourhood's premium, a zip code's smaller one, a north-south gradient), construction grade,
condition, view, waterfront, type, age (new builds and historic houses sell higher) and the
month of sale (the market rose about 6% over the year; the date is excluded from the model, so
this is noise to it), times a lognormal error of about 17%.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

# name, centre (lat, long), log-price premium, relative number of sales, typical year built
_NEIGHBOURHOODS: tuple[tuple[str, float, float, float, float, int], ...] = (
    ("Ballard", 47.668, -122.384, 0.30, 6.0, 1945),
    ("Fremont", 47.651, -122.350, 0.35, 4.0, 1935),
    ("Capitol Hill", 47.625, -122.317, 0.45, 5.0, 1925),
    ("Queen Anne", 47.637, -122.357, 0.55, 4.5, 1930),
    ("Magnolia", 47.650, -122.400, 0.55, 3.0, 1950),
    ("Wallingford", 47.661, -122.334, 0.40, 3.5, 1928),
    ("Green Lake", 47.680, -122.326, 0.35, 3.5, 1940),
    ("Northgate", 47.708, -122.325, 0.05, 4.5, 1960),
    ("Lake City", 47.719, -122.295, 0.00, 4.0, 1962),
    ("Beacon Hill", 47.568, -122.309, 0.05, 4.5, 1945),
    ("Rainier Valley", 47.545, -122.283, -0.10, 5.0, 1950),
    ("West Seattle", 47.563, -122.387, 0.15, 6.0, 1950),
    ("White Center", 47.512, -122.355, -0.25, 3.5, 1955),
    ("Burien", 47.470, -122.346, -0.20, 4.0, 1960),
    ("Renton", 47.483, -122.217, -0.15, 6.5, 1975),
    ("Kent", 47.380, -122.235, -0.30, 7.0, 1980),
    ("Auburn", 47.307, -122.228, -0.35, 6.0, 1982),
    ("Federal Way", 47.322, -122.312, -0.30, 6.5, 1980),
    ("Bellevue", 47.610, -122.200, 0.60, 6.0, 1975),
    ("Kirkland", 47.681, -122.209, 0.50, 5.0, 1980),
    ("Redmond", 47.673, -122.121, 0.45, 5.0, 1985),
    ("Issaquah", 47.530, -122.033, 0.30, 4.0, 1995),
    ("Sammamish", 47.616, -122.036, 0.45, 4.0, 1995),
    ("Vashon", 47.447, -122.460, 0.05, 0.04, 1965),  # about 15 sales in 20,000: folded into "other"
)
_TYPES = ("house", "townhouse", "condo", "multi-family", "mobile")
_TYPE_SHARE = (0.66, 0.14, 0.17, 0.025, 0.005)
_TYPE_SQFT = (2_000.0, 1_450.0, 950.0, 2_900.0, 1_050.0)  # median living area
_TYPE_PREMIUM = (0.0, -0.05, -0.12, -0.10, -0.55)
_FIRST_ZIP = 98001


def generate(rows: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """``rows`` synthetic sales (see the module docstring); the same frame for the same seed."""
    rng = np.random.default_rng(seed)
    names = [n[0] for n in _NEIGHBOURHOODS]
    weights = np.array([n[4] for n in _NEIGHBOURHOODS])
    hood = rng.choice(len(names), rows, p=weights / weights.sum())
    centre_lat = np.array([n[1] for n in _NEIGHBOURHOODS])[hood]
    centre_lon = np.array([n[2] for n in _NEIGHBOURHOODS])[hood]
    premium = np.array([n[3] for n in _NEIGHBOURHOODS])[hood]
    typical_year = np.array([n[5] for n in _NEIGHBOURHOODS])[hood]

    # Zip codes: 2 or 3 per neighbourhood, each with its own small premium.
    zips_per_hood = [2 + (i % 2) for i in range(len(names))]
    first = np.cumsum([0, *zips_per_hood[:-1]])
    zip_index = first[hood] + rng.integers(0, np.array(zips_per_hood)[hood])
    zip_premium = np.random.default_rng(1_000 + seed).normal(0.0, 0.06, sum(zips_per_hood))[zip_index]
    zipcode = _FIRST_ZIP + 2 * zip_index  # 98001, 98003, ...: codes, not quantities

    kind = rng.choice(len(_TYPES), rows, p=_TYPE_SHARE)
    sqft = np.exp(np.log(np.array(_TYPE_SQFT)[kind]) + rng.normal(0.0, 0.33, rows))
    sqft_living = np.clip(np.round(sqft, -1), 300, 12_000).astype(int)
    condo = kind == 2
    lot = np.exp(np.log(7_200.0) + 0.35 * np.log(sqft_living / 2_000) + rng.normal(0.0, 0.55, rows))
    lot = np.where(condo, rng.integers(600, 2_500, rows), lot)
    sqft_lot = np.clip(np.round(lot), 500, 900_000).astype(int)
    bedrooms = np.clip(np.round(sqft_living / 620 + rng.normal(0.3, 0.7, rows)), 0, 10).astype(int)
    bathrooms = np.clip(np.round((0.55 * bedrooms + 0.4 + rng.normal(0.0, 0.45, rows)) * 4) / 4, 0.5, 8.0)
    floors = np.clip(np.round((1.0 + sqft_living / 2_400 + rng.normal(0.0, 0.45, rows)) * 2) / 2, 1.0, 3.5)
    yr_built = np.clip(np.round(typical_year + rng.normal(0.0, 22.0, rows)), 1900, 2015).astype(int)
    age = 2015 - yr_built

    quality = (0.9 * np.log(sqft_living / 1_900) + 1.4 * premium + 0.01 * (yr_built - 1960) / 10
               + rng.normal(0.0, 0.45, rows))
    grade = np.clip(np.round(7.4 + 1.6 * quality), 4, 13).astype(int)
    condition = np.clip(np.round(3.3 + 0.012 * np.minimum(age, 60) - 0.01 * np.maximum(age - 60, 0)
                                 + rng.normal(0.0, 0.65, rows)), 1, 5).astype(int)
    waterfront = (rng.random(rows) < 0.0075).astype(int)
    view = np.where(waterfront == 1, rng.integers(3, 5, rows),
                    rng.choice(5, rows, p=(0.90, 0.015, 0.045, 0.025, 0.015)))
    lat = np.round(centre_lat + rng.normal(0.0, 0.012, rows), 4)
    lon = np.round(centre_lon + rng.normal(0.0, 0.015, rows), 3)

    day = rng.integers(0, 390, rows)
    date = (pd.Timestamp("2014-05-02") + pd.to_timedelta(day, unit="D")).strftime("%Y%m%dT000000")

    log_price = (np.log(720.0) + 0.78 * np.log(sqft_living) + 0.05 * np.log(sqft_lot) + premium + zip_premium
                 + 0.35 * (lat - 47.5) + 0.115 * (grade - 7) + 0.045 * (condition - 3) + 0.065 * view
                 + 0.45 * waterfront + np.array(_TYPE_PREMIUM)[kind]
                 + 0.10 * np.exp(-age / 6.0) + 0.07 * (yr_built < 1925) - 0.0008 * np.minimum(age, 80)
                 + 0.06 * day / 365 + rng.normal(0.0, 0.17, rows))
    price = np.round(np.exp(log_price) / 500) * 500

    drawn = rng.integers(1_000_000_000, 9_900_000_000, rows + rows // 10 + 10, dtype=np.int64)
    _, first_seen = np.unique(drawn, return_index=True)
    ids = drawn[np.sort(first_seen)[:rows]]  # unique, in drawing order
    return pd.DataFrame({
        "id": ids, "date": date, "price": price.astype(np.int64), "bedrooms": bedrooms, "bathrooms": bathrooms,
        "sqft_living": sqft_living, "sqft_lot": sqft_lot, "floors": floors, "waterfront": waterfront, "view": view,
        "condition": condition, "grade": grade, "yr_built": yr_built, "zipcode": zipcode, "lat": lat, "long": lon,
        "neighbourhood": np.array(names, dtype=object)[hood], "property_type": np.array(_TYPES, dtype=object)[kind],
    })


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as the CSV a user would upload (no index)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")
