"""Retries and faults with real Airflow runs: re-runs, SMTP down, concurrent runs, secrets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_automl_provider.hooks.tracking import TrackingHook
from automl_demo import MailCatcher, free_port, simulate_days

pytestmark = pytest.mark.system
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
PG_PASSWORD = "pg-S3cret-9f2c"
SMTP_PASSWORD = "smtp-S3cret-41ab"


def _snapshot(hook: TrackingHook, run_id: str) -> dict:
    from airflow_automl_provider.hooks.model_store import run_tag

    return {
        "experiments": hook.query(
            "SELECT task_attempt_id, model_name, shared_model FROM automl_experiments "
            "WHERE dag_id = 'automl_experiment' ORDER BY model_name"
        ),
        "evaluations": hook.query(
            "SELECT model_name, auroc, num_rows FROM automl_eval_results WHERE dag_id = 'automl_experiment'"
        ),
        "predicted": hook.query(f"SELECT COUNT(*), SUM(predicted_proba) FROM adult_test_predicted_{run_tag(run_id)}"),
        "tables": hook.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
    }


def test_rerunning_tasks_of_a_finished_run_adds_no_duplicates(experiment_run, adult_db):
    before = _snapshot(adult_db, experiment_run.run_id)
    for task_id in ("create_tables", "track_experiment", "predict", "evaluation", "record_evaluation"):
        done = subprocess.run(
            [AIRFLOW, "tasks", "test", "automl_experiment", task_id, experiment_run.run_id],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, (task_id, done.stdout[-3000:], done.stderr[-3000:])
    after = _snapshot(adult_db, experiment_run.run_id)
    assert after["evaluations"] == before["evaluations"] and len(after["evaluations"]) == 1
    assert after["predicted"] == before["predicted"] and after["tables"] == before["tables"]
    assert [r[1:] for r in after["experiments"]] == [r[1:] for r in before["experiments"]]
    assert len(after["experiments"]) == 1


@pytest.fixture(scope="module")
def pg_small(module_postgres_schema, adult_frames):
    postgres_schema = module_postgres_schema
    train, test = adult_frames
    hook = TrackingHook(conn_id="automl_pg")
    hook.replace_with_frame("small_train", train.head(2000), postgres_schema)
    hook.replace_with_frame("small_test", test.head(1000), postgres_schema)
    daily, runs = simulate_days(test.tail(3000), start="2026-11-01", days=2, drift_from=1)
    hook.replace_with_frame("small_daily", daily, postgres_schema)
    return hook, postgres_schema, runs


def test_four_experiment_runs_at_once_on_postgres(pg_small, tmp_path):
    hook, schema, _ = pg_small
    # Each run its own SQLite metadata database (tables and model store shared): one migrated here, then
    # copied while nothing has it open.
    template = tmp_path / "template"
    template.mkdir()
    sqlite_env = {
        "AIRFLOW_HOME": str(template),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{template}/airflow.db",
    }
    done = subprocess.run([AIRFLOW, "db", "migrate"], env={**os.environ, **sqlite_env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    conf = {
        "conn_id": "automl_pg",
        "input_database": schema,
        "output_database": schema,
        "train_data_table": "small_train",
        "test_data_table": "small_test",
        "positive_class": ">50K",
        "fit_time_limit": 15,
    }
    procs = []
    for i in range(4):
        own = tmp_path / f"home{i}"
        own.mkdir()
        shutil.copy(template / "airflow.db", own / "airflow.db")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(own),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{own}/airflow.db",
        }
        log = open(tmp_path / f"run{i}.log", "w")  # noqa: SIM115 (closed below)
        procs.append(
            (
                subprocess.Popen(
                    [AIRFLOW, "dags", "test", "automl_experiment", "-c", json.dumps(conf)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                ),
                log,
            )
        )
    for i, (proc, log) in enumerate(procs):
        code = proc.wait(timeout=600)
        log.close()
        assert code == 0, (tmp_path / f"run{i}.log").read_text()[-4000:]
    d = hook.dialect
    experiments = hook.query(f"SELECT model_name, shared_model FROM {d.table('automl_experiments', schema)}")
    assert len(experiments) == 4
    assert len({m for m, _ in experiments}) == 4 and len({s for _, s in experiments}) == 4
    evaluations = hook.query(f"SELECT model_name, auroc FROM {d.table('automl_eval_results', schema)}")
    assert sorted(m for m, _ in evaluations) == sorted(m for m, _ in experiments)
    assert all(a > 0.8 for _, a in evaluations)
    store = Path(os.environ["AIRFLOW__AUTOML__MODEL_STORE"][len("file://") :])
    assert all((store / m / "manifest.json").exists() for m, _ in experiments)
    # Each run predicted into its own table, recorded as written by its own model.
    records = hook.query(f"SELECT output_table, model_name FROM {d.table('automl_predictions', schema)}")
    assert sorted(m for _, m in records) == sorted(m for m, _ in experiments)
    for table, _ in records:
        assert table.startswith("small_test_predicted_")
        assert hook.query(f"SELECT COUNT(*) FROM {d.table(table, schema)}") == [(1000,)]


def _monitor_conf(schema: str, conn_id: str) -> dict:
    return {
        "conn_id": conn_id,
        "input_database": schema,
        "output_database": schema,
        "model_name": "",
        "test_data_table": "small_daily",
        "time_column": "event_time",
        "target_column": "class",
        "positive_class": ">50K",
        "drift_auc_threshold": 0.85,
        "alert_to": "ml-team@example.com",
        "min_rows": 100,
        "retrain": False,
    }


def test_smtp_down_the_alert_retries_and_is_delivered_once(pg_small, dagbag, monkeypatch):
    from aiosmtpd.controller import Controller

    hook, schema, runs = pg_small
    if not hook.query(f"SELECT 1 FROM {hook.dialect.table('automl_experiments', schema)} LIMIT 1"):
        pytest.fail("needs the models of test_four_experiment_runs_at_once_on_postgres")
    port = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=automl%40example.com&retry_limit=0",
    )
    dag = dagbag.dags["automl_drift_monitor"]
    for task in dag.tasks:
        task.retries = 0
    alert = dag.task_dict["alert"]
    alert.retries, alert.retry_delay = 2, timedelta(seconds=3)
    recorder = MailCatcher()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    # The server comes up while the alert waits for its retry.
    starter = threading.Timer(6.0, controller.start)
    starter.start()
    try:
        run = dag.test(logical_date=runs[1].to_pydatetime(), run_conf=_monitor_conf(schema, "automl_pg"))
    finally:
        starter.join()
        controller.stop()
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "success", {k: t.state for k, t in tis.items()}
    assert tis["alert"].state == "success" and tis["alert"].try_number >= 2
    assert len(recorder.messages) == 1 and recorder.messages[0]["Subject"].startswith("Drift detected")


def test_no_secret_in_logs_xcom_reports_or_mails(pg_small, dagbag, monkeypatch, capfd):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    hook, schema, runs = pg_small
    # PostgreSQL here trusts local connections, so the password is accepted and never needed.
    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_SECRET", f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:5432/test")
    logins = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode())

    port = free_port()
    recorder = MailCatcher()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://automl:{SMTP_PASSWORD}@127.0.0.1:{port}?disable_ssl=true&disable_tls=true"
        "&from_email=automl%40example.com&retry_limit=0",
    )
    try:
        experiment = dagbag.dags["automl_experiment"].test(
            run_conf={
                "conn_id": "automl_secret",
                "input_database": schema,
                "output_database": schema,
                "train_data_table": "small_train",
                "test_data_table": "small_test",
                "positive_class": ">50K",
                "fit_time_limit": 10,
            }
        )
        monitor = dagbag.dags["automl_drift_monitor"]
        for task in monitor.tasks:
            task.retries = 0
        watch = monitor.test(logical_date=runs[1].to_pydatetime(), run_conf=_monitor_conf(schema, "automl_secret"))
    finally:
        controller.stop()
    assert experiment.state == "success" and watch.state == "success"
    assert logins and logins[0][1] == SMTP_PASSWORD.encode()  # the real password was used...
    assert len(recorder.messages) == 1
    logs = capfd.readouterr()
    with create_session() as session:
        xcoms = [
            json.dumps(x.value, default=str)
            for x in session.query(XComModel).filter(XComModel.run_id.in_([experiment.run_id, watch.run_id]))
        ]
    (model,) = hook.query(
        f"SELECT model_name FROM {hook.dialect.table('automl_experiments', schema)} WHERE run_id = %s",
        [experiment.run_id],
    )[0]
    from airflow_automl_provider.hooks.model_store import ModelStoreHook

    report = ModelStoreHook().report_path(model).read_text()
    places = {"logs": logs.out + logs.err, "xcom": "\n".join(xcoms), "report": report}
    mail = recorder.messages[0]
    places["mail"] = "\n".join(f"{k}: {v}" for k, v in mail.items()) + mail.get_body(("html",)).get_content()
    assert xcoms and "AUROC" in places["mail"]
    for secret in (PG_PASSWORD, SMTP_PASSWORD):  # ...and shows up nowhere
        for where, text in places.items():
            assert secret not in text, f"{secret} found in {where}"
    assert uuid.UUID(
        hook.query(
            f"SELECT shared_model FROM {hook.dialect.table('automl_experiments', schema)} WHERE run_id = %s",
            [experiment.run_id],
        )[0][0]
    )
