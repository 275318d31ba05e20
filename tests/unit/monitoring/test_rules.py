from __future__ import annotations

import pytest

from airflow_automl_provider.monitoring.branch import run_link
from airflow_automl_provider.monitoring.rules import DriftRules, decide

pytestmark = pytest.mark.unit

GOOD = {"status": "ok", "auc": 0.95, "auc_low": 0.93, "auc_high": 0.97, "baseline": 0.94, "consecutive_below": 0}
NO_DATA_DRIFT = {"drifted_share": 0.0, "drifted": []}


def test_a_healthy_batch_does_not_alert():
    d = decide(GOOD, NO_DATA_DRIFT, DriftRules())
    assert (d.alert, d.status, d.reasons) == (False, "ok", [])


def test_auroc_under_the_threshold_alerts_with_the_figures():
    d = decide(
        {**GOOD, "auc": 0.9012, "consecutive_below": 1},
        NO_DATA_DRIFT,
        DriftRules(auc_threshold=0.93, significance="none", max_auc_drop=None),
    )
    assert d.alert and d.status == "drift"
    assert d.reasons == ["AUROC 0.9012 is under the threshold 0.93"]


def test_a_drop_under_the_baseline_alerts():
    rules = DriftRules(auc_threshold=0.5, max_auc_drop=0.05, significance="none")
    assert not decide({**GOOD, "auc": 0.90}, NO_DATA_DRIFT, rules).alert  # 0.04 under 0.94
    d = decide({**GOOD, "auc": 0.88}, NO_DATA_DRIFT, rules)
    assert d.alert and "dropped 0.0600 under the validation AUROC 0.9400" in d.reasons[0]


def test_data_drift_share_alerts_and_names_the_features():
    drift = {"drifted_share": 0.6, "drifted": [{"feature": "age"}, {"feature": "hours_per_week"}]}
    d = decide(GOOD, drift, DriftRules(max_drifted_share=0.5))
    assert d.alert and d.reasons == ["60% of the features drifted (more than 50%): age, hours_per_week"]
    assert not decide(GOOD, {**drift, "drifted_share": 0.5}, DriftRules(max_drifted_share=0.5)).alert


def test_insufficient_data_is_never_a_performance_alert():
    small = {"status": "insufficient_data", "reason": "batch too small to judge: 12 rows", "auc": None}
    d = decide(small, {"drifted_share": 0.25, "drifted": [{"feature": "age"}]}, DriftRules(max_drifted_share=0.5))
    assert (d.alert, d.status, d.reasons) == (False, "insufficient_data", ["batch too small to judge: 12 rows"])


def test_data_drift_still_alerts_when_the_auroc_cannot_be_judged():
    """A day whose AUROC cannot be judged (too few rows of a class) still reports the data's drift."""
    small = {"status": "insufficient_data", "reason": "batch too small to judge: 12 rows", "auc": None}
    d = decide(small, {"drifted_share": 1.0, "drifted": [{"feature": "age"}]}, DriftRules(max_drifted_share=0.5))
    assert (d.alert, d.status) == (True, "drift")
    assert d.reasons == [
        "100% of the features drifted (more than 50%): age",
        "AUROC not judged: batch too small to judge: 12 rows",
    ]


def test_delong_alerts_only_when_the_whole_interval_is_under():
    rules = DriftRules(auc_threshold=0.93, significance="delong")
    noisy = {**GOOD, "auc": 0.92, "auc_low": 0.88, "auc_high": 0.96, "consecutive_below": 1}
    assert not decide(noisy, NO_DATA_DRIFT, rules).alert
    real = {**noisy, "auc": 0.88, "auc_low": 0.86, "auc_high": 0.90}
    d = decide(real, NO_DATA_DRIFT, rules)
    assert d.alert and d.reasons[0].startswith("upper 95% bound 0.9000 of AUROC 0.8800")


def test_consecutive_runs_wait_for_n_in_a_row():
    rules = DriftRules(auc_threshold=0.93, consecutive_runs=3, significance="none", max_auc_drop=None)
    assert not decide({**GOOD, "auc": 0.9, "consecutive_below": 2}, NO_DATA_DRIFT, rules).alert
    d = decide({**GOOD, "auc": 0.9, "consecutive_below": 3}, NO_DATA_DRIFT, rules)
    assert d.alert and d.reasons[0].endswith("3 runs in a row")


