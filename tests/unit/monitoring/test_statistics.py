"""Drift statistics: hand-computed values, scipy/sklearn on the same data, and UCI Adult as reference and batch."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from airflow_automl_provider.monitoring import statistics as drift
from automl_demo import load_uci_adult

pytestmark = pytest.mark.unit

ADULT = Path(os.environ.get("AUTOML_SHARED_DIR", Path(__file__).resolve().parents[4] / "shared")) / "datasets" / "adult"
RESULT_KEYS = {
    "feature",
    "kind",
    "statistic",
    "value",
    "threshold",
    "drifted",
    "psi",
    "p_value",
    "alpha",
    "test",
    "distance",
    "distance_statistic",
    "distance_threshold",
    "tests",
    "reference_rows",
    "batch_rows",
}
TEST_KEYS = {"test", "statistic", "effect", "raw_p_value", "p_value", "min_effect", "drifted"}


@pytest.fixture(scope="module")
def adult():
    if not (ADULT / "adult.data").exists():
        pytest.fail(f"UCI Adult not found under {ADULT}: the tests read ../shared/datasets/adult/")
    train = load_uci_adult(str(ADULT / "adult.data"))
    test = load_uci_adult(str(ADULT / "adult.test"))
    features = [c for c in train.columns if c != "class"]
    # Through JSON, as the profile is stored with the model and read back.
    profile = json.loads(json.dumps(drift.build_reference_profile(train, features)))
    return train, test, features, profile


def _by_feature(results):
    return {r["feature"]: r for r in results}


def _by_test(result):
    return {t["test"]: t for t in result["tests"]}


def _support(x):
    values, counts = np.unique(np.asarray(x, dtype="float64"), return_counts=True)
    return values, counts.astype("float64")


def _scipy_mann_whitney(batch, reference):
    """scipy's U of the batch as the rank effect ``U / (n m) - 1/2``, and its asymptotic two-sided p-value."""
    result = stats.mannwhitneyu(batch, reference, alternative="two-sided", method="asymptotic", use_continuity=True)
    return result.statistic / (len(batch) * len(reference)) - 0.5, result.pvalue


def _share_p_value(hits_b, rows_b, hits_r, rows_r):
    """The 2x2 chi-square (pooled z-test) when every cell is expected >= 5 times, else Fisher's exact test."""
    table = [[hits_b, rows_b - hits_b], [hits_r, rows_r - hits_r]]
    if min(hits_b + hits_r, rows_b + rows_r - hits_b - hits_r) == 0:
        return 1.0
    if min(rows_b, rows_r) * min(hits_b + hits_r, rows_b + rows_r - hits_b - hits_r) >= 5 * (rows_b + rows_r):
        return stats.chi2_contingency(table, correction=False).pvalue
    return stats.fisher_exact(table).pvalue


def _pool_rare(batch, reference):
    """
    category_test's pooling, by hand: categories expected under 5 times in the batch are pooled; a
    pool still under 5 joins the smallest remaining category; empty categories are dropped.
    """
    nb, nr = sum(batch), sum(reference)
    rare = [(b + r) * nb < 5 * (nb + nr) for b, r in zip(batch, reference, strict=True)]
    kept = [[b, r] for b, r, x in zip(batch, reference, rare, strict=True) if not x]
    pool = [
        sum(b for b, x in zip(batch, rare, strict=True) if x),
        sum(r for r, x in zip(reference, rare, strict=True) if x),
    ]
    if any(rare):
        if kept and sum(pool) * nb < 5 * (nb + nr):
            smallest = min(range(len(kept)), key=lambda i: sum(kept[i]))
            kept[smallest] = [kept[smallest][0] + pool[0], kept[smallest][1] + pool[1]]
        else:
            kept.append(pool)
    kept = [k for k in kept if sum(k)]
    return [k[0] for k in kept], [k[1] for k in kept]


# --- psi, Jensen-Shannon --------------------------------------------------------------------------


