"""DeLong's and Hanley & McNeil's AUROC variances against direct computation, scikit-learn and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from airflow_automl_provider.evaluation import delong as drift

pytestmark = pytest.mark.unit


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


# --- hanley_mcneil_variance ------------------------------------------------------------------------


def test_hanley_mcneil_variance_by_hand():
    # AUC 0.8 on 30 positives and 50 negatives: Q1 = 0.8 / 1.2 = 2/3, Q2 = 2 * 0.64 / 1.8 = 32/45;
    # (0.16 + 29 * (2/3 - 0.64) + 49 * (32/45 - 0.64)) / 1500 = (0.16 + 0.773333 + 3.484444) / 1500.
    expected = (0.16 + 29 * (2 / 3 - 0.64) + 49 * (32 / 45 - 0.64)) / 1500
    assert expected == pytest.approx(0.0029451852, abs=1e-10)
    assert drift.hanley_mcneil_variance(0.8, 30, 50) == pytest.approx(expected, rel=1e-12)
    # At AUC 1/2, Q1 = Q2 = 1/3: the variance is Mann-Whitney's null variance of U / (n m), (n + m + 1) / (12 n m).
    assert drift.hanley_mcneil_variance(0.5, 30, 50) == pytest.approx(81 / (12 * 30 * 50), rel=1e-12)
    # Perfect separation: no variance.
    assert drift.hanley_mcneil_variance(1.0, 30, 50) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="both classes"):
        drift.hanley_mcneil_variance(0.8, 0, 50)


@pytest.mark.parametrize(("seed", "separation"), [(0, 0.5), (1, 1.0), (2, 1.5)])
def test_hanley_mcneil_variance_is_close_to_delong_on_binormal_data(seed, separation):
    rng = np.random.default_rng(seed)
    y = (rng.random(2000) < 0.3).astype(int)
    scores = rng.normal(separation * y, 1.0)
    auc, delong = drift.delong_auc_variance(y, scores)
    hanley = drift.hanley_mcneil_variance(auc, int(y.sum()), int((1 - y).sum()))
    # Hanley-McNeil assumes exponential score distributions; on a binormal model it is off by at most
    # a factor of about 1.3 here (1.01, 1.21 and 1.29 measured).
    assert 1 / 1.5 < hanley / delong < 1.5
