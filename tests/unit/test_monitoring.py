from __future__ import annotations

import pytest

from airflow_automl_provider.monitoring import DriftRules, decide, run_link

pytestmark = pytest.mark.unit

GOOD = {"status": "ok", "auc": 0.95, "auc_low": 0.93, "auc_high": 0.97, "baseline": 0.94, "consecutive_below": 0}
NO_DATA_DRIFT = {"drifted_share": 0.0, "drifted": []}


def test_a_healthy_batch_does_not_alert():
    d = decide(GOOD, NO_DATA_DRIFT, DriftRules())
    assert (d.alert, d.status, d.reasons) == (False, "ok", [])


def test_auroc_under_the_threshold_alerts_with_the_figures():
    d = decide({**GOOD, "auc": 0.9012, "consecutive_below": 1}, NO_DATA_DRIFT, DriftRules(auc_threshold=0.93))
    assert d.alert and d.status == "drift"
    assert d.reasons == ["AUROC 0.9012 is under the threshold 0.93"]


def test_a_drop_under_the_baseline_alerts():
    rules = DriftRules(auc_threshold=0.5, max_auc_drop=0.05)
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
    d = decide(small, {"drifted_share": 0.25, "drifted": [{"feature": "age"}]}, DriftRules())
    assert (d.alert, d.status, d.reasons) == (False, "insufficient_data", ["batch too small to judge: 12 rows"])


def test_data_drift_still_alerts_when_the_auroc_cannot_be_judged():
    """A day whose AUROC cannot be judged (too few rows of a class) still reports the data's drift."""
    small = {"status": "insufficient_data", "reason": "batch too small to judge: 12 rows", "auc": None}
    d = decide(small, {"drifted_share": 1.0, "drifted": [{"feature": "age"}]}, DriftRules())
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
    rules = DriftRules(auc_threshold=0.93, consecutive_runs=3)
    assert not decide({**GOOD, "auc": 0.9, "consecutive_below": 2}, NO_DATA_DRIFT, rules).alert
    d = decide({**GOOD, "auc": 0.9, "consecutive_below": 3}, NO_DATA_DRIFT, rules)
    assert d.alert and d.reasons[0].endswith("3 runs in a row")


def test_run_links_are_quoted():
    assert (
        run_link("http://af:8080/", "automl_drift_monitor", "scheduled__2026-11-02T07:00:00+00:00")
        == "http://af:8080/dags/automl_drift_monitor/runs/scheduled__2026-11-02T07%3A00%3A00%2B00%3A00"
    )