def test_psi_hand_computed():
    # sum((a - e) * ln(a / e)): bin 1 (0.4 - 0.5) * ln(0.4 / 0.5) = 0.0223144, bin 2 (0.4 - 0.3) * ln(0.4 / 0.3)
    # = 0.0287682, bin 3 (0.2 - 0.2) * ln(1) = 0: total 0.0510826.
    assert drift.psi([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]) == pytest.approx(0.0510826, abs=1e-7)
    # Counts are normalised first: 50/100, 30/100, 20/100 against 20/50, 20/50, 10/50, the same shares.
    assert drift.psi([50, 30, 20], [20, 20, 10]) == pytest.approx(0.0510826, abs=1e-7)
    # An empty bin is floored at eps = 1e-4, not renormalised: bin 2 (0.25 - 0.5) * ln(0.25 / 0.5) = 0.1732868,
    # bin 3 (0.25 - 0.0001) * ln(0.25 / 0.0001) = 0.2499 * 7.8240460 = 1.9552291: total 2.1285159.
    assert drift.psi([0.5, 0.5, 0.0], [0.5, 0.25, 0.25]) == pytest.approx(2.1285159, abs=1e-6)
    assert drift.psi([0.5, 0.5, 0.0], [0.5, 0.25, 0.25], eps=1e-3) == pytest.approx(
        0.25 * math.log(2) + 0.249 * math.log(250), abs=1e-12
    )
    assert drift.psi([1, 2, 3], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="one length"):
        drift.psi([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        drift.psi([0.5, -0.5], [0.5, 0.5])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jensen_shannon_distance_equals_scipy_natural_log(seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 50, 12).astype(float)
    q = rng.integers(0, 50, 12).astype(float)
    p[3] = 0.0  # a category only one side has
    assert drift.jensen_shannon_distance(p, q) == pytest.approx(distance.jensenshannon(p, q), abs=1e-15)
    # Disjoint supports: the divergence is ln 2, the distance its square root (natural log, as Evidently).
    assert drift.jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(math.sqrt(math.log(2)), abs=1e-12)
    assert drift.jensen_shannon_distance([3, 1, 0], [6, 2, 0]) == pytest.approx(0.0, abs=1e-7)


# --- the profile -----------------------------------------------------------------------------------


def _plain_json_types(value) -> set[str]:
    if isinstance(value, dict):
        assert all(type(k) is str for k in value)
        return {"dict"}.union(*(_plain_json_types(v) for v in value.values()))
    if isinstance(value, list):
        return {"list"}.union(*(_plain_json_types(v) for v in value))
    return {type(value).__name__}


def test_profile_is_small_plain_json(adult):
    train, _, features, _ = adult
    profile = drift.build_reference_profile(train, features)
    text = json.dumps(profile, allow_nan=False)
    assert _plain_json_types(profile) <= {"dict", "list", "str", "float", "int", "NoneType"}
    assert len(text) < 100_000  # ~20 KB on Adult: 1,000 quantiles of fnlwgt and exact counts elsewhere
    assert profile["version"] == 1 and profile["rows"] == len(train) == 32561
    kinds = {f["name"]: f["kind"] for f in profile["features"]}
    assert [f["name"] for f in profile["features"]] == features
    assert {k for k, v in kinds.items() if v == "numeric"} == {
        "age",
        "fnlwgt",
        "education_num",
        "capital_gain",
        "capital_loss",
        "hours_per_week",
    }
    fnlwgt = next(f for f in profile["features"] if f["name"] == "fnlwgt")
    assert fnlwgt["support"] == "quantiles" and len(fnlwgt["values"]) == 1000
    workclass = next(f for f in profile["features"] if f["name"] == "workclass")
    assert workclass["counts"][workclass["categories"].index("__missing__")] == train["workclass"].isna().sum() > 0
    assert sum(workclass["counts"]) == len(train)


def test_zero_heavy_feature_gets_a_zero_bin_and_tail_quantile_bins(adult):
    _, _, _, profile = adult
    gain = next(f for f in profile["features"] if f["name"] == "capital_gain")
    # The first bin is exactly the zeros (91.7% of rows); the non-zero tail still has 9 quantile bins.
    assert gain["bin_edges"][0] == np.nextafter(0.0, 1.0)
    assert gain["bin_counts"][0] == 29849
    assert len(gain["bin_counts"]) == 10 and min(gain["bin_counts"][1:]) > 150


def test_psi_sees_a_shift_in_the_tail_of_a_zero_heavy_feature(adult):
    train, test, _, profile = adult
    shifted = test.copy()
    shifted["capital_gain"] = shifted["capital_gain"] * 3  # zeros stay zeros, the tail triples
    ours = _by_feature(drift.compute_feature_drift(profile, shifted))["capital_gain"]
    assert ours["psi"] > 0.1  # 0.134 measured
    assert _by_feature(drift.compute_feature_drift(profile, test))["capital_gain"]["psi"] < 0.01
    # Plain decile edges collapse to the single edge 0 here, and the same shift scores 0.
    reference = train["capital_gain"].to_numpy(float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, 11)[1:-1]))
    assert edges.tolist() == [0.0]
    counts = [
        np.bincount(np.searchsorted(edges, x, side="right"), minlength=2) for x in (reference, shifted["capital_gain"])
    ]
    assert drift.psi(*counts) == 0.0


