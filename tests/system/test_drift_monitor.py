"""The drift monitor over successive days of Adult data with drift injected from a known day."""

from __future__ import annotations

import time

import pytest

from automl_demo import simulate_days

pytestmark = pytest.mark.system

DRIFT_FROM = 3  # 0-based: the 4th day's batch is the first drifted one
CONF = {
    "conn_id": "automl_system",
    "test_data_table": "adult_daily",
    "time_column": "event_time",
    "target_column": "class",
    "positive_class": ">50K",
    "drift_auc_threshold": 0.85,
    "max_auc_drop": 0.05,
    # This module's days drift on 2 of 14 features: judged as the share over half, not as any feature.
    "max_drifted_share": 0.5,
    "alert_to": "ml-team@example.com",
    # Every param a test changes is listed: in-process dag.test() runs share the DAG's params object.
    "min_rows": 100,
    "retrain": False,
}


@pytest.fixture(scope="module")
def monitor(dagbag, experiment_run, adult_db, adult_frames):
    assert experiment_run.state == "success"
    _, test = adult_frames
    daily, runs = simulate_days(test, start="2026-11-01", days=7, drift_from=DRIFT_FROM)
    adult_db.replace_with_frame("adult_daily", daily)
    dag = dagbag.dags["automl_drift_monitor"]
    for task in dag.tasks:
        task.retries = 0  # a failure must show at once in dag.test
    return dag, runs


def test_monitor_alerts_from_the_drift_day_on(monitor, adult_db, smtp_server):
    dag, runs = monitor
    figures = []
    for day in runs:
        started = time.monotonic()
        run = dag.test(logical_date=day.to_pydatetime(), run_conf=CONF)
        seconds = time.monotonic() - started
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        assert run.state == "success", states
        figures.append((day.date().isoformat(), states["alert"] == "success", seconds, run.run_id))

    rows = adult_db.query(
        "SELECT run_id, auroc, num_rows, status FROM automl_eval_results "
        "WHERE dag_id = 'automl_drift_monitor' AND test_table = 'adult_daily' ORDER BY session_time"
    )
    assert len(rows) == len(runs)  # one evaluation row per day
    alerted = [alert for _, alert, _, _ in figures]
    assert alerted == [False] * DRIFT_FROM + [True] * (len(runs) - DRIFT_FROM)
    for (run_id, auroc, n, status), (_, alert, _, fig_run) in zip(rows, figures, strict=True):
        assert run_id == fig_run and status == ("drift" if alert else "ok") and 2000 < n < 2500
        assert (auroc < 0.85) == alert

    drift = adult_db.query(
        "SELECT run_id, feature, drifted FROM automl_drift_results WHERE dag_id = 'automl_drift_monitor' AND test_table = 'adult_daily'"
    )
    assert len(drift) == 14 * len(runs)
    age = {run_id: bool(d) for run_id, feature, d in drift if feature == "age"}
    assert [age[r] for *_, r in figures] == alerted  # the shifted feature drifts from the same day

    assert len(smtp_server.messages) == len(runs) - DRIFT_FROM
    mail = smtp_server.messages[0]
    assert mail["Subject"].startswith("Drift detected: automl_model_")
    assert mail["To"] == "ml-team@example.com"
    body = mail.get_body(("html",)).get_content()
    for text in ("AUROC", "Threshold", "0.85", "Baseline", "age", "/dags/automl_drift_monitor/runs/"):
        assert text in body, text

    print("\nday (run at 07:00 UTC) | AUROC | alert | seconds")
    for (day, alert, seconds, _), (_, auroc, _, _) in zip(figures, rows, strict=True):
        print(f"{day} | {auroc:.4f} | {'yes' if alert else 'no'} | {seconds:.1f}")


def test_a_small_batch_is_recorded_not_alerted(monitor, adult_db, smtp_server):
    dag, runs = monitor
    run = dag.test(logical_date=runs[-1].to_pydatetime(), run_conf={**CONF, "min_rows": 5000})
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["no_drift"] == "success" and states["alert"] == "skipped"
    ((status, auroc),) = adult_db.query("SELECT status, auroc FROM automl_eval_results WHERE run_id = ?", [run.run_id])
    assert (status, auroc) == ("insufficient_data", None)
    assert smtp_server.messages == []


def test_an_empty_batch_fails_the_run(monitor, smtp_server):
    dag, runs = monitor
    run = dag.test(logical_date=(runs[-1] + (runs[1] - runs[0]) * 30).to_pydatetime(), run_conf=CONF)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed" and states["predict"] == "failed", states
    assert smtp_server.messages == []


def test_retrain_triggers_the_experiment_dag(monitor, smtp_server):
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    dag, runs = monitor
    run = dag.test(logical_date=runs[-1].to_pydatetime(), run_conf={**CONF, "retrain": True})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success" and states["alert"] == "success" and states["retrain"] == "success", states
    with create_session() as session:
        triggered = session.query(DagRun).filter(DagRun.dag_id == "automl_experiment").all()
    confs = [r.conf for r in triggered if (r.conf or {}).get("train_data_table") == "adult_daily"]
    assert confs and confs[-1]["ignore_columns"] == "event_time"
    assert len(smtp_server.messages) == 1


def test_retrain_without_a_time_column_reads_the_monitored_models_features(monitor, smtp_server):
    """With the form's default (no time column) the retrained model still ignores what the monitored one did
    not read (the table's event_time): trained on it, it could not predict a test table without it."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    dag, runs = monitor
    run = dag.test(logical_date=runs[-1].to_pydatetime(), run_conf={**CONF, "time_column": "", "retrain": True})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success" and states["retrain"] == "success", states
    with create_session() as session:
        triggered = session.query(DagRun).filter(DagRun.dag_id == "automl_experiment").all()
    confs = [r.conf for r in triggered if (r.conf or {}).get("train_data_table") == "adult_daily"]
    assert confs[-1]["ignore_columns"] == "event_time"
