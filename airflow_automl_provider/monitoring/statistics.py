"""
Data drift between a model's training data and a fresh batch, from a compact reference profile.

DeLong's AUROC variance, once here, is in :mod:`airflow_automl_provider.evaluation.delong`; the
run of days under a threshold (``consecutive_below``) in :mod:`.rules`.

At training time :func:`build_reference_profile` summarises the training table into a small,
plain-JSON profile stored with the model; each day :func:`compute_feature_drift` compares a batch
(a pandas DataFrame) against that profile, so the training table is never read again.

Two decisions per feature (``compute_feature_drift(method=...)``):

* ``tests`` (the default): tests that know the batch size, Holm-corrected over every test of the
  batch, each with a minimum effect (:data:`FEATURE_TESTS`, :data:`MIN_EFFECT`, docs/monitoring.md);
* ``distance``: Evidently's defaults for references of more than 1,000 rows. Numeric feature:
  Wasserstein-1 distance divided by the reference standard deviation (``max(std, 0.001)``,
  population std), drift when it is >= 0.1; as in Evidently, a numeric feature with at most 5
  distinct values (reference and batch together) is judged by the Jensen-Shannon distance of its
  value shares instead. Categorical feature: Jensen-Shannon distance (natural log, no smoothing, as
  Evidently's ``jensenshannon`` stat test) between category shares, drift when it is >= 0.1. These
  distances are reported with either decision.

Missing and infinite numeric values are left out of the numeric statistics, as Evidently does.
Missing categorical values count as their own category ``"__missing__"`` (Evidently drops them),
so a change in the missing rate of a categorical feature shows in its distance.

How the reference is kept for numeric features: when the feature has at most ``quantiles``
distinct values, the profile stores every distinct value with its count, so the reference is
rebuilt exactly (the Wasserstein distance and the tests equal scipy's on the raw rows). Otherwise it
stores ``quantiles`` quantiles at the mid-points ``(i + 0.5) / quantiles`` plus the min and max;
the reference is rebuilt as a pseudo-sample of its own row count from the quantile function
interpolated linearly between them, and the Wasserstein distance and the tests run on that
pseudo-sample. The profile records, per feature, the normed Wasserstein distance between the raw reference and its reconstruction
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
    from collections.abc import Mapping, Sequence

    import numpy as np
    import pandas as pd

PROFILE_VERSION = 1
MISSING = "__missing__"
OTHER = "__other__"
# Evidently's floor for the reference standard deviation in the normed Wasserstein distance.
MIN_NORM = 0.001
# Evidently judges a numeric feature with this many distinct values or fewer as categorical.
MAX_NUMERIC_VALUES_AS_CATEGORIES = 5

# The tests of drift per feature (method "tests"), each judged by its Holm-adjusted p-value and by
# its effect. A numeric feature: the share of missing values, the share of zeros among the finite
# values, and the ranks of the other values (Mann-Whitney). A categorical feature: the share of
# missing values and the shares of the categories (chi-square, rare categories pooled).
FEATURE_TESTS = {
    "numeric": ("missing_share", "zero_share", "mann_whitney"),
    "categorical": ("missing_share", "chi_square"),
}
# Family-wise error rate over all the tests of a batch (weighted Holm): at most 2 stable days in
# 100 flag a feature, whatever the batch size.
DEFAULT_ALPHA = 0.02
# Holm's weights: the rank tests, which must see small shifts, get most of the error budget; a
# share that moved by the minimum effect is far beyond any of these thresholds at 200 rows already.
TEST_WEIGHTS = {"mann_whitney": 3.0, "chi_square": 1.0, "missing_share": 0.25, "zero_share": 0.25}
# The smallest effect that counts, so that a batch of 50,000 rows does not flag what no one would
# act on: 2 points of a share, a rank effect of 0.02 (a shift of about 0.07 standard deviations),
# 3 points of a category's share.
MIN_EFFECT = {"missing_share": 0.02, "zero_share": 0.02, "mann_whitney": 0.02, "chi_square": 0.03}
# The rank test compares the non-zero values only: its effect times their share of the batch must
# reach this too, so that the few hundred non-zero values of a rare column cannot flag a big batch.
MIN_RANK_MASS = 0.005
# The chi-square's validity condition: categories expected fewer times than this in the batch are pooled.
MIN_EXPECTED = 5


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


def _reference_support(entry: dict) -> tuple[np.ndarray, np.ndarray]:
    """The reference as sorted distinct values and their counts (exact, or the rebuilt pseudo-sample's)."""
    import numpy as np

    if entry["support"] == "exact":
        return np.asarray(entry["values"], dtype="float64"), np.asarray(entry["counts"], dtype="float64")
    values, counts = np.unique(_reference_sample(entry), return_counts=True)
    return values, counts.astype("float64")


def _support(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    keys, counts = np.unique(values, return_counts=True)
    return keys, counts.astype("float64")


def _on_keys(keys: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Counts of a sorted support spread over a sorted superset of its values."""
    import numpy as np

    out = np.zeros(len(keys))
    out[np.searchsorted(keys, values)] = counts
    return out


def wasserstein_distance_counts(
    a_values: np.ndarray, a_counts: np.ndarray, b_values: np.ndarray, b_counts: np.ndarray
) -> float:
    """
    Wasserstein-1 distance between two samples given as sorted distinct values with counts.

    ``sum |F_a - F_b| * gap`` over the merged support: equal to
    ``scipy.stats.wasserstein_distance`` on the repeated values, in time linear in the supports.
    """
    import numpy as np

    keys = np.union1d(a_values, b_values)
    if len(keys) < 2:
        return 0.0
    fa = np.cumsum(_on_keys(keys, a_values, a_counts)) / a_counts.sum()
    fb = np.cumsum(_on_keys(keys, b_values, b_counts)) / b_counts.sum()
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(keys)))


def _numeric_distance(
    entry: dict,
    reference: tuple[np.ndarray, np.ndarray],
    batch: tuple[np.ndarray, np.ndarray],
    values: np.ndarray,
    numeric_threshold: float,
    categorical_threshold: float,
    eps: float,
) -> tuple[str, float, float, float]:
    """Evidently's distance for a numeric feature: ``(statistic, value, threshold, psi)``."""
    import numpy as np

    psi_value = psi(entry["bin_counts"], _bin_counts(values, entry["bin_edges"]), eps=eps)
    keys = np.union1d(reference[0], batch[0])
    if entry["support"] == "exact" and len(keys) <= MAX_NUMERIC_VALUES_AS_CATEGORIES:
        # Evidently's rule: at most 5 distinct numeric values are compared as categories.
        value = jensen_shannon_distance(_on_keys(keys, *reference), _on_keys(keys, *batch))
        return "jensen_shannon", value, categorical_threshold, psi_value
    distance = wasserstein_distance_counts(*reference, *batch)
    return "wasserstein_normed", float(distance / max(entry["std"], MIN_NORM)), numeric_threshold, psi_value


def _category_vectors(entry: dict, series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The reference's and the batch's counts over the profile's categories (unseen ones as ``__other__``)."""
    import numpy as np

    categories = entry["categories"]
    index = {c: i for i, c in enumerate(categories)}
    observed = np.zeros(len(categories))
    for key, count in _category_counts(series).items():
        observed[index.get(key, index[OTHER])] += count
    return np.asarray(entry["counts"], dtype="float64"), observed


def _categorical_distance(
    reference: np.ndarray, observed: np.ndarray, categorical_threshold: float, eps: float
) -> tuple[str, float, float, float]:
    """Evidently's distance for a categorical feature: ``(statistic, value, threshold, psi)``."""
    value = jensen_shannon_distance(reference, observed)
    return "jensen_shannon", value, categorical_threshold, psi(reference, observed, eps=eps)


def compute_feature_drift(
    profile: dict,
    batch: pd.DataFrame,
    *,
    method: str = "tests",
    alpha: float = DEFAULT_ALPHA,
    min_effect: Mapping[str, float] | None = None,
    numeric_threshold: float = 0.1,
    categorical_threshold: float = 0.1,
    psi_threshold: float = 0.2,
) -> list[dict]:
    """
    Compare a batch with a reference profile, feature by feature.

    With ``method="tests"`` (the default) a feature drifted when one of its tests (see
    :data:`FEATURE_TESTS`) rejects "same distribution as the reference" at the family level
    ``alpha``, Holm-corrected over every test of every feature, *and* its effect is at least the
    test's minimum effect (:data:`MIN_EFFECT`): the p-value knows the batch size, the effect floor
    keeps huge batches from flagging trivial differences. With ``method="distance"`` a feature
    drifted when its distance (normed Wasserstein or Jensen-Shannon, Evidently's statistics) is at
    least its threshold, whatever the batch size.

    :param profile: a profile from :func:`build_reference_profile` (as stored, e.g. read back from JSON).
    :param batch: the new data; it must hold every profiled feature (other columns are ignored).
    :param method: ``"tests"`` or ``"distance"``.
    :param alpha: family-wise error rate of the tests over all features of the batch.
    :param min_effect: per test name, the smallest effect that counts; missing names take
        :data:`MIN_EFFECT`'s.
    :param numeric_threshold: drift threshold of the normed Wasserstein distance (Evidently: 0.1).
    :param categorical_threshold: drift threshold of the Jensen-Shannon distance (Evidently: 0.1).
    :param psi_threshold: the usual "significant shift" bound of the PSI, checked like the others
        but never used to decide ``drifted``.
    :return: one dict per feature, in profile order, with the keys ``feature``, ``kind``,
        ``statistic``, ``value``, ``threshold``, ``drifted``, ``p_value``, ``alpha``, ``test``
        (the deciding test, or the distance), ``distance``, ``distance_statistic``,
        ``distance_threshold``, ``psi``, ``tests`` (every test of the feature),
        ``reference_rows`` and ``batch_rows``.
    :raises KeyError: a profiled feature is not a column of the batch.
    :raises ValueError: the batch is empty, a numeric feature has no finite value in it, a bound is
        out of range, or the profile is not of a known version.
    """
    if profile.get("version") != PROFILE_VERSION:
        raise ValueError(f"Unknown reference profile version {profile.get('version')!r}; expected {PROFILE_VERSION}")
    if method not in ("tests", "distance"):
        raise ValueError(f"Unknown drift method {method!r}: expected 'tests' or 'distance'")
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
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    unknown = sorted(set(min_effect or {}) - set(MIN_EFFECT))
    if unknown:
        raise ValueError(f"Unknown test(s) {unknown} in min_effect: expected some of {sorted(MIN_EFFECT)}")
    floors = {**MIN_EFFECT, **(min_effect or {})}
    # Same floor as the public psi(): stored bins can be empty in the batch.
    eps = 1e-4
    results = []
    for entry in features:
        name = entry["name"]
        column = batch[name]
        if entry["kind"] == "numeric":
            values = _finite_values(column, name)
            if values.size == 0:
                raise ValueError(f"Numeric feature {name!r} has no finite value in the batch")
            reference, observed = _reference_support(entry), _support(values)
            statistic, value, threshold, psi_value = _numeric_distance(
                entry, reference, observed, values, numeric_threshold, categorical_threshold, eps
            )
            tests = _numeric_tests(entry, len(column), reference, observed)
        else:
            reference, observed = _category_vectors(entry, column)
            statistic, value, threshold, psi_value = _categorical_distance(
                reference, observed, categorical_threshold, eps
            )
            tests = _categorical_tests(entry, reference, observed)
        results.append(
            {
                "feature": name,
                "kind": entry["kind"],
                "distance_statistic": statistic,
                "distance": float(value),
                "distance_threshold": float(threshold),
                "psi": float(psi_value),
                "tests": tests,
                "reference_rows": int(profile["rows"]),
                "batch_rows": len(batch),
            }
        )
    _holm([t for r in results for t in r["tests"]], alpha, floors)
    for r in results:
        r["alpha"] = alpha
        if method == "distance":
            r.update(
                statistic=r["distance_statistic"],
                value=r["distance"],
                threshold=r["distance_threshold"],
                drifted=bool(r["distance"] >= r["distance_threshold"]),
                test="distance",
                p_value=min((t["p_value"] for t in r["tests"]), default=None),
            )
            continue
        # The deciding test: the most significant one that drifted, else the most significant one.
        ranked = sorted(r["tests"], key=lambda t: (not t["drifted"], t["p_value"], t["raw_p_value"]))
        top = ranked[0] if ranked else None
        r.update(
            statistic=top["statistic"] if top else r["distance_statistic"],
            value=abs(top["effect"]) if top else r["distance"],
            threshold=top["min_effect"] if top else r["distance_threshold"],
            drifted=bool(top and top["drifted"]),
            test=top["test"] if top else "none",
            p_value=top["p_value"] if top else None,
        )
    return results


def _holm(tests: list[dict], alpha: float, floors: Mapping[str, float]) -> None:
    """
    Weighted Holm over every test of the batch: set ``p_value`` (adjusted), ``min_effect``, ``drifted``.

    Tests are taken in order of ``p / weight``; the k-th rejects while ``p / weight <= alpha / W``,
    ``W`` the weight of the tests not yet rejected, which holds the family-wise error rate at
    ``alpha`` whatever the weights (Holm, 1979).
    """
    weight = [TEST_WEIGHTS[t["test"]] for t in tests]
    order = sorted(range(len(tests)), key=lambda i: tests[i]["raw_p_value"] / weight[i])
    remaining = float(sum(weight))
    running = 0.0
    for i in order:
        running = max(running, min(1.0, tests[i]["raw_p_value"] / weight[i] * remaining))
        tests[i]["p_value"] = running
        remaining -= weight[i]
    for t in tests:
        floor = float(floors[t["test"]])
        t["min_effect"] = floor
        # A test on part of the rows (the non-zero values) must also move enough of the whole column.
        mass = abs(t["effect"]) * t.get("share", 1.0) >= MIN_RANK_MASS
        t["drifted"] = bool(t["p_value"] <= alpha and abs(t["effect"]) >= floor and mass)


def _test(test: str, statistic: str, effect: float, p_value: float, **extra: Any) -> dict:
    return {"test": test, "statistic": statistic, "effect": float(effect), "raw_p_value": float(p_value), **extra}


def share_test(batch_hits: int, batch_rows: int, reference_hits: int, reference_rows: int) -> tuple[float, float]:
    """
    Difference of two shares and its two-sided p-value, both samples' sizes counted.

    The pooled two-proportion z-test (the 2x2 chi-square) when every cell of the 2x2 table is
    expected at least :data:`MIN_EXPECTED` times, else Fisher's exact test: a handful of rows in a
    share the reference never had gets a modest p-value, not the huge z of the approximation.

    :return: ``(batch share - reference share, p_value)``; ``(0.0, 1.0)`` when a side has no rows.
    """
    from scipy import stats
    from scipy.special import ndtr

    if batch_rows <= 0 or reference_rows <= 0:
        return 0.0, 1.0
    difference = batch_hits / batch_rows - reference_hits / reference_rows
    rows = batch_rows + reference_rows
    hits = batch_hits + reference_hits
    pooled = hits / rows
    # The smallest expected cell, min(hits, misses) * min(sizes) / rows, compared in integers: exact at the bound.
    if min(hits, rows - hits) * min(batch_rows, reference_rows) < MIN_EXPECTED * rows:
        table = [[batch_hits, batch_rows - batch_hits], [reference_hits, reference_rows - reference_hits]]
        return difference, min(float(stats.fisher_exact(table).pvalue), 1.0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / batch_rows + 1 / reference_rows))
    return difference, float(min(1.0, 2 * ndtr(-abs(difference) / se)))


def rank_test(
    batch_values: np.ndarray, batch_counts: np.ndarray, reference_values: np.ndarray, reference_counts: np.ndarray
) -> tuple[float, float]:
    """
    Mann-Whitney U test of a batch against the reference, both as sorted distinct values with counts.

    The same U, tie-corrected variance and continuity correction as
    ``scipy.stats.mannwhitneyu(batch, reference, method="asymptotic")``, in time linear in the
    supports rather than a sort of both samples. The effect is
    ``P(batch > reference) + P(equal) / 2 - 0.5`` (the AUC of telling the two apart, less one
    half): 0 when nothing moved, about 0.05 for a shift of an eighth of a standard deviation.

    :return: ``(effect, two-sided p_value)``; ``(0.0, 1.0)`` with fewer than 2 values on a side.
    """
    import numpy as np
    from scipy.special import ndtr

    n, m = float(batch_counts.sum()), float(reference_counts.sum())
    if n < 2 or m < 2:
        return 0.0, 1.0
    keys = np.union1d(reference_values, batch_values)
    ref = _on_keys(keys, reference_values, reference_counts)
    bat = _on_keys(keys, batch_values, batch_counts)
    below = np.cumsum(ref) - ref  # reference rows under each key
    u = float(np.sum(bat * (below + ref / 2)))
    ties = ref + bat
    total = n + m
    variance = n * m / 12 * ((total + 1) - float(np.sum(ties**3 - ties)) / (total * (total - 1)))
    effect = u / (n * m) - 0.5
    if variance <= 0:
        return effect, 1.0  # every value the same on both sides
    z = max(abs(u - n * m / 2) - 0.5, 0.0) / math.sqrt(variance)
    return effect, float(min(1.0, 2 * ndtr(-z)))


def category_test(batch_counts: np.ndarray, reference_counts: np.ndarray) -> tuple[float, float, int]:
    """
    Chi-square test of homogeneity of two count vectors, rare categories pooled.

    Categories expected fewer than :data:`MIN_EXPECTED` times in the batch or in the reference (the
    chi-square's usual validity condition) are pooled into one; a pool still under it joins the smallest
    remaining category. The effect is the largest difference of a (pooled) category's share: unlike
    the total variation distance it does not grow with the number of categories on noise alone.

    :return: ``(largest share difference, p_value, categories tested)``.
    """
    import numpy as np
    from scipy import stats

    b = np.asarray(batch_counts, dtype="float64")
    r = np.asarray(reference_counts, dtype="float64")
    nb, nr = b.sum(), r.sum()
    if nb <= 0 or nr <= 0:
        return 0.0, 1.0, 0
    # Expected counts in the smaller of the two samples: the chi-square's condition holds in every cell.
    expected = (b + r) * min(nb, nr) / (nb + nr)
    rare = expected < MIN_EXPECTED
    groups_b = list(b[~rare])
    groups_r = list(r[~rare])
    if rare.any():
        pooled_b, pooled_r = float(b[rare].sum()), float(r[rare].sum())
        if groups_b and (pooled_b + pooled_r) * min(nb, nr) / (nb + nr) < MIN_EXPECTED:
            smallest = int(np.argmin(np.asarray(groups_b) + np.asarray(groups_r)))
            groups_b[smallest] += pooled_b
            groups_r[smallest] += pooled_r
        else:
            groups_b.append(pooled_b)
            groups_r.append(pooled_r)
    gb, gr = np.asarray(groups_b), np.asarray(groups_r)
    keep = (gb + gr) > 0
    gb, gr = gb[keep], gr[keep]
    effect = float(np.abs(gb / nb - gr / nr).max()) if len(gb) else 0.0
    if len(gb) < 2:
        return effect, 1.0, len(gb)
    p_value = float(stats.chi2_contingency(np.vstack([gb, gr]), correction=False).pvalue)
    return effect, p_value, len(gb)


def _numeric_tests(
    entry: dict, rows: int, reference: tuple[np.ndarray, np.ndarray], batch: tuple[np.ndarray, np.ndarray]
) -> list[dict]:
    """Missing share, zero share, and the ranks of the other values, each against the reference."""
    ref_values, ref_counts = reference
    values, counts = batch
    finite, ref_finite = int(counts.sum()), int(ref_counts.sum())
    missing_effect, missing_p = share_test(
        rows - finite, rows, int(entry["missing"]), ref_finite + int(entry["missing"])
    )
    ref_zero, zero = ref_values == 0, values == 0
    zero_effect, zero_p = share_test(int(counts[zero].sum()), finite, int(ref_counts[ref_zero].sum()), ref_finite)
    rank_effect, rank_p = rank_test(values[~zero], counts[~zero], ref_values[~ref_zero], ref_counts[~ref_zero])
    return [
        _test("missing_share", "share_difference", missing_effect, missing_p),
        _test("zero_share", "share_difference", zero_effect, zero_p),
        _test("mann_whitney", "rank_effect", rank_effect, rank_p, share=float(counts[~zero].sum()) / max(finite, 1)),
    ]


def _categorical_tests(entry: dict, reference: np.ndarray, observed: np.ndarray) -> list[dict]:
    """Missing share, and the shares of the other categories (chi-square, rare ones pooled)."""
    missing_at = entry["categories"].index(MISSING)
    rows, ref_rows = int(observed.sum()), int(reference.sum())
    missing_effect, missing_p = share_test(int(observed[missing_at]), rows, int(reference[missing_at]), ref_rows)
    keep = [i for i in range(len(reference)) if i != missing_at]
    effect, p_value, tested = category_test(observed[keep], reference[keep])
    return [
        _test("missing_share", "share_difference", missing_effect, missing_p),
        _test("chi_square", "max_share_difference", effect, p_value, categories=tested),
    ]


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