def test_max_categories_collapse_into_other(adult):
    train, test, _, _ = adult
    profile = drift.build_reference_profile(train, ["native_country"], max_categories=3)
    entry = profile["features"][0]
    assert entry["categories"] == ["United-States", "Mexico", "Philippines", "__other__", "__missing__"]
    assert sum(entry["counts"]) == len(train) and entry["collapsed_categories"] == 41 - 3
    (result,) = drift.compute_feature_drift(profile, test)
    assert not result["drifted"] and result["p_value"] is not None


def test_profile_rejects_bad_input():
    df = pd.DataFrame({"x": [1.0, 2.0], "y": [np.nan, np.nan]})
    with pytest.raises(KeyError, match="'z'.*columns are \\['x', 'y'\\]"):
        drift.build_reference_profile(df, ["z"])
    with pytest.raises(ValueError, match="'y' has no finite value"):
        drift.build_reference_profile(df, ["y"])
    with pytest.raises(ValueError, match="no rows"):
        drift.build_reference_profile(df.iloc[:0], ["x"])


# --- against scipy on the raw data ---------------------------------------------------------------


def test_wasserstein_and_the_numeric_tests_equal_scipy_on_raw_adult(adult):
    train, test, _, profile = adult
    results = _by_feature(drift.compute_feature_drift(profile, test))
    entries = {f["name"]: f for f in profile["features"]}
    for name in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"):
        x = train[name].to_numpy(float)
        y = test[name].to_numpy(float)
        raw_distance = stats.wasserstein_distance(x, y) / np.std(x)
        ours = results[name]
        tests = _by_test(ours)
        assert ours["distance_statistic"] == "wasserstein_normed" and ours["distance_threshold"] == 0.1
        assert [t["test"] for t in ours["tests"]] == ["missing_share", "zero_share", "mann_whitney"]
        assert all(set(t) - {"share"} == TEST_KEYS for t in ours["tests"])
        # Mann-Whitney on the non-zero values, zero share among the finite ones, missing share of all rows.
        rank_effect, rank_p = _scipy_mann_whitney(y[y != 0], x[x != 0])
        zero_p = _share_p_value(int((y == 0).sum()), len(y), int((x == 0).sum()), len(x))
        assert tests["zero_share"]["effect"] == pytest.approx((y == 0).mean() - (x == 0).mean(), abs=1e-12)
        assert tests["missing_share"]["effect"] == 0.0 and tests["missing_share"]["raw_p_value"] == 1.0
        if entries[name]["support"] == "exact":  # every distinct value stored: the raw column, exactly
            assert ours["distance"] == pytest.approx(raw_distance, rel=1e-9)
            assert tests["mann_whitney"]["effect"] == pytest.approx(rank_effect, rel=1e-9, abs=1e-15)
            assert tests["mann_whitney"]["raw_p_value"] == pytest.approx(rank_p, rel=1e-9)
            assert tests["zero_share"]["raw_p_value"] == pytest.approx(zero_p, rel=1e-9)
        else:  # fnlwgt: 21,648 distinct values, 1,000 stored quantiles
            error = abs(ours["distance"] - raw_distance)
            assert error <= entries[name]["quantization_error"] < 0.002  # 0.00004 and 0.0011 measured
            assert tests["mann_whitney"]["effect"] == pytest.approx(rank_effect, abs=1e-4)  # -0.00157 both
            assert tests["mann_whitney"]["raw_p_value"] == pytest.approx(rank_p, abs=0.01)  # 0.5703 against 0.5710


