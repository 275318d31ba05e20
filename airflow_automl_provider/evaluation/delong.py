"""
The variance of an AUROC: DeLong's (from the scores, with Sun & Xu's fast algorithm) and Hanley &
McNeil's (from the AUROC and the class counts alone), and the confidence interval they give.

The drift monitor compares a day's AUROC with its baseline through these variances.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def _split_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """The positives' and the negatives' scores, after checking the labels and that both classes have two."""
    import numpy as np

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype="float64")
    if y.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"y_true and scores must be 1-D and of one length, not {y.shape} and {s.shape}")
    if np.isnan(s).any():
        raise ValueError("scores hold NaN")
    if y.dtype != bool:
        labels = set(np.unique(y).tolist())
        if not labels <= {0, 1}:
            raise ValueError(f"y_true must be 0/1 or boolean, got the labels {sorted(labels, key=str)}")
        y = y == 1
    positives, negatives = s[y], s[~y]
    if len(positives) < 2 or len(negatives) < 2:
        raise ValueError("DeLong's variance needs at least two positives and two negatives")
    return positives, negatives


def delong_components(y_true: Any, scores: Any) -> tuple[float, float, float, int, int]:
    """
    ROC AUC and DeLong's structural components, with the fast algorithm of Sun & Xu (2014).

    Mid-ranks replace the ``n_pos * n_neg`` comparisons: a positive's structural component (the
    share of negatives it outscores, ties counting one half) is its mid-rank among all scores less
    its mid-rank among the positives, over ``n_neg``; likewise for negatives. O(n log n). The AUC's
    variance on ``p`` positives and ``q`` negatives of the same population is
    ``s10 / p + s01 / q``.

    :param y_true: 0/1 or boolean labels, 1/True the positive class.
    :param scores: scores, higher meaning more likely positive.
    :return: ``(auc, s10, s01, positives, negatives)``, ``s10`` and ``s01`` the sample variances of
        the positives' and the negatives' components.
    """
    import numpy as np
    from scipy.stats import rankdata

    positives, negatives = _split_scores(y_true, scores)
    m, n = len(positives), len(negatives)
    rank_all = rankdata(np.concatenate([positives, negatives]))  # mid-ranks: ties get their average
    rank_pos = rankdata(positives)
    rank_neg = rankdata(negatives)
    auc = (rank_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (rank_all[:m] - rank_pos) / n  # per positive: share of negatives below it
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m  # per negative: share of positives above it
    return float(auc), float(v10.var(ddof=1)), float(v01.var(ddof=1)), m, n


def delong_auc_variance(y_true: Any, scores: Any) -> tuple[float, float]:
    """
    ROC AUC and its variance by DeLong's method (see :func:`delong_components`).

    :param y_true: 0/1 or boolean labels, 1/True the positive class.
    :param scores: scores, higher meaning more likely positive.
    :return: ``(auc, variance)``.
    """
    auc, s10, s01, m, n = delong_components(y_true, scores)
    return auc, s10 / m + s01 / n


def hanley_mcneil_variance(auc: float, positives: int, negatives: int) -> float:
    """
    Variance of an AUROC from its value and class counts alone (Hanley & McNeil, 1982).

    For a baseline recorded as a number with its row counts, where the scores are no longer at hand.

    :param auc: the AUROC.
    :param positives: rows of the positive class it was measured on.
    :param negatives: rows of the negative class.
    """
    if positives < 1 or negatives < 1:
        raise ValueError(f"Hanley-McNeil's variance needs both classes, not {positives} and {negatives} rows")
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    a2 = auc * auc
    return float(
        (auc * (1 - auc) + (positives - 1) * (q1 - a2) + (negatives - 1) * (q2 - a2)) / (positives * negatives)
    )


def auc_confidence_interval(y_true: Any, scores: Any, alpha: float = 0.05) -> tuple[float, float, float]:
    """
    ROC AUC with a two-sided ``1 - alpha`` confidence interval from DeLong's variance.

    Normal approximation ``auc +- z * sqrt(variance)``, clipped to ``[0, 1]``.

    :param y_true: 0/1 or boolean labels, 1/True the positive class.
    :param scores: scores, higher meaning more likely positive.
    :param alpha: one minus the confidence level (0.05 for 95%).
    :return: ``(auc, low, high)``.
    """
    auc, variance = delong_auc_variance(y_true, scores)
    return (auc, *interval_from_variance(auc, variance, alpha))


def interval_from_variance(auc: float, variance: float, alpha: float = 0.05) -> tuple[float, float]:
    """
    The two-sided ``1 - alpha`` normal interval ``auc +- z * sqrt(variance)``, clipped to ``[0, 1]``.

    :return: ``(low, high)``.
    """
    from scipy.stats import norm

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    half = float(norm.ppf(1 - alpha / 2)) * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)
