"""The experiment DAG end to end with dag.test() on SQLite and the real UCI Adult data."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.system


def test_experiment_dag_on_adult(experiment_run, adult_db):
    run = experiment_run
    assert run.state == "success", [(ti.task_id, ti.state) for ti in run.get_task_instances()]

    hook = adult_db
    (exp,) = hook.query(
        "SELECT task_attempt_id, session_time, user_id, model_name, shared_model, notebook_url, dag_id, run_id, "
        "try_number, problem_type, score_val FROM automl_experiments WHERE dag_id = 'automl_experiment'"
    )
    attempt, session_time, user_id, model_name, shared, notebook, dag_id, run_id, try_number, problem, score = exp
    assert model_name.startswith("automl_model_") and "/" not in model_name
    assert str(uuid.UUID(shared)) == shared
    # The report as a browser opens it: the model's page inside the Airflow UI (the file is in the store).
    assert notebook.endswith(f"/plugin/automl/automl/models/{model_name}/report"), notebook
    from airflow_automl_provider.hooks.model_store import ModelStoreHook

    assert ModelStoreHook().report_path(model_name).read_text().lower().startswith("<!doctype html>")
    assert (dag_id, run_id, try_number, problem) == ("automl_experiment", run.run_id, 1, "binary")
    assert attempt and session_time and user_id
    assert 0.85 < score <= 1.0

    (ev,) = hook.query(
        "SELECT model_name, test_table, auroc, num_rows, positives, accuracy FROM automl_eval_results "
        "WHERE dag_id = 'automl_experiment'"
    )
    assert ev[:2] == (model_name, "adult_test")
    assert ev[2] > 0.90, f"AUROC on Adult test: {ev[2]}"
    assert (ev[3], ev[4]) == (16281, 3846)
    print(f"\nAdult test AUROC recorded by the DAG: {ev[2]:.4f} (accuracy {ev[5]:.4f})")

    # The run's own prediction table, recorded as written by its model.
    from airflow_automl_provider.hooks.model_store import run_tag

    predicted = f"adult_test_predicted_{run_tag(run.run_id)}"
    assert hook.query(f"SELECT COUNT(*) FROM {predicted}") == [(16281,)]
    assert hook.prediction_record(predicted)["model_name"] == model_name
    assert hook.query("SELECT COUNT(DISTINCT model_name) FROM automl_leaderboard") == [(1,)]
    fi = hook.read_frame("automl_feature_importance")
    assert set(fi["feature"]) <= set(hook.columns("adult_train")) and len(fi) >= 10


def test_the_train_task_announces_the_model_as_an_asset(experiment_run, adult_db):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    ((model_name, shared),) = adult_db.query(
        "SELECT model_name, shared_model FROM automl_experiments WHERE run_id = ?", [experiment_run.run_id]
    )
    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "automl_experiment_model", AssetEvent.source_run_id == experiment_run.run_id)
            .all()
        )
        extras = [e.extra for e in events]
    assert len(extras) == 1
    assert extras[0]["model_name"] == model_name and extras[0]["shared_model"] == shared