def test_rank_test_equals_scipy_on_adult_non_zero_values(adult):
    train, test, _, _ = adult
    for name in ("age", "capital_gain"):
        x = train[name].to_numpy(float)
        y = test[name].to_numpy(float)
        x, y = x[x != 0], y[y != 0]  # capital_gain: the 8% non-zero tail, 118 distinct values
        for batch in (y, y[:500], y + 1):
            effect, p_value = drift.rank_test(*_support(batch), *_support(x))
            scipy_effect, scipy_p = _scipy_mann_whitney(batch, x)
            assert effect == pytest.approx(scipy_effect, rel=1e-9, abs=1e-15)
            assert p_value == pytest.approx(scipy_p, rel=1e-9)


def test_quantile_reconstruction_on_continuous_data_with_a_point_mass():
    rng = np.random.default_rng(7)
    n = 20_000
    reference = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(3.0, 1.0, n))
    batch = np.where(rng.random(8000) < 0.3, 0.0, rng.lognormal(3.1, 1.0, 8000))
    profile = drift.build_reference_profile(pd.DataFrame({"x": reference}), ["x"])
    entry = profile["features"][0]
    assert entry["support"] == "quantiles"
    (ours,) = drift.compute_feature_drift(profile, pd.DataFrame({"x": batch}))
    raw = stats.wasserstein_distance(reference, batch) / np.std(reference)
    assert abs(ours["distance"] - raw) <= entry["quantization_error"] < 0.005
    # The tests on the rebuilt reference against scipy on the raw one: Mann-Whitney on the non-zero values
    # (effect 0.0349 against 0.0344, p 2.0e-14 against 5.0e-14 measured: compared as z-scores), the zero
    # share within one quantile step (1 / 1,000) of the raw reference's.
    tests = _by_test(ours)
    rank_effect, rank_p = _scipy_mann_whitney(batch[batch != 0], reference[reference != 0])
    assert tests["mann_whitney"]["effect"] == pytest.approx(rank_effect, abs=1e-3)
    assert stats.norm.isf(tests["mann_whitney"]["raw_p_value"] / 2) == pytest.approx(
        stats.norm.isf(rank_p / 2), rel=0.03
    )
    assert tests["zero_share"]["effect"] == pytest.approx((batch == 0).mean() - (reference == 0).mean(), abs=1e-3)
    assert ours["drifted"] and ours["test"] == "mann_whitney"  # a log-normal shift of 0.1 in 8,000 rows
    assert ours["value"] == abs(tests["mann_whitney"]["effect"]) and ours["statistic"] == "rank_effect"
    # The zeros are a bin of their own among quantile bins of the rest.
    assert entry["bin_edges"][0] == np.nextafter(0.0, 1.0) and len(entry["bin_counts"]) == 11


