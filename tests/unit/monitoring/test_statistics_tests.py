"""The statistics behind the drift tests, each against scipy (or a formula by hand) on the same data."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr

from airflow_automl_provider.monitoring import statistics as drift

pytestmark = pytest.mark.unit


def _support(x):
    """A sample as sorted distinct values with counts, as the drift functions take it."""
    values, counts = np.unique(np.asarray(x, dtype="float64"), return_counts=True)
    return values, counts.astype("float64")


def _scipy_mann_whitney(batch, reference):
    """scipy's U of the batch turned into the rank effect, and its asymptotic two-sided p-value."""
    result = stats.mannwhitneyu(batch, reference, alternative="two-sided", method="asymptotic", use_continuity=True)
    return result.statistic / (len(batch) * len(reference)) - 0.5, result.pvalue


# --- rank_test (Mann-Whitney) ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_rank_test_equals_scipy_on_integers_with_heavy_ties(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(20, 400, 2)
    reference = rng.integers(0, 8, m).astype(float)
    batch = rng.integers(seed % 3, 8 + seed % 3, n).astype(float)  # shifted by 0, 1 or 2 on some seeds
    assert len(np.unique(np.concatenate([batch, reference]))) <= 10  # every value tied many times
    effect, p_value = drift.rank_test(*_support(batch), *_support(reference))
    scipy_effect, scipy_p = _scipy_mann_whitney(batch, reference)
    assert effect == pytest.approx(scipy_effect, rel=1e-9, abs=1e-15)
    assert p_value == pytest.approx(scipy_p, rel=1e-9)


@pytest.mark.parametrize(("seed", "shift"), [(0, 0.0), (1, 0.1), (2, 0.3), (3, -0.2)])
def test_rank_test_equals_scipy_on_continuous_data(seed, shift):
    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 1.0, 3000)
    batch = rng.normal(shift, 1.0, 700)
    effect, p_value = drift.rank_test(*_support(batch), *_support(reference))
    scipy_effect, scipy_p = _scipy_mann_whitney(batch, reference)
    assert effect == pytest.approx(scipy_effect, rel=1e-9, abs=1e-15)
    assert p_value == pytest.approx(scipy_p, rel=1e-9)
    # The effect is P(batch > reference) - 1/2, about Phi(shift / sqrt(2)) - 1/2 for two unit normals.
    assert effect == pytest.approx(ndtr(shift / math.sqrt(2)) - 0.5, abs=0.025)


def test_rank_test_degenerate_cases():
    one, two = _support([3.0]), _support([1.0, 2.0, 5.0])
    # Fewer than 2 values on a side: no test.
    assert drift.rank_test(*one, *two) == (0.0, 1.0)
    assert drift.rank_test(*two, *one) == (0.0, 1.0)
    assert drift.rank_test(*_support([]), *two) == (0.0, 1.0)
    # Every value the same on both sides: zero variance, no evidence (scipy agrees on the p-value).
    same_b, same_r = np.full(10, 4.0), np.full(25, 4.0)
    assert drift.rank_test(*_support(same_b), *_support(same_r)) == (0.0, 1.0)
    assert _scipy_mann_whitney(same_b, same_r) == (0.0, 1.0)
    # Identical samples: U is exactly n*m/2, the continuity correction keeps z at 0.
    assert drift.rank_test(*_support([1.0, 2.0]), *_support([1.0, 2.0])) == (0.0, 1.0)
    # Disjoint samples: the effect is +-1/2.
    assert drift.rank_test(*_support([5.0, 6.0, 7.0]), *_support([1.0, 2.0]))[0] == 0.5
    assert drift.rank_test(*_support([1.0, 2.0]), *_support([5.0, 6.0, 7.0]))[0] == -0.5


# --- share_test ------------------------------------------------------------------------------------


def _min_expected_at_least(table, bound):
    """Every cell of a 2x2 table expected at least ``bound`` times, in exact integer arithmetic."""
    rows = [sum(r) for r in table]
    columns = [sum(c) for c in zip(*table, strict=True)]
    return min(rows) * min(columns) >= bound * sum(rows)


def _pooled_z_test(hits_b, rows_b, hits_r, rows_r):
    pooled = (hits_b + hits_r) / (rows_b + rows_r)
    se = math.sqrt(pooled * (1 - pooled) * (1 / rows_b + 1 / rows_r))
    return 2 * stats.norm.sf(abs(hits_b / rows_b - hits_r / rows_r) / se)


