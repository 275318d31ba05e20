"""
The drift monitor's rules: pure functions from the day's measurements to "alert" or "no drift".

Kept apart from the operators so the rules are tested without Airflow, and free of heavy imports:
the DAG file imports them at parse time (through :mod:`.branch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


# The performance rule's defaults, measured on Adult by benchmarks/drift_quality.py (docs/monitoring.md).
DEFAULT_Z_BOUND = 2.326  # one-sided 1% per window
DEFAULT_MAX_AUC_DROP = 0.005
# The baseline's variance counts twice: the error of its estimate, and the monitored period being
# another sample of the process than the test table (on Adult its two halves' AUROCs differ by up to 0.006).
BASELINE_VARIANCE_FACTOR = 2.0
DEFAULT_WINDOW_DAYS = 3
# Rows of each class an AUROC needs: 1 to be defined, 2 for DeLong's variance (delong, sequential).
MIN_CLASS_ROWS = {"none": 1, "delong": 2, "sequential": 2}
SIGNIFICANCES = ("sequential", "delong", "none")


@dataclass(frozen=True)
class DriftRules:
    """
    When a day's batch counts as drifted.

    :param auc_threshold: alert when the AUROC is under this fixed bound (digdag's
        ``drift_auc_threshold``); ``None``: no fixed bound. With ``significance`` ``sequential`` or
        ``delong`` the upper end of the AUROC's confidence interval is compared, not the AUROC.
    :param max_auc_drop: the drop under the baseline AUROC that is tolerated. ``sequential``: alert
        when the AUROC is significantly under ``baseline - max_auc_drop``; ``none`` and ``delong``:
        when the AUROC (or its upper bound) is more than this under the baseline. ``None``: no rule.
    :param max_drifted_share: alert when more than this share of the features drifted (0: any).
    :param significance: ``"sequential"`` (a one-sided z-test of today's AUROC, and of the mean of the
        last ``window_days`` days, against the baseline), ``"delong"`` (the upper bound of today's
        DeLong interval) or ``"none"`` (the AUROC itself).
    :param consecutive_runs: alert on the fixed threshold only after this many runs in a row under it.
    :param window_days: ``sequential``: the longest run of days whose mean AUROC is tested.
    :param z_bound: ``sequential``: alert when a window's z-score is at or under ``-z_bound``.
    """

    auc_threshold: float | None = None
    max_auc_drop: float | None = DEFAULT_MAX_AUC_DROP
    max_drifted_share: float | None = 0.0
    significance: str = "sequential"
    consecutive_runs: int = 1
    window_days: int = DEFAULT_WINDOW_DAYS
    z_bound: float = DEFAULT_Z_BOUND


@dataclass
class Decision:
    """What :func:`decide` concluded: whether to alert, the status recorded, why, and the sequential rule's
    figures (:func:`performance_statistics`; empty when the AUROC was not judged that way)."""

    alert: bool
    status: str
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def performance_statistics(
    *,
    days: Sequence[tuple[float, float]],
    baseline: float | None,
    baseline_variance: float | None,
    rules: DriftRules,
) -> dict[str, Any]:
    """
    The sequential rule's z-score: today's AUROC, and the mean of the last days', against the baseline.

    For each window of the last ``k`` days (``k`` = 1 .. ``rules.window_days``) the mean logit of
    the AUROCs is compared with the logit of ``baseline - max_auc_drop``; its standard error adds
    the days' variances (over ``k**2``) to twice the baseline's (:data:`BASELINE_VARIANCE_FACTOR`),
    which all days share, by the delta method. The logit keeps small batches' skewed AUROCs from alerting on their long lower tail.
    The lowest z-score of the windows is returned.

    :param days: ``(auc, variance)`` of the judged days with this baseline, oldest first, today
        last; the variance is the one the AUROC would have if nothing had changed (the baseline's
        DeLong components over the day's class counts) when known, else the day's own.
    :param baseline: the baseline AUROC; ``None``: nothing to compare.
    :param baseline_variance: its variance (0 or ``None`` when unknown).
    :param rules: the rules (``max_auc_drop``, ``window_days``, ``z_bound``).
    :return: ``z``, ``z_days`` (the window it came from), ``z_bound``, ``tolerance`` and
        ``window_auc`` (the window's mean AUROC); ``z`` is ``None`` without a baseline.
    """
    tolerance = float(rules.max_auc_drop or 0.0)
    out: dict[str, Any] = {"z": None, "z_days": None, "z_bound": rules.z_bound, "tolerance": tolerance}
    if baseline is None or not days:
        return out
    target = min(max(float(baseline) - tolerance, 1e-6), 1 - 1e-6)
    slope = 1.0 / (target * (1 - target))  # d logit / d auc at the target
    best = None
    for k in range(1, min(max(rules.window_days, 1), len(days)) + 1):
        window = days[-k:]
        mean_logit = sum(_logit(a) for a, _ in window) / k
        shared = BASELINE_VARIANCE_FACTOR * max(baseline_variance or 0.0, 0.0)
        variance = sum(max(v, 0.0) for _, v in window) / (k * k) + shared
        if variance <= 0:
            continue
        z = (mean_logit - _logit(target)) / (slope * math.sqrt(variance))
        if best is None or z < best[0]:
            best = (z, k, sum(a for a, _ in window) / k)
    if best is not None:
        out.update(z=best[0], z_days=best[1], window_auc=best[2])
    return out


def sequential_figures(performance: Mapping[str, Any], rules: DriftRules) -> dict[str, Any]:
    """:func:`performance_statistics` of a performance XCom: its ``days``, else today's AUROC alone."""
    days = performance.get("days")
    if not days and performance.get("auc") is not None:
        variance = performance.get("auc_null_variance", performance.get("auc_variance"))
        days = [] if variance is None else [(float(performance["auc"]), float(variance))]
    return performance_statistics(
        days=[(float(a), float(v)) for a, v in days or []],
        baseline=None if performance.get("baseline") is None else float(performance["baseline"]),
        baseline_variance=performance.get("baseline_variance"),
        rules=rules,
    )


def decide(performance: Mapping[str, Any], data_drift: Mapping[str, Any] | None, rules: DriftRules) -> Decision:
    """
    Apply the rules to the performance XCom (``auc``, ``status``, ``baseline``, ``baseline_source``,
    ``auc_high``, ``consecutive_below``, and for the sequential rule ``days`` or ``auc_null_variance``
    and ``baseline_variance``) and the data drift XCom (``drifted_share``, ``drifted``).
    """
    if rules.significance not in SIGNIFICANCES:
        raise ValueError(f"Unknown significance {rules.significance!r}: expected one of {', '.join(SIGNIFICANCES)}")
    if performance.get("status") == "insufficient_data":
        # The AUROC cannot be judged today; the data's drift still can.
        why = performance.get("reason") or "batch too small to judge"
        drifted = _data_drift_reasons(data_drift, rules)
        if drifted:
            return Decision(True, "drift", [*drifted, f"AUROC not judged: {why}"])
        return Decision(False, "insufficient_data", [why])
    reasons: list[str] = []
    auc = float(performance["auc"])
    figures = sequential_figures(performance, rules) if rules.significance == "sequential" else {}
    bounded = rules.significance != "none" and performance.get("auc_high") is not None
    # With a confidence interval, judge the best the model could plausibly be doing today.
    judged = float(performance["auc_high"]) if bounded else auc
    what = f"upper {performance.get('confidence', 0.95):.0%} bound {judged:.4f} of AUROC" if bounded else "AUROC"
    if rules.auc_threshold is not None and judged < rules.auc_threshold:
        run = int(performance.get("consecutive_below") or 1)
        if run >= rules.consecutive_runs:
            suffix = f", {run} runs in a row" if rules.consecutive_runs > 1 else ""
            reasons.append(f"{what} {auc:.4f} is under the threshold {rules.auc_threshold}{suffix}")
    baseline = performance.get("baseline")
    source = performance.get("baseline_source") or "validation AUROC"
    if rules.max_auc_drop is not None and baseline is not None:
        baseline = float(baseline)
        if rules.significance == "sequential":
            z = figures.get("z")
            if z is not None and float(z) <= -rules.z_bound:
                days = int(figures.get("z_days") or 1)
                mean = figures.get("window_auc", auc)
                over = f"the mean AUROC {mean:.4f} of the last {days} days" if days > 1 else f"AUROC {auc:.4f}"
                less = f" less {rules.max_auc_drop}" if rules.max_auc_drop else ""
                reasons.append(
                    f"{over} is significantly under the baseline {baseline:.4f}{less} ({source}): "
                    f"z = {float(z):.2f}, at or under -{rules.z_bound} (one-sided test)"
                )
        elif baseline - judged > rules.max_auc_drop:
            reasons.append(
                f"{what} {auc:.4f} dropped {baseline - auc:.4f} under the {source} {baseline:.4f} "
                f"(more than {rules.max_auc_drop})"
            )
    reasons += _data_drift_reasons(data_drift, rules)
    return Decision(bool(reasons), "drift" if reasons else "ok", reasons, figures)


def feature_reason(f: Mapping[str, Any]) -> str:
    """Why one feature drifted: its test, value and bound (the distance rule: its distance and threshold)."""
    value, bound = float(f["value"]), f["threshold"]
    if f.get("test") in (None, "distance"):
        return f"{f['feature']}: {f['statistic']} {value:.4f}, at or over {bound}"
    return (
        f"{f['feature']}: {f['test']} ({f['statistic']} {value:.4f}, at least {bound}; "
        f"Holm-adjusted p-value {float(f['p_value']):.2g}, at most {f.get('alpha')})"
    )


def _data_drift_reasons(data_drift: Mapping[str, Any] | None, rules: DriftRules) -> list[str]:
    if not data_drift or rules.max_drifted_share is None:
        return []
    share = float(data_drift.get("drifted_share") or 0.0)
    if share <= rules.max_drifted_share:
        return []
    drifted = data_drift.get("drifted", [])
    names = ", ".join(f["feature"] for f in drifted)
    if rules.max_drifted_share:
        head = f"{share:.0%} of the features drifted (more than {rules.max_drifted_share:.0%}): {names}"
    else:
        head = f"{len(drifted)} feature{'s' if len(drifted) != 1 else ''} drifted ({share:.0%} of them): {names}"
    return [head, *(feature_reason(f) for f in drifted if f.get("value") is not None)]


def rules_from_params(params: Mapping[str, Any]) -> DriftRules:
    """The rules from the monitor DAG's params; a param left out or empty takes :class:`DriftRules`' default."""
    defaults = DriftRules()

    def number(name: str, default: float | None) -> float | None:
        return default if name not in params else optional_float(params.get(name))

    return DriftRules(
        auc_threshold=number("drift_auc_threshold", defaults.auc_threshold),
        max_auc_drop=number("max_auc_drop", defaults.max_auc_drop),
        max_drifted_share=number("max_drifted_share", defaults.max_drifted_share),
        significance=params.get("significance") or defaults.significance,
        consecutive_runs=int(params.get("consecutive_runs") or defaults.consecutive_runs),
        window_days=int(params.get("window_days") or defaults.window_days),
    )


def optional_float(value: Any) -> float | None:
    """A number from a param or a rendered template: ``None`` for empty, ``None`` and the text ``"None"``."""
    return None if value in (None, "", "None") else float(value)


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