def test_categorical_tests_equal_scipy(adult):
    train, test, _, profile = adult
    results = _by_feature(drift.compute_feature_drift(profile, test))
    pooled_somewhere = set()
    for name in (
        "workclass",
        "education",
        "marital_status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "native_country",
    ):
        # Same data by hand: missing values as a category for the distance.
        ref_counts = train[name].fillna("__missing__").value_counts()
        observed = test[name].fillna("__missing__").value_counts().reindex(ref_counts.index, fill_value=0)
        assert observed.sum() == len(test)  # no category of the batch is unseen here
        shares = [ref_counts.to_numpy(float), observed.to_numpy(float)]
        ours = results[name]
        tests = _by_test(ours)
        assert ours["distance_statistic"] == "jensen_shannon" and ours["distance_threshold"] == 0.1
        assert ours["distance"] == pytest.approx(distance.jensenshannon(*shares), rel=1e-12)
        assert [t["test"] for t in ours["tests"]] == ["missing_share", "chi_square"]
        # Missing share: the 2x2 table of missing / present rows.
        ref_missing, missing = int(train[name].isna().sum()), int(test[name].isna().sum())
        assert tests["missing_share"]["effect"] == pytest.approx(missing / len(test) - ref_missing / len(train))
        assert tests["missing_share"]["raw_p_value"] == pytest.approx(
            _share_p_value(missing, len(test), ref_missing, len(train)), rel=1e-9
        )
        # Chi-square of homogeneity over the present categories, rare ones pooled.
        present = ref_counts.index != "__missing__"
        batch, reference = _pool_rare(observed[present].tolist(), ref_counts[present].tolist())
        if len(batch) < present.sum():
            pooled_somewhere.add(name)
        table = np.array([batch, reference], dtype=float)
        assert tests["chi_square"]["categories"] == len(batch)
        assert tests["chi_square"]["raw_p_value"] == pytest.approx(
            stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9
        )
        largest = np.abs(table[0] / table[0].sum() - table[1] / table[1].sum()).max()
        assert tests["chi_square"]["effect"] == pytest.approx(largest, rel=1e-9)
    # Never-worked (3 + 7 rows), Armed-Forces (6 + 9) and Holand-Netherlands (0 + 1) are each expected
    # under 5 times in the batch; alone in their pool, they join the smallest remaining category.
    assert pooled_somewhere == {"workclass", "occupation", "native_country"}


def test_few_valued_numeric_feature_is_judged_by_jensen_shannon_as_evidently():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"flag": rng.integers(0, 2, 5000), "level": rng.integers(0, 10, 5000)})
    batch = pd.DataFrame({"flag": (rng.random(3000) < 0.8).astype(int), "level": rng.integers(0, 10, 3000)})
    profile = drift.build_reference_profile(reference, ["flag", "level"])
    flag, level = drift.compute_feature_drift(profile, batch, method="distance")
    assert flag["kind"] == "numeric" and flag["statistic"] == "jensen_shannon" and flag["test"] == "distance"
    shares = [np.bincount(reference["flag"]), np.bincount(batch["flag"])]
    assert flag["value"] == pytest.approx(distance.jensenshannon(*shares), rel=1e-12)
    assert flag["drifted"]  # 50% ones against 80%: JS 0.22
    assert level["statistic"] == "wasserstein_normed" and not level["drifted"]
    # The tests: the 0/1 flag moved in its share of zeros (the non-zero values are all 1: no rank test).
    flag, level = drift.compute_feature_drift(profile, batch)
    assert flag["distance_statistic"] == "jensen_shannon" and flag["distance"] == pytest.approx(
        distance.jensenshannon(*shares), rel=1e-12
    )
    assert flag["drifted"] and flag["test"] == "zero_share" and flag["statistic"] == "share_difference"
    zeros = [int((batch["flag"] == 0).sum()), int((reference["flag"] == 0).sum())]
    assert _by_test(flag)["zero_share"]["effect"] == pytest.approx(zeros[0] / 3000 - zeros[1] / 5000, abs=1e-12)
    assert _by_test(flag)["mann_whitney"]["raw_p_value"] == 1.0
    assert level["distance_statistic"] == "wasserstein_normed" and not level["drifted"]


# --- drift on Adult --------------------------------------------------------------------------------


def test_adult_test_file_does_not_drift_from_adult_data(adult):
    _, test, features, profile = adult
    results = drift.compute_feature_drift(profile, test)
    assert [r["feature"] for r in results] == features
    assert all(set(r) == RESULT_KEYS for r in results)
    assert all(r["reference_rows"] == 32561 and r["batch_rows"] == 16281 for r in results)
    assert all(set(t) - {"categories", "share"} == TEST_KEYS for r in results for t in r["tests"])
    # Same population: no feature drifts; the largest distance measured is native_country's JS, 0.021.
    assert [r["feature"] for r in results if r["drifted"]] == []
    assert max(r["distance"] for r in results) < 0.05
    # Nor is any test significant (every adjusted p-value is 1 here), and every effect is small.
    assert min(t["p_value"] for r in results for t in r["tests"]) > drift.DEFAULT_ALPHA
    assert max(r["value"] for r in results) < 0.02  # the largest category share difference
    assert all(r["alpha"] == drift.DEFAULT_ALPHA and r["threshold"] == drift.MIN_EFFECT[r["test"]] for r in results)
    assert drift.drifted_share(results) == 0.0
    assert not any(r["drifted"] for r in drift.compute_feature_drift(profile, test, method="distance"))
    json.dumps(results, allow_nan=False)


