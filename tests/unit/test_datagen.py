"""The synthetic generator: realistic, deterministic, drift-able, and honest about being synthetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wasserstein_distance

from selfheal import datagen
from selfheal.schema import CALIFORNIA_HOUSING as SCHEMA


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return datagen.generate(20_000, seed=0)


def test_columns_dtypes_and_bounds_follow_the_schema(reference):
    assert list(reference.columns) == SCHEMA.all_columns
    assert (reference.dtypes == "float64").all()
    assert not reference.isna().any().any()
    for name in SCHEMA.all_columns:
        feature = SCHEMA.numeric_feature(name)
        assert reference[name].between(feature.minimum, feature.maximum).all(), name


def test_output_is_labelled_synthetic(reference):
    assert reference.attrs["source"] == datagen.SYNTHETIC_SOURCE == "synthetic"
    assert "SYNTHETIC" in datagen.__doc__


def test_same_seed_same_rows_different_seed_different_rows():
    a = datagen.generate(500, seed=3)
    pd.testing.assert_frame_equal(a, datagen.generate(500, seed=3))
    assert not a.equals(datagen.generate(500, seed=4))


def test_marginals_look_like_the_census_table(reference):
    assert 3.6 < reference["MedInc"].mean() < 4.1
    assert reference["MedInc"].mean() > reference["MedInc"].median()  # long right tail
    assert reference["MedInc"].between(0.4999, 15.0001).all()
    age = reference["HouseAge"]
    assert (age == age.round()).all() and age.min() >= 1 and age.max() == 52
    assert (age == 52).mean() > 3 * (age == 51).mean()  # the top-coding spike
    assert 5.0 < reference["AveRooms"].mean() < 5.8
    assert 1.0 < reference["AveBedrms"].mean() < 1.2
    assert 1200 < reference["Population"].mean() < 1700
    assert 2.7 < reference["AveOccup"].median() < 3.1
    assert reference["AveOccup"].max() > 50  # rare institutional block groups
    target = reference["MedHouseVal"]
    assert 1.8 < target.mean() < 2.4
    assert target.max() == pytest.approx(5.00001)
    assert 0.02 < (target > 5.0).mean() < 0.1  # top-coded share, ~5% in the real data


def test_geography_clusters_along_california(reference):
    south = reference["Latitude"] < 35.0  # LA / Orange County / San Diego
    bay = reference["Latitude"].between(37.0, 38.2) & reference["Longitude"].between(-122.7, -121.6)
    assert 0.45 < south.mean() < 0.65
    assert 0.1 < bay.mean() < 0.3
    # Nothing in the Pacific: west of -122.6 between Santa Cruz and the Golden Gate is ocean.
    assert not ((reference["Latitude"].between(37.0, 37.8)) & (reference["Longitude"] < -122.6)).any()


def test_price_follows_income_and_the_coast(reference):
    corr = reference.corr()
    assert corr.loc["MedInc", "MedHouseVal"] > 0.6
    assert corr.loc["AveRooms", "AveBedrms"] > 0.8
    assert corr.loc["MedInc", "AveRooms"] > 0.1
    similar_income = reference["MedInc"].between(3.0, 4.5)
    coastal_la = similar_income & reference["Longitude"].between(-118.6, -118.2) & (reference["Latitude"] < 34.2)
    central_valley = similar_income & reference["Latitude"].between(36.0, 38.0) & (reference["Longitude"] > -121.0)
    assert reference.loc[coastal_la, "MedHouseVal"].median() > 1.5 * reference.loc[central_valley, "MedHouseVal"].median()


def _normed_wasserstein(ref: pd.Series, cur: pd.Series) -> float:
    # Evidently's default numerical drift test for large samples: Wasserstein distance over the
    # reference's standard deviation, drift when above 0.1.
    return wasserstein_distance(ref, cur) / ref.std()


def test_drift_one_moves_most_features_and_drift_zero_none(reference):
    features = SCHEMA.feature_names
    drifted = datagen.generate(2_000, seed=11, drift=1.0)
    same = datagen.generate(2_000, seed=11, drift=0.0)
    assert sum(_normed_wasserstein(reference[c], drifted[c]) > 0.1 for c in features) >= len(features) / 2
    assert sum(_normed_wasserstein(reference[c], same[c]) > 0.1 for c in features) == 0
    assert drifted["MedInc"].mean() > 1.2 * same["MedInc"].mean()
    assert drifted["MedHouseVal"].mean() > same["MedHouseVal"].mean()


def test_drift_must_be_a_fraction():
    with pytest.raises(ValueError, match="drift"):
        datagen.generate(10, seed=0, drift=1.5)


def test_inject_defects_leaves_the_input_alone_and_adds_what_was_asked(reference):
    clean = reference.head(2_000)
    before = clean.copy()
    dirty = datagen.inject_defects(
        clean, seed=5, missing_fraction=0.02, unparsable_fraction=0.01, outlier_fraction=0.02, duplicate_fraction=0.05
    )
    pd.testing.assert_frame_equal(clean, before)
    assert len(dirty) == 2_100
    assert dirty.duplicated().sum() >= 100
    assert all(dtype == "object" for dtype in dirty[SCHEMA.numeric_names].dtypes)  # text landed in every feature column
    cells = dirty[SCHEMA.numeric_names].astype(str)
    assert cells.isin(["=cmd|' /C calc'!A0", "#VALUE!", "1.2.3"]).any().any()
    assert cells.apply(lambda col: col.str.fullmatch(r"-?\d+,\d")).any().any()  # decimal commas
    parsed = dirty[SCHEMA.numeric_names].apply(pd.to_numeric, errors="coerce")
    assert parsed.isna().to_numpy().mean() > 0.02
    assert (parsed["Population"] > clean["Population"].max()).any() or (parsed["MedInc"] > 15.0001).any()


def test_inject_defects_out_of_bounds_and_missing_targets():
    clean = datagen.generate(1_000, seed=1)
    dirty = datagen.inject_defects(clean, seed=2, out_of_bounds_fraction=0.05, missing_target_fraction=0.03)
    parsed = dirty.apply(pd.to_numeric, errors="coerce")
    outside = np.zeros(len(dirty), dtype=bool)
    for name in SCHEMA.numeric_names:
        f = SCHEMA.numeric_feature(name)
        outside |= ~parsed[name].between(f.minimum, f.maximum).to_numpy()
    assert 20 < outside.sum() < 90
    assert 10 < parsed["MedHouseVal"].isna().sum() < 60


def test_poison_labels_keeps_the_distribution_but_breaks_the_relation():
    clean = datagen.generate(3_000, seed=2)
    poisoned = datagen.poison_labels(clean, 7)
    assert sorted(poisoned["MedHouseVal"]) == sorted(clean["MedHouseVal"])
    pd.testing.assert_frame_equal(poisoned[SCHEMA.feature_names], clean[SCHEMA.feature_names])
    assert abs(poisoned["MedInc"].corr(poisoned["MedHouseVal"])) < 0.1
    assert clean["MedInc"].corr(clean["MedHouseVal"]) > 0.6


def test_malformed_helpers():
    clean = datagen.generate(10, seed=0)
    assert "AveOccup" not in datagen.drop_columns(clean, ["AveOccup"]).columns
    assert list(datagen.add_unknown_column(clean).columns)[0] == "Unnamed: 0"
    european = datagen.to_csv_bytes(clean, sep=";", decimal=",")
    assert european.splitlines()[0].decode() == ";".join(SCHEMA.all_columns)
    assert b"," in european.splitlines()[1]


def test_load_reference_without_a_cached_copy_is_synthetic_and_offline(tmp_path):
    frame, source = datagen.load_reference(300, seed=1, cache_dir=tmp_path)
    assert source == "synthetic"
    assert frame.attrs["source"] == "synthetic"
    pd.testing.assert_frame_equal(frame, datagen.generate(300, seed=1))
