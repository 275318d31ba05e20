"""Both DAGs with every table (input, output, tracking) in PostgreSQL and in MariaDB, schema-qualified."""

from __future__ import annotations

import pytest

from airflow_automl_provider.hooks.tracking import TrackingHook
from automl_demo import simulate_days

pytestmark = pytest.mark.system


@pytest.mark.parametrize("database", ["postgres", "mariadb"])
def test_experiment_and_monitor_on_a_server_database(database, request, dagbag, adult_frames, smtp_server):
    conn_id = {"postgres": "automl_pg", "mariadb": "automl_my"}[database]
    fixture = {"postgres": "module_postgres_schema", "mariadb": "module_mariadb_schema"}[database]
    schema = request.getfixturevalue(fixture)  # a schema of its own: the test counts rows
    train, test = adult_frames
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("adult_train", train.head(4000), schema)
    hook.replace_with_frame("adult_test", test.head(2000), schema)
    daily, runs = simulate_days(test.tail(4000), start="2026-11-01", days=2, drift_from=1)
    hook.replace_with_frame("adult_daily", daily, schema)
    common = {"conn_id": conn_id, "input_database": schema, "output_database": schema, "target_column": "class"}

    experiment = dagbag.dags["automl_experiment"].test(
        run_conf={
            **common,
            "train_data_table": "adult_train",
            "test_data_table": "adult_test",
            "positive_class": ">50K",
            "fit_time_limit": 20,
        }
    )
    assert experiment.state == "success", [(t.task_id, t.state) for t in experiment.get_task_instances()]
    d = hook.dialect
    ((model_name, shared),) = hook.query(
        f"SELECT model_name, shared_model FROM {d.table('automl_experiments', schema)}"
    )
    ((auroc,),) = hook.query(f"SELECT auroc FROM {d.table('automl_eval_results', schema)}")
    assert auroc > 0.85 and shared
    from airflow_automl_provider.hooks.model_store import run_tag

    predicted = f"adult_test_predicted_{run_tag(experiment.run_id)}"
    assert hook.query(f"SELECT COUNT(*) FROM {d.table(predicted, schema)}") == [(2000,)]

    monitor = dagbag.dags["automl_drift_monitor"]
    conf = {
        **common,
        "model_name": "",
        "test_data_table": "adult_daily",
        "time_column": "event_time",
        "positive_class": ">50K",
        "drift_auc_threshold": 0.85,
        "alert_to": "ml-team@example.com",
        "min_rows": 100,
        "retrain": False,
    }
    for day, expect_alert in zip(runs, [False, True], strict=True):
        run = monitor.test(logical_date=day.to_pydatetime(), run_conf=conf)
        states = {t.task_id: t.state for t in run.get_task_instances()}
        assert run.state == "success", states
        assert (states["alert"] == "success") == expect_alert, states
    rows = hook.query(
        f"SELECT model_name, status FROM {d.table('automl_eval_results', schema)} WHERE dag_id = 'automl_drift_monitor'"
    )
    assert sorted(rows) == [(model_name, "drift"), (model_name, "ok")]
    assert hook.query(f"SELECT COUNT(*) FROM {d.table('automl_drift_results', schema)}") == [(28,)]
    assert len(smtp_server.messages) == 1 and model_name in smtp_server.messages[0]["Subject"]
