"""
Data drift between a model's training data and a fresh batch, from a compact reference profile.

At training time :func:`build_reference_profile` summarises the training table into a small,
plain-JSON profile stored with the model; each day :func:`compute_feature_drift` compares a batch
(a pandas DataFrame) against that profile, so the training table is never read again.

The decision rule follows Evidently's defaults for references of more than 1,000 rows:

* numeric feature: Wasserstein-1 distance divided by the reference standard deviation
  (``max(std, 0.001)``, population std), drift when it is >= 0.1. As in Evidently, a numeric
  feature with at most 5 distinct values (reference and batch together) is judged by the
  Jensen-Shannon distance of its value shares instead;
* categorical feature: Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``, natural
  log, no smoothing, as Evidently's ``jensenshannon`` stat test) between category shares, drift
  when it is >= 0.1.

Missing and infinite numeric values are left out of the numeric statistics, as Evidently does.
Missing categorical values count as their own category ``"__missing__"`` (Evidently drops them),
so a change in the missing rate of a categorical feature shows in its distance.

How the reference is kept for numeric features: when the feature has at most ``quantiles``
distinct values, the profile stores every distinct value with its count, so the reference is
rebuilt exactly (Wasserstein and Kolmogorov-Smirnov equal scipy's on the raw rows). Otherwise it
stores ``quantiles`` quantiles at the mid-points ``(i + 0.5) / quantiles`` plus the min and max;
the reference is rebuilt as a pseudo-sample of its own row count from the quantile function
interpolated linearly between them, and both the Wasserstein distance and the two-sample
Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) run on that pseudo-sample. The profile records,
per feature, the normed Wasserstein distance between the raw reference and its reconstruction
(``quantization_error``), which bounds the error of every reported distance (triangle inequality);
on Adult's ``fnlwgt`` it is 0.0011 with 1,000 quantiles, against a drift threshold of 0.1.

Population stability index bins: quantile bins over the values that are not heavy point masses,
plus one bin of its own for each value that holds at least ``1 / bins`` of the rows (such as the
zeros of ``capital_gain``), so the tail of a zero-heavy feature still gets quantile bins.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd

PROFILE_VERSION = 1
MISSING = "__missing__"
OTHER = "__other__"
# Evidently's floor for the reference standard deviation in the normed Wasserstein distance.
MIN_NORM = 0.001
# Evidently judges a numeric feature with this many distinct values or fewer as categorical.
MAX_NUMERIC_VALUES_AS_CATEGORIES = 5


def _is_numeric(series: pd.Series) -> bool:
    from pandas.api import types

    return types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype)


def _finite_values(series: pd.Series, feature: str) -> np.ndarray:
    """The finite values of a numeric column as float64 (NaN and +-inf dropped, as Evidently does)."""
    import numpy as np
    import pandas as pd

    if not _is_numeric(series):
        try:
            series = pd.to_numeric(series, errors="raise")
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"Feature {feature!r} is numeric in the reference profile, but the batch holds {err}"
            ) from err
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def _category_counts(series: pd.Series) -> dict[str, int]:
    """Counts of a column's values compared as strings, missing values as ``__missing__``."""
    missing = int(series.isna().sum())
    # value_counts on the original values, then strings: cheaper than stringifying every row.
    counts: dict[str, int] = {}
    for value, count in series.value_counts(dropna=True).items():
        if count:  # a categorical dtype lists its unused categories with count 0
            key = str(value)
            counts[key] = counts.get(key, 0) + int(count)
    if missing:
        counts[MISSING] = counts.get(MISSING, 0) + missing
    return counts