def test_thresholds_decide_and_a_value_at_the_threshold_drifts(adult):
    _, test, _, profile = adult
    by = _by_feature(drift.compute_feature_drift(profile, test))
    age, country = by["age"]["distance"], by["native_country"]["distance"]  # 0.0169 and 0.0212 measured
    lowered = drift.compute_feature_drift(
        profile, test, method="distance", numeric_threshold=age, categorical_threshold=country
    )
    assert {r["feature"] for r in lowered if r["drifted"]} == {"age", "native_country"}  # value >= threshold
    assert {r["threshold"] for r in lowered} == {age, country}
    assert all(r["value"] == r["distance"] and r["test"] == "distance" for r in lowered)
    # The distance method reports the smallest adjusted p-value of the feature's tests.
    assert all(r["p_value"] == min(t["p_value"] for t in r["tests"]) for r in lowered)
    # The distance thresholds do not move the tests' decision.
    assert not any(
        r["drifted"]
        for r in drift.compute_feature_drift(profile, test, numeric_threshold=age, categorical_threshold=country)
    )
    with pytest.raises(ValueError, match="Unknown drift method"):
        drift.compute_feature_drift(profile, test, method="ks")
    with pytest.raises(ValueError, match="alpha"):
        drift.compute_feature_drift(profile, test, alpha=0)
    with pytest.raises(ValueError, match="psi_threshold must be positive"):
        drift.compute_feature_drift(profile, test, psi_threshold=0)


def test_shifted_batch_drifts_on_the_shifted_features_only(adult):
    _, test, _, profile = adult
    shifted = test.copy()
    shifted["age"] = shifted["age"] + 10
    shifted["hours_per_week"] = shifted["hours_per_week"] * 1.3
    shifted["workclass"] = shifted["workclass"].replace({"Private": "Private-sector"})  # unseen: counts as other
    results = drift.compute_feature_drift(profile, shifted)
    by = _by_feature(results)
    assert {r["feature"] for r in results if r["drifted"]} == {"age", "hours_per_week", "workclass"}
    assert by["age"]["distance"] == pytest.approx(10 / profile["features"][0]["std"], rel=0.15)  # 0.747 measured
    assert by["workclass"]["p_value"] == 0.0  # an "other" the reference never had
    assert [by[f]["test"] for f in ("age", "hours_per_week", "workclass")] == [
        "mann_whitney",
        "mann_whitney",
        "chi_square",
    ]
    assert by["workclass"]["value"] > 0.6  # 69% of the rows moved to "other": its share 0.74 higher
    assert all(by[f]["psi"] > 0.2 for f in ("age", "hours_per_week", "workclass"))
    assert drift.drifted_share(results) == pytest.approx(3 / 14)
    by_distance = drift.compute_feature_drift(profile, shifted, method="distance")
    assert {r["feature"] for r in by_distance if r["drifted"]} == {"age", "hours_per_week", "workclass"}


def test_unseen_categories_count_as_other(adult):
    _, test, _, profile = adult
    batch = test.copy()
    batch.loc[batch.index[:50], "native_country"] = "Atlantis"
    batch.loc[batch.index[50:60], "native_country"] = "El Dorado"
    batch["sex"] = batch["sex"].astype("category")  # a categorical dtype compares by its strings
    by = _by_feature(drift.compute_feature_drift(profile, batch))
    # 60 rows of an "other" the reference never had: significant, but a share difference of 60 / 16,281 is
    # far under the chi-square's minimum effect, so the feature does not drift.
    country = _by_test(by["native_country"])["chi_square"]
    assert not by["native_country"]["drifted"] and by["native_country"]["test"] == "chi_square"
    assert country["p_value"] < 1e-10 and not country["drifted"]
    baseline = _by_feature(drift.compute_feature_drift(profile, test))
    assert max(_by_test(baseline["native_country"])["chi_square"]["effect"], country["effect"]) < country["min_effect"]
    assert by["native_country"]["distance"] > baseline["native_country"]["distance"]
    assert by["sex"]["distance"] == pytest.approx(baseline["sex"]["distance"], rel=1e-12)
    assert [(t["effect"], t["raw_p_value"]) for t in by["sex"]["tests"]] == [
        (t["effect"], t["raw_p_value"]) for t in baseline["sex"]["tests"]
    ]