@pytest.mark.parametrize(
    ("hits_b", "rows_b", "hits_r", "rows_r"),
    [
        (120, 1000, 3300, 32561),  # every cell large
        (30, 200, 2000, 20000),
        (500, 1000, 16000, 32561),
        (0, 1000, 400, 32561),  # no hit in the batch, still every cell expected >= 5
        (60, 500, 60, 500),  # equal shares: p = 1
    ],
)
def test_share_test_is_the_pooled_z_test_and_the_2x2_chi_square(hits_b, rows_b, hits_r, rows_r):
    table = [[hits_b, rows_b - hits_b], [hits_r, rows_r - hits_r]]
    assert _min_expected_at_least(table, drift.MIN_EXPECTED)
    difference, p_value = drift.share_test(hits_b, rows_b, hits_r, rows_r)
    assert difference == pytest.approx(hits_b / rows_b - hits_r / rows_r, abs=1e-15)
    assert p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)
    assert p_value == pytest.approx(_pooled_z_test(hits_b, rows_b, hits_r, rows_r), rel=1e-9)


@pytest.mark.parametrize(
    ("hits_b", "rows_b", "hits_r", "rows_r"),
    [
        (5, 1000, 0, 32561),  # a handful of rows in a share the reference never had
        (50, 1000, 0, 32561),  # 5% missing where the reference had none: expected 1.5 in the batch
        (3, 20, 1, 30),
        (0, 10, 8, 40),
        (9, 10, 30, 40),  # few non-hits
    ],
)
def test_share_test_is_fisher_exact_when_a_cell_is_expected_under_five(hits_b, rows_b, hits_r, rows_r):
    table = [[hits_b, rows_b - hits_b], [hits_r, rows_r - hits_r]]
    assert not _min_expected_at_least(table, drift.MIN_EXPECTED)
    difference, p_value = drift.share_test(hits_b, rows_b, hits_r, rows_r)
    assert difference == pytest.approx(hits_b / rows_b - hits_r / rows_r, abs=1e-15)
    assert p_value == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-9)


def test_share_test_on_every_small_table_follows_the_documented_rule():
    # Every table with 2..32 rows a side in steps of 3 (hits in steps of 3): the z-test where every cell is expected
    # >= MIN_EXPECTED, Fisher's exact test otherwise. The cells expected exactly MIN_EXPECTED times are
    # left to the next test, which names the rounding that sends them to Fisher.
    checked = 0
    for rows_b, rows_r in itertools.product(range(2, 33, 3), repeat=2):
        for hits_b, hits_r in itertools.product(range(0, rows_b + 1, 3), range(0, rows_r + 1, 3)):
            table = [[hits_b, rows_b - hits_b], [hits_r, rows_r - hits_r]]
            at_least = _min_expected_at_least(table, drift.MIN_EXPECTED)
            if at_least and not _min_expected_at_least(table, drift.MIN_EXPECTED + 1e-9):
                continue  # exactly on the boundary
            _, p_value = drift.share_test(hits_b, rows_b, hits_r, rows_r)
            if at_least:
                expected = stats.chi2_contingency(table, correction=False).pvalue
            else:
                expected = stats.fisher_exact(table).pvalue
            assert p_value == pytest.approx(expected, rel=1e-9), table
            checked += 1
    assert checked > 4_000


def test_share_test_uses_the_z_test_when_the_smallest_cell_is_expected_exactly_min_expected():
    # Batch 12 of 14, reference 15 of 28: 27 hits and 15 non-hits in 42 rows, the smallest expected cell
    # is 14 * 15 / 42 = 5 exactly, so by the docstring ("expected at least MIN_EXPECTED times") the
    # z-test applies: p = 0.040424 (the 2x2 chi-square). drift.share_test computes
    # min(pooled, 1 - pooled) * min(rows) in floating point, 1 - 27/42 = 0.357142... times 14 gives
    # 4.999999999999999 < 5, and it returns Fisher's p = 0.049322 instead.
    table = [[12, 2], [15, 13]]
    assert _min_expected_at_least(table, drift.MIN_EXPECTED)
    assert stats.contingency.expected_freq(table).min() == 5.0
    _, p_value = drift.share_test(12, 14, 15, 28)
    assert p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9)


def test_share_test_without_rows_is_no_evidence():
    assert drift.share_test(0, 0, 10, 100) == (0.0, 1.0)
    assert drift.share_test(3, 10, 0, 0) == (0.0, 1.0)
    # No hit on either side: the shares agree, whatever the sizes.
    assert drift.share_test(0, 1000, 0, 32561) == (0.0, 1.0)