def test_run_links_are_quoted():
    assert (
        run_link("http://af:8080/", "automl_drift_monitor", "scheduled__2026-11-02T07:00:00+00:00")
        == "http://af:8080/dags/automl_drift_monitor/runs/scheduled__2026-11-02T07%3A00%3A00%2B00%3A00"
    )


def test_the_default_rules_are_sequential_with_no_fixed_threshold_and_any_feature():
    rules = DriftRules()
    assert (rules.auc_threshold, rules.max_auc_drop, rules.max_drifted_share) == (None, 0.005, 0.0)
    assert (rules.significance, rules.window_days, rules.z_bound) == ("sequential", 3, 2.326)
    # AUROC 0.90 is under digdag's 0.93, but not significantly under a baseline of 0.91 on 1,000 rows.
    day = {**GOOD, "auc": 0.90, "baseline": 0.91, "auc_null_variance": 0.0095**2, "baseline_variance": 0.003**2}
    assert not decide(day, NO_DATA_DRIFT, rules).alert


def test_performance_statistics_by_hand():
    """One day: the logit z-score by the delta method; three days: the window's mean, the baseline's variance once
    (counted twice: its error, and the period's own)."""
    import math

    from airflow_automl_provider.monitoring.rules import performance_statistics

    rules = DriftRules(max_auc_drop=0.0)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    b, v = 0.92, 0.01**2
    vb = 0.003**2
    one = performance_statistics(days=[(0.89, v)], baseline=b, baseline_variance=vb, rules=rules)
    slope = 1 / (b * (1 - b))
    vb *= 2  # BASELINE_VARIANCE_FACTOR
    assert one["z"] == pytest.approx((logit(0.89) - logit(b)) / (slope * math.sqrt(v + vb)), rel=1e-12)
    assert one["z_days"] == 1
    days = [(0.90, v), (0.90, v), (0.90, v)]
    three = performance_statistics(days=days, baseline=b, baseline_variance=vb / 2, rules=rules)
    expected = (logit(0.90) - logit(b)) / (slope * math.sqrt(v / 3 + vb))
    assert three["z"] == pytest.approx(expected, rel=1e-12) and three["z_days"] == 3  # the longest window is lowest
    tolerant = performance_statistics(
        days=[(0.89, v)], baseline=b, baseline_variance=vb / 2, rules=DriftRules(max_auc_drop=0.01)
    )
    t = b - 0.01
    assert tolerant["z"] == pytest.approx((logit(0.89) - logit(t)) / (math.sqrt(v + vb) / (t * (1 - t))), rel=1e-12)
    assert performance_statistics(days=[(0.89, v)], baseline=None, baseline_variance=None, rules=rules)["z"] is None
    # Only window_days days are judged together.
    many = performance_statistics(days=[(0.5, v)] + days, baseline=b, baseline_variance=vb / 2, rules=rules)
    assert many["z_days"] == 3 and many["z"] == pytest.approx(expected, rel=1e-12)


def test_a_significant_drop_alerts_naming_the_baseline_the_window_and_the_bound():
    rules = DriftRules()
    v = 0.0095**2
    base = {**GOOD, "baseline": 0.926, "baseline_source": "test AUROC on gluon_test", "baseline_variance": 0.003**2}
    # Each day alone is not enough (z about -1.8), three days together are.
    days = [[0.900, v], [0.901, v], [0.899, v]]
    assert not decide({**base, "auc": 0.900, "days": days[:1]}, NO_DATA_DRIFT, rules).alert
    d = decide({**base, "auc": 0.899, "days": days}, NO_DATA_DRIFT, rules)
    assert d.alert and d.status == "drift"
    assert d.reasons[0].startswith(
        "the mean AUROC 0.9000 of the last 3 days is significantly under the baseline 0.9260 less 0.005"
    )
    assert "(test AUROC on gluon_test)" in d.reasons[0] and "at or under -2.326" in d.reasons[0]


def test_data_drift_reasons_name_the_test_its_value_and_bounds():
    drifted = {
        "feature": "age",
        "test": "mann_whitney",
        "statistic": "rank_effect",
        "value": 0.0512,
        "threshold": 0.02,
        "p_value": 1.2e-7,
        "alpha": 0.02,
    }
    d = decide(GOOD, {"drifted_share": 1 / 14, "drifted": [drifted]}, DriftRules())
    assert d.alert and d.reasons == [
        "1 feature drifted (7% of them): age",
        "age: mann_whitney (rank_effect 0.0512, at least 0.02; Holm-adjusted p-value 1.2e-07, at most 0.02)",
    ]
