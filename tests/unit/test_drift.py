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
from sklearn.metrics import roc_auc_score

from airflow_automl_provider import drift
from airflow_automl_provider.demo import load_uci_adult

pytestmark = pytest.mark.unit

ADULT = Path(os.environ.get("AUTOML_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared")) / "datasets" / "adult"
RESULT_KEYS = {
    "feature",
    "kind",
    "statistic",
    "value",
    "threshold",
    "drifted",
    "psi",
    "p_value",
    "test",
    "reference_rows",
    "batch_rows",
}


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


def test_wasserstein_and_ks_equal_scipy_on_raw_adult(adult):
    train, test, _, profile = adult
    results = _by_feature(drift.compute_feature_drift(profile, test))
    entries = {f["name"]: f for f in profile["features"]}
    for name in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"):
        x = train[name].to_numpy(float)
        y = test[name].to_numpy(float)
        raw_distance = stats.wasserstein_distance(x, y) / np.std(x)
        raw_p = stats.ks_2samp(x, y).pvalue
        ours = results[name]
        assert ours["statistic"] == "wasserstein_normed" and ours["test"] == "ks"
        if entries[name]["support"] == "exact":  # every distinct value stored: the raw column, exactly
            assert ours["value"] == pytest.approx(raw_distance, rel=1e-9)
            assert ours["p_value"] == pytest.approx(raw_p, rel=1e-9)
        else:  # fnlwgt: 21,648 distinct values, 1,000 stored quantiles
            error = abs(ours["value"] - raw_distance)
            assert error <= entries[name]["quantization_error"] < 0.002  # 0.00004 and 0.0011 measured
            assert ours["p_value"] == pytest.approx(raw_p, abs=0.05)  # 0.586 against 0.565 measured


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
    assert abs(ours["value"] - raw) <= entry["quantization_error"] < 0.005
    assert ours["p_value"] == pytest.approx(stats.ks_2samp(reference, batch).pvalue, abs=1e-3)
    # The zeros are a bin of their own among quantile bins of the rest.
    assert entry["bin_edges"][0] == np.nextafter(0.0, 1.0) and len(entry["bin_counts"]) == 11


def test_chi_square_p_values_equal_scipy(adult):
    train, test, _, profile = adult
    results = _by_feature(drift.compute_feature_drift(profile, test))
    for name in ("workclass", "education", "marital_status", "occupation", "relationship", "race", "sex"):
        # Same data by hand: missing values as a category, expected = reference shares * batch rows.
        ref_counts = train[name].fillna("__missing__").value_counts()
        observed = test[name].fillna("__missing__").value_counts().reindex(ref_counts.index, fill_value=0)
        assert observed.sum() == len(test)  # no category of the batch is unseen here
        expected = ref_counts / ref_counts.sum() * len(test)
        assert results[name]["test"] == "chi2"
        assert results[name]["p_value"] == pytest.approx(stats.chisquare(observed, expected).pvalue, rel=1e-9)
        shares = [ref_counts.to_numpy(float), observed.to_numpy(float)]
        assert results[name]["value"] == pytest.approx(distance.jensenshannon(*shares), rel=1e-12)


def test_few_valued_numeric_feature_is_judged_by_jensen_shannon_as_evidently():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"flag": rng.integers(0, 2, 5000), "level": rng.integers(0, 10, 5000)})
    batch = pd.DataFrame({"flag": (rng.random(3000) < 0.8).astype(int), "level": rng.integers(0, 10, 3000)})
    profile = drift.build_reference_profile(reference, ["flag", "level"])
    flag, level = drift.compute_feature_drift(profile, batch)
    assert flag["kind"] == "numeric" and flag["statistic"] == "jensen_shannon" and flag["test"] == "ks"
    shares = [np.bincount(reference["flag"]), np.bincount(batch["flag"])]
    assert flag["value"] == pytest.approx(distance.jensenshannon(*shares), rel=1e-12)
    assert flag["drifted"]  # 50% ones against 80%: JS 0.22
    assert level["statistic"] == "wasserstein_normed" and not level["drifted"]


# --- drift on Adult --------------------------------------------------------------------------------


def test_adult_test_file_does_not_drift_from_adult_data(adult):
    _, test, features, profile = adult
    results = drift.compute_feature_drift(profile, test)
    assert [r["feature"] for r in results] == features
    assert all(set(r) == RESULT_KEYS for r in results)
    assert all(r["reference_rows"] == 32561 and r["batch_rows"] == 16281 for r in results)
    # Same population: no feature drifts; the largest distance measured is native_country's JS, 0.021.
    assert [r["feature"] for r in results if r["drifted"]] == []
    assert max(r["value"] for r in results) < 0.05
    assert drift.drifted_share(results) == 0.0
    json.dumps(results, allow_nan=False)