# --- category_test (chi-square of homogeneity, rare categories pooled) -------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_category_test_equals_scipy_when_no_category_is_rare(seed):
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet(np.ones(7))
    batch = rng.multinomial(2000, shares)
    reference = rng.multinomial(30000, rng.dirichlet(np.ones(7) * 50) * 0.2 + shares * 0.8)
    expected = (batch + reference) * batch.sum() / (batch.sum() + reference.sum())
    assert expected.min() >= drift.MIN_EXPECTED  # nothing to pool
    effect, p_value, tested = drift.category_test(batch, reference)
    assert tested == 7
    assert p_value == pytest.approx(stats.chi2_contingency([batch, reference], correction=False).pvalue, rel=1e-9)
    largest = max(abs(b / batch.sum() - r / reference.sum()) for b, r in zip(batch, reference, strict=True))
    assert effect == pytest.approx(largest, rel=1e-12)


def test_category_test_pools_the_rare_categories_into_one():
    # 100 rows a side, so a category's expected count in the batch is (batch + reference) / 2:
    # 70, 70, 40, then 3, 3, 2.5 and 1.5, the last four under 5 and pooled: 10 and 10 rows, expected 10.
    batch = np.array([40, 30, 20, 4, 3, 2, 1])
    reference = np.array([30, 40, 20, 2, 3, 3, 2])
    effect, p_value, tested = drift.category_test(batch, reference)
    pooled = [[40, 30, 20, 10], [30, 40, 20, 10]]
    assert tested == 4
    assert p_value == pytest.approx(stats.chi2_contingency(pooled, correction=False).pvalue, rel=1e-9)
    # Total variation between the pooled shares: (|0.4 - 0.3| + |0.3 - 0.4| + 0 + 0) / 2.
    assert effect == pytest.approx(0.1, abs=1e-12)
    # Unpooled, the p-value would differ: the pooling is what was tested.
    unpooled = stats.chi2_contingency([batch, reference], correction=False).pvalue
    assert abs(unpooled - p_value) > 1e-3


def test_category_test_pool_still_rare_joins_the_smallest_remaining_category():
    # Expected in the batch: 35, 35, 26.5, then 2 and 1.5 (rare). The pool (5 + 2 rows) is expected
    # 3.5 < 5 times, so it joins the smallest remaining category, the third (53 rows).
    batch = np.array([40, 30, 25, 3, 2])
    reference = np.array([30, 40, 28, 1, 1])
    effect, p_value, tested = drift.category_test(batch, reference)
    pooled = [[40, 30, 30], [30, 40, 30]]
    assert tested == 3
    assert p_value == pytest.approx(stats.chi2_contingency(pooled, correction=False).pvalue, rel=1e-9)
    assert effect == pytest.approx((0.1 + 0.1 + 0.0) / 2, abs=1e-12)
    # Unequal sizes (batch 1,000, reference 9,000): expected in the batch is a tenth of the total.
    # Totals 5000, 4000, 960, 30 and 10: the last two are expected 3 and 1 times; their pool (40 rows,
    # expected 4) joins the smallest remaining category, the third.
    batch = np.array([520, 380, 90, 8, 2])
    reference = np.array([4480, 3620, 870, 22, 8])
    effect, p_value, tested = drift.category_test(batch, reference)
    pooled = [[520, 380, 100], [4480, 3620, 900]]
    assert tested == 3
    assert p_value == pytest.approx(stats.chi2_contingency(pooled, correction=False).pvalue, rel=1e-9)
    largest = max(abs(0.52 - 4480 / 9000), abs(0.38 - 3620 / 9000), abs(0.1 - 900 / 9000))
    assert effect == pytest.approx(largest, abs=1e-12)


def test_category_test_degenerate_cases():
    # Every category rare: one pool, nothing to compare.
    assert drift.category_test(np.array([1, 2]), np.array([2, 1])) == (0.0, 1.0, 1)
    # A category empty on both sides is dropped, not tested.
    effect, p_value, tested = drift.category_test(np.array([40, 30, 0]), np.array([35, 35, 0]))
    assert tested == 2
    assert p_value == pytest.approx(stats.chi2_contingency([[40, 30], [35, 35]], correction=False).pvalue)
    assert effect == pytest.approx(max(abs(40 / 70 - 0.5), abs(30 / 70 - 0.5)), abs=1e-12)
    # No row on a side.
    assert drift.category_test(np.array([0, 0]), np.array([3, 4])) == (0.0, 1.0, 0)
    assert drift.category_test(np.array([3, 4]), np.array([0, 0])) == (0.0, 1.0, 0)