def _psi_bins(values: np.ndarray, bins: int) -> list[float]:
    """
    Interior bin edges for the population stability index; bin ``i`` is ``[edges[i-1], edges[i])``.

    A value holding at least ``1 / bins`` of the rows gets a bin of its own, ``[v, nextafter(v))``;
    the other values get ``bins`` quantile bins. Plain quantile edges collapse on a feature that is
    90% zeros and leave its tail in one bin, which hides a shift of the tail.
    """
    import numpy as np

    distinct, counts = np.unique(values, return_counts=True)
    heavy = distinct[counts >= len(values) / bins]
    rest = values[~np.isin(values, heavy)]
    edges: set[float] = set()
    if rest.size:
        # inverted_cdf keeps the edges on observed values (no interpolation noise in the profile).
        probabilities = np.linspace(0.0, 1.0, bins + 1)[1:-1]
        edges.update(float(e) for e in np.quantile(rest, probabilities, method="inverted_cdf"))
    for v in heavy:
        edges.add(float(v))
        edges.add(float(np.nextafter(v, np.inf)))
    ordered = np.array(sorted(edges), dtype="float64")
    # Merge bins that hold no reference row: an empty reference bin only measures the eps floor.
    counts_per_bin = np.bincount(np.searchsorted(ordered, values, side="right"), minlength=len(ordered) + 1)
    kept: list[float] = []
    pending = 0
    for i, edge in enumerate(ordered):
        pending += int(counts_per_bin[i])
        if pending:
            kept.append(float(edge))
            pending = 0
    if kept and pending + int(counts_per_bin[-1]) == 0:
        kept.pop()
    return kept


def _bin_counts(values: np.ndarray, edges: Sequence[float]) -> list[int]:
    import numpy as np

    idx = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="right")
    return [int(c) for c in np.bincount(idx, minlength=len(edges) + 1)]


def _numeric_profile(values: np.ndarray, rows: int, bins: int, quantiles: int) -> dict[str, Any]:
    import numpy as np
    from scipy import stats

    std = float(np.std(values))  # population std, as Evidently's np.std(reference)
    distinct, counts = np.unique(values, return_counts=True)
    profile: dict[str, Any] = {
        "kind": "numeric",
        "count": len(values),
        "missing": rows - len(values),
        "mean": float(np.mean(values)),
        "std": std,
        "min": float(values.min()),
        "max": float(values.max()),
    }
    if len(distinct) <= quantiles:
        profile.update(support="exact", values=[float(v) for v in distinct], counts=[int(c) for c in counts])
        profile["quantization_error"] = 0.0
    else:
        atoms = np.quantile(values, (np.arange(quantiles) + 0.5) / quantiles, method="inverted_cdf")
        profile.update(support="quantiles", values=[float(v) for v in atoms])
        # Bounds the error of every Wasserstein distance computed from this profile (triangle inequality).
        error = stats.wasserstein_distance(values, _reference_sample(profile)) / max(std, MIN_NORM)
        profile["quantization_error"] = float(error)
    edges = _psi_bins(values, bins)
    profile.update(bin_edges=edges, bin_counts=_bin_counts(values, edges))
    return profile


def _categorical_profile(series: pd.Series, rows: int, max_categories: int) -> dict[str, Any]:
    counts = _category_counts(series)
    missing = counts.pop(MISSING, 0)
    # Most frequent first; ties by name so that the same data always gives the same profile.
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = ranked[:max_categories]
    other = sum(c for _, c in ranked[max_categories:])
    categories = [k for k, _ in kept] + [OTHER, MISSING]
    return {
        "kind": "categorical",
        "count": rows,
        "missing": missing,
        "categories": categories,
        "counts": [c for _, c in kept] + [other, missing],
        "collapsed_categories": len(ranked) - len(kept),
    }