@pytest.fixture(scope="module")
def adult_sample(adult):
    """A seeded sample of 1,000 rows of adult.test, the size of a daily batch."""
    _, test, _, _ = adult
    return test.sample(1000, random_state=0).reset_index(drop=True)


def _private_share_down_ten_points(sample, rng):
    """100 of the batch's Private rows (10 points) moved to the other categories, drawn from their own shares."""
    workclass = sample["workclass"].copy()
    moved = rng.choice(workclass.index[workclass == "Private"], 100, replace=False)
    others = workclass[workclass.notna() & (workclass != "Private")].to_numpy()
    workclass.loc[moved] = rng.choice(others, 100)
    return sample.assign(workclass=workclass)


def _set_some(series, share, value, rng):
    out = series.astype(float)
    out.iloc[rng.choice(len(out), int(share * len(out)), replace=False)] = value
    return out


SHIFTS = {
    "age +2": ("age", "mann_whitney", lambda s, rng: s.assign(age=s["age"] + 2)),
    "Private share down 10 points": ("workclass", "chi_square", _private_share_down_ten_points),
    "capital_gain x3": ("capital_gain", "mann_whitney", lambda s, rng: s.assign(capital_gain=s["capital_gain"] * 3)),
    "5% of hours_per_week missing": (
        "hours_per_week",
        "missing_share",
        lambda s, rng: s.assign(hours_per_week=_set_some(s["hours_per_week"], 0.05, np.nan, rng)),
    ),
    "20% of hours_per_week zero": (
        "hours_per_week",
        "zero_share",
        lambda s, rng: s.assign(hours_per_week=_set_some(s["hours_per_week"], 0.2, 0.0, rng)),
    ),
}


def test_a_daily_sample_of_adult_test_does_not_drift(adult, adult_sample):
    _, _, _, profile = adult
    results = drift.compute_feature_drift(profile, adult_sample)
    assert [r["feature"] for r in results if r["drifted"]] == []
    assert all(r["batch_rows"] == 1000 for r in results)


@pytest.mark.parametrize("shift", SHIFTS)
def test_each_shift_of_a_daily_sample_is_flagged_on_its_feature_by_the_expected_test(adult, adult_sample, shift):
    _, _, _, profile = adult
    feature, test_name, apply = SHIFTS[shift]
    batch = apply(adult_sample, np.random.default_rng(1))
    results = drift.compute_feature_drift(profile, batch)
    assert [r["feature"] for r in results if r["drifted"]] == [feature]
    ours = _by_feature(results)[feature]
    assert ours["test"] == test_name
    deciding = _by_test(ours)[test_name]
    assert deciding["drifted"] and deciding["p_value"] <= drift.DEFAULT_ALPHA
    assert ours["value"] == abs(deciding["effect"]) >= drift.MIN_EFFECT[test_name] == ours["threshold"]
    assert ours["p_value"] == deciding["p_value"] and ours["alpha"] == drift.DEFAULT_ALPHA


def test_the_shifts_put_in_the_effects_they_name(adult, adult_sample):
    _, _, _, profile = adult
    for shift, effect in (("5% of hours_per_week missing", 0.05), ("20% of hours_per_week zero", 0.2)):
        _, test_name, apply = SHIFTS[shift]
        batch = apply(adult_sample, np.random.default_rng(1))
        hours = _by_feature(drift.compute_feature_drift(profile, batch))["hours_per_week"]
        # The reference has no missing hours and no zero hours, so the effect is the share put in.
        assert _by_test(hours)[test_name]["effect"] == pytest.approx(effect, abs=1e-12)
    batch = _private_share_down_ten_points(adult_sample, np.random.default_rng(1))
    before, after = ((b["workclass"] == "Private").mean() for b in (adult_sample, batch))
    assert before - after == pytest.approx(0.1, abs=1e-12)
    assert batch["workclass"].isna().sum() == adult_sample["workclass"].isna().sum()
    workclass = _by_feature(drift.compute_feature_drift(profile, batch))["workclass"]
    assert workclass["value"] >= 0.08  # the top category's 10 points, give or take the sample's own noise