# --- wasserstein_distance_counts -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_wasserstein_distance_counts_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    if seed % 2:
        a = rng.integers(0, 30, rng.integers(1, 500)).astype(float)  # ties
        b = rng.integers(5, 40, rng.integers(1, 500)).astype(float)
    else:
        a = rng.lognormal(0.0, 1.0, rng.integers(1, 2000))
        b = np.round(rng.lognormal(0.3, 1.2, rng.integers(1, 2000)), 1)
    ours = drift.wasserstein_distance_counts(*_support(a), *_support(b))
    assert ours == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    assert drift.wasserstein_distance_counts(*_support(b), *_support(a)) == pytest.approx(ours, rel=1e-12)


def test_wasserstein_distance_counts_small_cases():
    # One shared value: 0. A point mass moved by 3: 3. Half the mass moved by 2: 1.
    assert drift.wasserstein_distance_counts(*_support([2.0, 2.0]), *_support([2.0])) == 0.0
    assert drift.wasserstein_distance_counts(*_support([1.0]), *_support([4.0])) == pytest.approx(3.0)
    assert drift.wasserstein_distance_counts(*_support([0.0, 0.0]), *_support([0.0, 2.0])) == pytest.approx(1.0)
    assert stats.wasserstein_distance([0.0, 0.0], [0.0, 2.0]) == pytest.approx(1.0)


# --- weighted Holm --------------------------------------------------------------------------------