def build_reference_profile(
    df: pd.DataFrame,
    features: list[str],
    *,
    bins: int = 10,
    quantiles: int = 1000,
    max_categories: int = 100,
) -> dict:
    """
    Summarise the training data into a small, JSON-serialisable reference profile.

    :param df: the training table.
    :param features: the feature columns to profile, in the order the drift results will follow.
    :param bins: quantile bins for the population stability index of numeric features (heavy
        point masses get a bin of their own on top).
    :param quantiles: a numeric feature with at most this many distinct values is stored exactly
        (value and count); a feature with more is stored as this many mid-point quantiles.
    :param max_categories: categories kept per categorical feature, the most frequent; the others
        are counted together as ``"__other__"``.
    :return: ``{"version": 1, "rows": ..., "features": [{"name": ..., "kind": ..., ...}, ...]}``.
    """
    if bins < 1 or quantiles < 2 or max_categories < 1:
        raise ValueError("bins must be >= 1, quantiles >= 2 and max_categories >= 1")
    _check_columns(df, features)
    rows = len(df)
    if rows == 0:
        raise ValueError("The reference data has no rows")
    profiled = []
    for name in features:
        column = df[name]
        if _is_numeric(column):
            values = _finite_values(column, name)
            if values.size == 0:
                raise ValueError(f"Numeric feature {name!r} has no finite value in the reference data")
            entry = _numeric_profile(values, rows, bins, quantiles)
        else:
            entry = _categorical_profile(column, rows, max_categories)
        profiled.append({"name": name, **entry})
    return {
        "version": PROFILE_VERSION,
        "rows": rows,
        "bins": bins,
        "quantiles": quantiles,
        "max_categories": max_categories,
        "features": profiled,
    }


def _check_columns(df: pd.DataFrame, features: Sequence[str]) -> None:
    for name in features:
        if name not in df.columns:
            raise KeyError(f"Feature {name!r} is not in the data; its columns are {list(df.columns)}")


def _reference_sample(entry: dict) -> np.ndarray:
    """
    The reference rebuilt from the profile with its real row count, for Wasserstein and KS.

    Exact support: the original values repeated by their counts (the raw column, sorted).
    Quantile support: the quantile function, interpolated linearly between the stored mid-point
    quantiles and the stored min and max, at ``(i + 0.5) / count``. The real row count keeps the
    KS p-value on the reference's sample size rather than on the number of stored quantiles; on
    Adult's ``fnlwgt`` the interpolation is three times closer to the raw rows in Wasserstein-1
    than the quantiles taken as equal-weight atoms.
    """
    import numpy as np

    values = np.asarray(entry["values"], dtype="float64")
    if entry["support"] == "exact":
        return np.repeat(values, entry["counts"])
    q = len(values)
    grid = np.concatenate([[0.0], (np.arange(q) + 0.5) / q, [1.0]])
    knots = np.concatenate([[entry["min"]], values, [entry["max"]]])
    n = int(entry["count"])
    return np.interp((np.arange(n) + 0.5) / n, grid, knots)


def _numeric_drift(entry: dict, values: np.ndarray, numeric_threshold: float, categorical_threshold: float, eps: float):
    import numpy as np
    from scipy import stats

    if values.size == 0:
        raise ValueError(f"Numeric feature {entry['name']!r} has no finite value in the batch")
    reference = _reference_sample(entry)
    ks = stats.ks_2samp(reference, values)
    psi_value = psi(entry["bin_counts"], _bin_counts(values, entry["bin_edges"]), eps=eps)
    few_values = entry["support"] == "exact" and len(entry["values"]) <= MAX_NUMERIC_VALUES_AS_CATEGORIES
    if few_values:
        atoms = np.asarray(entry["values"], dtype="float64")
        batch_values, batch_counts = np.unique(values, return_counts=True)
        keys = np.union1d(atoms, batch_values)
    if few_values and len(keys) <= MAX_NUMERIC_VALUES_AS_CATEGORIES:
        # Evidently's rule: at most 5 distinct numeric values are compared as categories.
        ref_shares = np.zeros(len(keys))
        ref_shares[np.searchsorted(keys, atoms)] = entry["counts"]
        cur_shares = np.zeros(len(keys))
        cur_shares[np.searchsorted(keys, batch_values)] = batch_counts
        statistic, threshold = "jensen_shannon", categorical_threshold
        value = jensen_shannon_distance(ref_shares, cur_shares)
    else:
        statistic, threshold = "wasserstein_normed", numeric_threshold
        distance = stats.wasserstein_distance(reference, values)
        value = float(distance / max(entry["std"], MIN_NORM))
    return statistic, value, threshold, psi_value, float(ks.pvalue), "ks"