def test_a_large_sample_flags_nothing_because_of_the_minimum_effects(adult):
    _, test, _, profile = adult
    big = test.sample(50_000, replace=True, random_state=0)
    results = drift.compute_feature_drift(profile, big)
    assert [r["feature"] for r in results if r["drifted"]] == []
    # At 50,000 rows some tests are significant; their effects are under the floors. native_country's
    # chi-square: p 6e-9, largest share difference under the minimum of 0.03.
    significant = [(r["feature"], t) for r in results for t in r["tests"] if t["p_value"] <= drift.DEFAULT_ALPHA]
    assert ("native_country", "chi_square") in [(f, t["test"]) for f, t in significant]
    assert all(abs(t["effect"]) < t["min_effect"] for _, t in significant)
    # Without the floors, the same batch would flag them.
    floors_off = {name: 0.0 for name in drift.MIN_EFFECT}
    flagged = {r["feature"] for r in drift.compute_feature_drift(profile, big, min_effect=floors_off) if r["drifted"]}
    assert flagged == {f for f, _ in significant}


def test_a_higher_minimum_effect_keeps_a_significant_shift_from_drifting(adult, adult_sample):
    _, _, _, profile = adult
    feature, _, apply = SHIFTS["age +2"]
    batch = apply(adult_sample, np.random.default_rng(1))
    age = _by_feature(drift.compute_feature_drift(profile, batch, min_effect={"mann_whitney": 0.5}))[feature]
    rank = _by_test(age)["mann_whitney"]
    assert not age["drifted"]
    assert rank["p_value"] <= drift.DEFAULT_ALPHA and rank["min_effect"] == 0.5 > abs(rank["effect"])  # 0.049
    # The other floors keep their defaults.
    assert _by_test(age)["zero_share"]["min_effect"] == drift.MIN_EFFECT["zero_share"]


def test_adjusted_p_values_are_weighted_holm_over_every_test_of_the_batch(adult, adult_sample):
    _, _, _, profile = adult
    results = drift.compute_feature_drift(profile, SHIFTS["age +2"][2](adult_sample, None))
    tests = [t for r in results for t in r["tests"]]
    assert len(tests) == 6 * 3 + 8 * 2
    raw = [t["raw_p_value"] for t in tests]
    weights = [drift.TEST_WEIGHTS[t["test"]] for t in tests]
    order = sorted(range(len(tests)), key=lambda i: raw[i] / weights[i])
    expected, running = [0.0] * len(tests), 0.0
    for position, i in enumerate(order):
        running = max(running, min(1.0, raw[i] / weights[i] * sum(weights[j] for j in order[position:])))
        expected[i] = running
    assert [t["p_value"] for t in tests] == pytest.approx(expected, rel=1e-12)
    assert min(expected) < 1.0  # age's Mann-Whitney: 9.7e-7 measured


def test_missing_feature_and_empty_batch_are_errors(adult):
    _, test, _, profile = adult
    with pytest.raises(KeyError, match="'hours_per_week'.*columns are \\[.*'native_country'"):
        drift.compute_feature_drift(profile, test.drop(columns=["hours_per_week"]))
    with pytest.raises(ValueError, match="no rows"):
        drift.compute_feature_drift(profile, test.iloc[:0])
    with pytest.raises(ValueError, match="no finite value"):
        drift.compute_feature_drift(profile, test.assign(age=np.nan))
    with pytest.raises(ValueError, match="version"):
        drift.compute_feature_drift({**profile, "version": 2}, test)


def test_drifted_share():
    assert drift.drifted_share([]) == 0.0
    assert drift.drifted_share([{"drifted": True}, {"drifted": False}, {"drifted": False}, {"drifted": True}]) == 0.5