def test_thresholds_decide_and_a_value_at_the_threshold_drifts(adult):
    _, test, _, profile = adult
    by = _by_feature(drift.compute_feature_drift(profile, test))
    age, country = by["age"]["value"], by["native_country"]["value"]  # 0.0169 and 0.0212 measured
    lowered = drift.compute_feature_drift(profile, test, numeric_threshold=age, categorical_threshold=country)
    assert {r["feature"] for r in lowered if r["drifted"]} == {"age", "native_country"}  # value >= threshold
    assert {r["threshold"] for r in lowered} == {age, country}
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
    assert by["age"]["value"] == pytest.approx(10 / profile["features"][0]["std"], rel=0.15)  # 0.747 measured
    assert by["workclass"]["p_value"] == 0.0  # an "other" the reference never had
    assert all(by[f]["psi"] > 0.2 for f in ("age", "hours_per_week", "workclass"))
    assert drift.drifted_share(results) == pytest.approx(3 / 14)


def test_unseen_categories_count_as_other(adult):
    _, test, _, profile = adult
    batch = test.copy()
    batch.loc[batch.index[:50], "native_country"] = "Atlantis"
    batch.loc[batch.index[50:60], "native_country"] = "El Dorado"
    batch["sex"] = batch["sex"].astype("category")  # a categorical dtype compares by its strings
    by = _by_feature(drift.compute_feature_drift(profile, batch))
    assert not by["native_country"]["drifted"] and by["native_country"]["p_value"] == 0.0
    baseline = _by_feature(drift.compute_feature_drift(profile, test))
    assert by["native_country"]["value"] > baseline["native_country"]["value"]
    assert by["sex"]["value"] == pytest.approx(baseline["sex"]["value"], rel=1e-12)


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


# --- consecutive_below -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], 0),
        ([0.9, 0.85], 0),
        ([0.9, 0.7, 0.6], 2),
        ([0.7, 0.6], 2),
        ([0.7, 0.9, 0.6], 1),
        ([0.7, None, 0.6, 0.5], 2),  # no measure that day breaks the run
        ([0.7, 0.6, None], 0),
        ([0.6, 0.8], 0),  # equal to the threshold is not below
        ([0.6, float("nan"), 0.5], 1),
    ],
)
def test_consecutive_below(history, expected):
    assert drift.consecutive_below(history, 0.8) == expected


# --- DeLong ----------------------------------------------------------------------------------------


def _delong_direct(y, s):
    """DeLong's structural components by all n_pos * n_neg comparisons (ties count one half)."""
    pos, neg = s[y == 1], s[y == 0]
    psi_matrix = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10 = psi_matrix.mean(axis=1)
    v01 = psi_matrix.mean(axis=0)
    auc = psi_matrix.mean()
    s10 = ((v10 - auc) ** 2).sum() / (len(pos) - 1)
    s01 = ((v01 - auc) ** 2).sum() / (len(neg) - 1)
    return auc, s10 / len(pos) + s01 / len(neg)


@pytest.mark.parametrize(("seed", "n", "decimals"), [(0, 40, 1), (1, 200, 1), (2, 300, 2), (3, 500, 6)])
def test_fast_delong_equals_direct_computation_with_ties(seed, n, decimals):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.round(rng.normal(0.3 * y, 0.5), decimals)  # few decimals: many ties, within and across classes
    assert len(np.unique(s)) < n or decimals == 6
    auc, variance = drift.delong_auc_variance(y, s)
    direct_auc, direct_variance = _delong_direct(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc == pytest.approx(direct_auc, abs=1e-12)
    assert variance == pytest.approx(direct_variance, rel=1e-9)
    assert drift.delong_auc_variance(y.astype(bool), s) == (auc, variance)


def test_auc_confidence_interval_normal_approximation_clipped():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    s = rng.normal(0.8 * y, 1.0)
    auc, variance = drift.delong_auc_variance(y, s)
    got = drift.auc_confidence_interval(y, s)
    half = 1.959963984540054 * math.sqrt(variance)
    assert got == pytest.approx((auc, auc - half, auc + half), abs=1e-12)
    narrower = drift.auc_confidence_interval(y, s, alpha=0.2)
    assert got[1] < narrower[1] < auc < narrower[2] < got[2]
    # Nearly separated classes: the upper bound would pass 1 and is clipped.
    y2 = np.array([0] * 20 + [1] * 20)
    s2 = np.concatenate([np.arange(20), np.arange(19, 39)]).astype(float)
    auc2, low2, high2 = drift.auc_confidence_interval(y2, s2)
    assert auc2 == pytest.approx(roc_auc_score(y2, s2)) and auc2 < 1.0
    assert high2 == 1.0 and 0.0 < low2 < auc2
    with pytest.raises(ValueError, match="0/1 or boolean"):
        drift.delong_auc_variance(np.array([0, 1, 2, 1]), np.array([0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ValueError, match="two positives and two negatives"):
        drift.delong_auc_variance(np.array([0, 1, 0]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="alpha"):
        drift.auc_confidence_interval(y, s, alpha=1.5)