def _chi2_p_value(reference: np.ndarray, observed: np.ndarray) -> float:
    """Chi-square goodness of fit of the batch counts to the reference shares."""
    import numpy as np
    from scipy import stats

    expected = reference / reference.sum() * observed.sum()
    used = (expected > 0) | (observed > 0)
    expected, observed = expected[used], observed[used]
    if np.any(expected[observed > 0] == 0):
        return 0.0  # a category the reference never had: impossible under the reference
    if len(observed) < 2:
        return 1.0  # one category in both: nothing can differ
    return float(stats.chisquare(observed, expected).pvalue)


def _categorical_drift(entry: dict, series: pd.Series, categorical_threshold: float, eps: float):
    import numpy as np

    categories = entry["categories"]
    index = {c: i for i, c in enumerate(categories)}
    observed = np.zeros(len(categories))
    for key, count in _category_counts(series).items():
        # Unseen (or collapsed) categories count as "__other__".
        observed[index.get(key, index[OTHER])] += count
    reference = np.asarray(entry["counts"], dtype="float64")
    value = jensen_shannon_distance(reference, observed)
    return (
        "jensen_shannon",
        value,
        categorical_threshold,
        psi(reference, observed, eps=eps),
        _chi2_p_value(reference, observed),
        "chi2",
    )


def compute_feature_drift(
    profile: dict,
    batch: pd.DataFrame,
    *,
    numeric_threshold: float = 0.1,
    categorical_threshold: float = 0.1,
    psi_threshold: float = 0.2,
) -> list[dict]:
    """
    Compare a batch with a reference profile, feature by feature.

    Drift is decided by the distance in ``statistic`` (``value >= threshold``); the PSI and the
    p-value are reported, not used to decide.

    :param profile: a profile from :func:`build_reference_profile` (as stored, e.g. read back from JSON).
    :param batch: the new data; it must hold every profiled feature (other columns are ignored).
    :param numeric_threshold: drift threshold of the normed Wasserstein distance (Evidently: 0.1).
    :param categorical_threshold: drift threshold of the Jensen-Shannon distance (Evidently: 0.1).
    :param psi_threshold: the usual "significant shift" bound of the PSI, checked like the others
        but not used to decide ``drifted`` (callers compare ``psi`` with it themselves).
    :return: one dict per feature, in profile order, with the keys ``feature``, ``kind``,
        ``statistic``, ``value``, ``threshold``, ``drifted``, ``psi``, ``p_value``, ``test``,
        ``reference_rows`` and ``batch_rows``.
    :raises KeyError: a profiled feature is not a column of the batch.
    :raises ValueError: the batch is empty, a numeric feature has no finite value in it, or the
        profile is not of a known version.
    """
    if profile.get("version") != PROFILE_VERSION:
        raise ValueError(f"Unknown reference profile version {profile.get('version')!r}; expected {PROFILE_VERSION}")
    features = profile["features"]
    _check_columns(batch, [f["name"] for f in features])
    if len(batch) == 0:
        raise ValueError("The batch has no rows")
    for label, bound in (
        ("numeric", numeric_threshold),
        ("categorical", categorical_threshold),
        ("psi", psi_threshold),
    ):
        if not bound > 0:
            raise ValueError(f"{label}_threshold must be positive, not {bound}")
    # Same floor as the public psi(): stored bins can be empty in the batch.
    eps = 1e-4
    results = []
    for entry in features:
        name = entry["name"]
        if entry["kind"] == "numeric":
            statistic, value, threshold, psi_value, p_value, test = _numeric_drift(
                entry, _finite_values(batch[name], name), numeric_threshold, categorical_threshold, eps
            )
        else:
            statistic, value, threshold, psi_value, p_value, test = _categorical_drift(
                entry, batch[name], categorical_threshold, eps
            )
        results.append(
            {
                "feature": name,
                "kind": entry["kind"],
                "statistic": statistic,
                "value": float(value),
                "threshold": float(threshold),
                "drifted": bool(value >= threshold),
                "psi": float(psi_value),
                "p_value": None if p_value is None else float(p_value),
                "test": test,
                "reference_rows": int(profile["rows"]),
                "batch_rows": len(batch),
            }
        )
    return results