def _weighted_holm_by_hand(p_values, weights):
    """Holm (1979), weighted: adjusted p_(k) = max over j <= k of min(1, p_(j) / w_(j) * sum_{i >= j} w_(i))."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i] / weights[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for position, i in enumerate(order):
        rest = sum(weights[j] for j in order[position:])
        running = max(running, min(1.0, p_values[i] / weights[i] * rest))
        adjusted[i] = running
    return adjusted


def _weighted_holm_rejects(p_values, weights, alpha):
    """The step-down procedure itself: reject in order of p / w while p / w <= alpha / (weight left)."""
    left = set(range(len(p_values)))
    rejected = set()
    for i in sorted(left, key=lambda i: p_values[i] / weights[i]):
        if p_values[i] / weights[i] > alpha / sum(weights[j] for j in left):
            break
        rejected.add(i)
        left.remove(i)
    return rejected


def _tests(names, p_values, effects=None):
    effects = effects or [0.5] * len(names)
    return [{"test": n, "raw_p_value": p, "effect": e} for n, p, e in zip(names, p_values, effects, strict=True)]


def test_weighted_holm_on_a_hand_made_example():
    names = ["mann_whitney", "chi_square", "missing_share", "zero_share"]
    weights = [drift.TEST_WEIGHTS[n] for n in names]
    assert weights == [3.0, 1.0, 0.25, 0.25]
    p_values = [0.001, 0.004, 0.002, 0.03]
    tests = _tests(names, p_values, effects=[0.05, 0.01, -0.05, 0.5])
    drift._holm(tests, 0.02, drift.MIN_EFFECT)
    # p / w: 0.000333, 0.004, 0.008, 0.12, so the order is as listed; the weight still in play is 4.5,
    # 1.5, 0.5, 0.25: 0.001 / 3 * 4.5 = 0.0015; 0.004 / 1 * 1.5 = 0.006; 0.002 / 0.25 * 0.5 = 0.004,
    # raised to 0.006 (monotone); 0.03 / 0.25 * 0.25 = 0.03.
    adjusted = [t["p_value"] for t in tests]
    assert adjusted == pytest.approx([0.0015, 0.006, 0.006, 0.03], rel=1e-12)
    assert adjusted == pytest.approx(_weighted_holm_by_hand(p_values, weights), rel=1e-12)
    # Plain Holm would give the missing share 3 * 0.002 = 0.006 and the chi-square 2 * 0.004 = 0.008.
    # Drifted: p <= alpha and |effect| >= the test's minimum effect.
    assert [t["min_effect"] for t in tests] == [0.02, 0.03, 0.02, 0.02]
    assert [t["drifted"] for t in tests] == [True, False, True, False]
    # The adjusted p-value is the smallest alpha at which the step-down procedure rejects the test.
    for alpha in (0.001, 0.0014, 0.0016, 0.005, 0.0059, 0.0061, 0.01, 0.029, 0.031):
        rejected = _weighted_holm_rejects(p_values, weights, alpha)
        assert rejected == {i for i, p in enumerate(adjusted) if p <= alpha}, alpha


def test_weighted_holm_with_equal_weights_is_plain_holm():
    p_values = [0.01, 0.04, 0.03, 0.005, 0.2, 0.012]
    tests = _tests(["chi_square"] * 6, p_values)  # one test kind: equal weights
    drift._holm(tests, 0.05, drift.MIN_EFFECT)
    # Plain Holm by hand. Sorted: 0.005, 0.01, 0.012, 0.03, 0.04, 0.2, times 6, 5, 4, 3, 2, 1:
    # 0.03, 0.05, 0.048 -> 0.05, 0.09, 0.08 -> 0.09, 0.2.
    assert [t["p_value"] for t in tests] == pytest.approx([0.05, 0.09, 0.09, 0.03, 0.2, 0.05], rel=1e-12)
    try:
        from statsmodels.stats.multitest import multipletests
    except ImportError:
        return
    assert [t["p_value"] for t in tests] == pytest.approx(multipletests(p_values, method="holm")[1], rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_weighted_holm_equals_the_re_implementation_on_random_p_values(seed):
    rng = np.random.default_rng(seed)
    names = [str(n) for n in rng.choice(sorted(drift.TEST_WEIGHTS), 30)]
    p_values = [float(p) for p in np.where(rng.random(30) < 0.3, rng.random(30) * 1e-4, rng.random(30))]
    tests = _tests(names, p_values)
    drift._holm(tests, 0.02, drift.MIN_EFFECT)
    weights = [drift.TEST_WEIGHTS[n] for n in names]
    assert [t["p_value"] for t in tests] == pytest.approx(_weighted_holm_by_hand(p_values, weights), rel=1e-12)
    assert all(t["p_value"] >= t["raw_p_value"] for t in tests)


def test_category_test_pools_by_the_smaller_sample():
    """A category rare in the smaller sample (here the reference) is pooled, whichever side that is."""
    batch = np.array([500.0, 450.0, 50.0])
    # The third: expected 48 times in the batch, but 3.9 times in the 80-row reference.
    reference = np.array([40.0, 38.0, 2.0])
    effect, p_value, tested = drift.category_test(batch, reference)
    assert tested == 2  # the rare third joined the smallest remaining category (the second)
    pooled_b, pooled_r = np.array([500.0, 500.0]), np.array([40.0, 40.0])
    assert p_value == pytest.approx(stats.chi2_contingency(np.vstack([pooled_b, pooled_r]), correction=False).pvalue)
    assert effect == pytest.approx(0.0)


def test_unknown_test_names_in_min_effect_are_refused():
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    profile = drift.build_reference_profile(frame, ["x"])
    with pytest.raises(ValueError, match=r"Unknown test\(s\) \['man_whitney'\] in min_effect"):
        drift.compute_feature_drift(profile, frame, min_effect={"man_whitney": 0.1})


def test_a_shift_of_a_rare_columns_non_zero_values_must_move_enough_of_the_column():
    """Non-zero values 3% of the rows, shifted by a rank effect over 0.02: significant at 50,000 rows, yet
    effect x share under MIN_RANK_MASS, so not drifted; the same shift on every row drifts."""
    import pandas as pd

    rng = np.random.default_rng(3)

    def column(n, shift):
        values = np.where(rng.random(n) < 0.03, rng.lognormal(7 + shift, 1.0, n), 0.0)
        return pd.DataFrame({"x": values})

    profile = drift.build_reference_profile(column(40_000, 0.0), ["x"])
    (result,) = drift.compute_feature_drift(profile, column(50_000, 0.15))
    rank = {t["test"]: t for t in result["tests"]}["mann_whitney"]
    assert rank["p_value"] <= drift.DEFAULT_ALPHA and abs(rank["effect"]) >= drift.MIN_EFFECT["mann_whitney"]
    assert abs(rank["effect"]) * rank["share"] < drift.MIN_RANK_MASS and not result["drifted"]
    dense = drift.build_reference_profile(pd.DataFrame({"x": rng.lognormal(7, 1.0, 40_000)}), ["x"])
    (moved,) = drift.compute_feature_drift(dense, pd.DataFrame({"x": rng.lognormal(7.15, 1.0, 50_000)}))
    assert moved["drifted"] and moved["test"] == "mann_whitney"
