"""The drift monitor with its default params: a quiet week, then drift alerted on its first day."""

from __future__ import annotations

import json

import pytest

from automl_demo import simulate_days

pytestmark = pytest.mark.system

STABLE_DAYS = 7
TABLE = "adult_week"
# Only what points the DAG at this data; every rule is left at its default.
CONF = {"conn_id": "automl_system", "test_data_table": TABLE, "time_column": "event_time"}


@pytest.fixture(scope="module")
def week(dagbag, experiment_run, adult_db, adult_frames):
    assert experiment_run.state == "success"
    _, test = adult_frames
    # About 1,800 rows a day; from the 8th day on, age + 12, hours x 1.25 and the label of married men flipped.
    daily, runs = simulate_days(test, start="2026-10-01", days=STABLE_DAYS + 1, drift_from=STABLE_DAYS, seed=7)
    adult_db.replace_with_frame(TABLE, daily)
    dag = dagbag.dags["automl_drift_monitor"]
    for task in dag.tasks:
        task.retries = 0  # a failure must show at once in dag.test
    return dag, runs


def test_a_quiet_week_stays_quiet_and_drift_alerts_on_its_first_day(week, adult_db, smtp_server):
    dag, runs = week
    states = []
    for day in runs:
        run = dag.test(logical_date=day.to_pydatetime(), run_conf=CONF)
        by_task = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert run.state == "success", by_task
        states.append((run.run_id, by_task))

    reports = {
        run_id: (status, json.loads(metrics))
        for run_id, status, metrics in adult_db.query(
            "SELECT run_id, status, metrics_json FROM automl_eval_results WHERE test_table = ?", [TABLE]
        )
    }
    drifted = adult_db.query(
        "SELECT run_id, feature, test FROM automl_drift_results WHERE test_table = ? AND drifted = 1", [TABLE]
    )
    print("\nday | AUROC | baseline | z (days) | status | drifted features")
    for (run_id, _), day in zip(states, runs, strict=True):
        status, r = reports[run_id]
        features = sorted(f"{f}:{t}" for rid, f, t in drifted if rid == run_id)
        print(
            f"{day.date()} | {r['auc']:.4f} | {r['baseline']:.4f} | {r['z']:.2f} ({r['z_days']}) | {status} | {features}"
        )

    quiet, first_drift = states[:STABLE_DAYS], states[STABLE_DAYS]
    for run_id, by_task in quiet:
        status, report = reports[run_id]
        assert by_task["alert"] == "skipped" and by_task["no_drift"] == "success", (run_id, report["reasons"])
        assert status == "ok" and report["reasons"] == []
        # The baseline is the model's AUROC on its experiment's test table, not its validation AUROC.
        assert report["baseline_source"] == "test AUROC on adult_test"
        assert report["baseline_variance"] > 0 and report["z"] > -report["z_bound"]
        assert report["significance"] == "sequential" and report["drift_method"] == "tests"
    assert [r for r, *_ in drifted if r in {run_id for run_id, _ in quiet}] == []
    # The windows read the earlier days back from automl_eval_results.
    assert max(reports[run_id][1]["z_days"] for run_id, _ in quiet) >= 2
    # Digdag's fixed 0.93 (the old default) would have alerted on the quiet days under it.
    assert any(reports[run_id][1]["auc"] < 0.93 for run_id, _ in quiet)

    run_id, by_task = first_drift
    status, report = reports[run_id]
    assert by_task["alert"] == "success" and status == "drift"
    assert any("(test AUROC on adult_test)" in reason for reason in report["reasons"])
    flagged = {(f, t) for rid, f, t in drifted if rid == run_id}
    assert {("age", "mann_whitney"), ("hours_per_week", "mann_whitney")} <= flagged
    (mail,) = smtp_server.messages  # the drifted day's, and no other
    body = mail.get_body(("html",)).get_content()
    for text in ("Baseline (test AUROC on adult_test)", "z-score against the baseline", "mann_whitney", "age"):
        assert text in body, text