def drifted_share(results: list[dict]) -> float:
    """
    Share of features that drifted (0.0 for no features).

    :param results: the list returned by :func:`compute_feature_drift`.
    """
    if not results:
        return 0.0
    return sum(1 for r in results if r["drifted"]) / len(results)


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = 1e-4) -> float:
    """
    Population stability index ``sum((a - e) * ln(a / e))`` over shares of the same bins.

    Both inputs are normalised to shares (counts are fine); a share below ``eps`` is raised to
    ``eps`` (without renormalising) so that an empty bin gives a large but finite term.

    :param expected: the reference's counts or shares per bin.
    :param actual: the batch's counts or shares per bin, same bins in the same order.
    :param eps: floor for a share.
    """
    import numpy as np

    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError(f"expected and actual must be non-empty 1-D and of one length, not {e.shape} and {a.shape}")
    if np.any(e < 0) or np.any(a < 0) or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("expected and actual must be non-negative with a positive sum")
    e = np.maximum(e / e.sum(), eps)
    a = np.maximum(a / a.sum(), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon_distance(p: Sequence[float], q: Sequence[float]) -> float:
    """
    Jensen-Shannon distance (the square root of the divergence), natural log, as Evidently.

    Inputs are normalised to shares by scipy; no smoothing is applied (Evidently's
    ``jensenshannon`` stat test bins without filling zeros).

    :param p: counts or shares of the reference per category.
    :param q: counts or shares of the batch, same categories in the same order.
    """
    import numpy as np
    from scipy.spatial import distance

    p_arr = np.asarray(p, dtype="float64")
    q_arr = np.asarray(q, dtype="float64")
    if p_arr.shape != q_arr.shape or p_arr.ndim != 1 or p_arr.size == 0:
        raise ValueError(f"p and q must be non-empty 1-D and of one length, not {p_arr.shape} and {q_arr.shape}")
    value = float(distance.jensenshannon(p_arr, q_arr))
    # Rounding can leave a tiny negative divergence, which scipy turns into NaN for equal inputs.
    return 0.0 if math.isnan(value) and np.allclose(p_arr / p_arr.sum(), q_arr / q_arr.sum()) else value


def _split_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
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


def delong_auc_variance(y_true: Any, scores: Any) -> tuple[float, float]:
    """
    ROC AUC and its variance by DeLong's method, with the fast algorithm of Sun & Xu (2014).

    Mid-ranks replace the ``n_pos * n_neg`` comparisons: a positive's structural component (the
    share of negatives it outscores, ties counting one half) is its mid-rank among all scores less
    its mid-rank among the positives, over ``n_neg``; likewise for negatives. O(n log n).

    :param y_true: 0/1 or boolean labels, 1/True the positive class.
    :param scores: scores, higher meaning more likely positive.
    :return: ``(auc, variance)``.
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
    variance = v10.var(ddof=1) / m + v01.var(ddof=1) / n
    return float(auc), float(variance)


def auc_confidence_interval(y_true: Any, scores: Any, alpha: float = 0.05) -> tuple[float, float, float]:
    """
    ROC AUC with a two-sided ``1 - alpha`` confidence interval from DeLong's variance.

    Normal approximation ``auc +- z * sqrt(variance)``, clipped to ``[0, 1]``.

    :param y_true: 0/1 or boolean labels, 1/True the positive class.
    :param scores: scores, higher meaning more likely positive.
    :param alpha: one minus the confidence level (0.05 for 95%).
    :return: ``(auc, low, high)``.
    """
    from scipy.stats import norm

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    auc, variance = delong_auc_variance(y_true, scores)
    half = float(norm.ppf(1 - alpha / 2)) * math.sqrt(max(variance, 0.0))
    return auc, max(0.0, auc - half), min(1.0, auc + half)


def consecutive_below(history: Sequence[float | None], threshold: float) -> int:
    """
    How many of the most recent values are below ``threshold`` in a row.

    :param history: values, oldest first; ``None`` (no measure that day) ends the run, as does NaN.
    :param threshold: the bound; a value equal to it is not below.
    """
    run = 0
    for value in reversed(history):
        if value is None or not value < threshold:
            break
        run += 1
    return run
