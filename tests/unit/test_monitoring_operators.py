"""The drift monitor's retrain operator (operators/monitoring.py)."""

from __future__ import annotations

import pytest

from airflow_automl_provider.operators.monitoring import RetrainOperator, TriggeredDagRunLink

pytestmark = pytest.mark.unit


def test_retrain_raises_the_trigger_exception_the_task_runner_handles():
    from airflow.sdk.exceptions import DagRunTriggerException

    op = RetrainOperator(task_id="retrain", conf={"train_data_table": "daily", "ignore_columns": "event_time"})
    with pytest.raises(DagRunTriggerException) as raised:
        op.execute({})
    e = raised.value
    assert e.trigger_dag_id == "automl_experiment"
    assert e.conf == {"train_data_table": "daily", "ignore_columns": "event_time"}
    assert e.dag_run_id.startswith("manual__") and e.logical_date is not None
    assert e.dag_run_id == f"manual__{e.logical_date.isoformat()}"
    # TriggerDagRunOperator's defaults: no reset, no skip, no waiting.
    assert (e.reset_dag_run, e.skip_when_already_exists, e.wait_for_completion, e.deferrable) == (
        False,
        False,
        False,
        False,
    )
    assert [type(link) for link in op.operator_extra_links] == [TriggeredDagRunLink]


def test_retrain_takes_a_json_conf_and_a_run_id_and_refuses_what_json_cannot_hold():
    from airflow.sdk.exceptions import DagRunTriggerException

    op = RetrainOperator(task_id="retrain", trigger_dag_id="other", conf='{"a": 1}', trigger_run_id="retrain__1")
    with pytest.raises(DagRunTriggerException) as raised:
        op.execute({})
    assert (raised.value.trigger_dag_id, raised.value.conf, raised.value.dag_run_id) == (
        "other",
        {"a": 1},
        "retrain__1",
    )
    with pytest.raises(ValueError, match="JSON-serialisable"):
        RetrainOperator(task_id="bad", conf={"when": object()}).execute({})


def test_retrain_keeps_its_arguments_as_template_fields():
    assert set(RetrainOperator.template_fields) == {"trigger_dag_id", "conf", "trigger_run_id"}
    op = RetrainOperator(task_id="retrain")
    for name in RetrainOperator.template_fields:
        assert hasattr(op, name), name


def test_retraining_is_evaluated_on_the_monitored_models_own_test_table(monkeypatch, tmp_path):
    """The monitor's retrain conf names a test table: the model's own experiment's, unless one is given."""
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.operators.drift import SelectModelOperator
    from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_SELECT", f"sqlite://{tmp_path}/t.db")
    hook = TrackingHook(conn_id="automl_select")
    select = SelectModelOperator(task_id="select_model", conn_id="automl_select")
    assert select._test_evaluation("m1") is None  # no tracking tables yet
    hook.create_tables()
    hook.upsert(EXPERIMENTS, {"dag_id": "automl_experiment", "run_id": "r1", "model_name": "m1"})
    hook.upsert(EVAL_RESULTS, {"dag_id": "automl_experiment", "run_id": "r1", "model_name": "m1", "test_table": "t1"})
    # A monitoring run's evaluation of the same model is not its experiment's test table.
    hook.upsert(
        EVAL_RESULTS, {"dag_id": "automl_drift_monitor", "run_id": "d1", "model_name": "m1", "test_table": "daily"}
    )
    assert select._test_evaluation("m1")["test_table"] == "t1"
    assert select._test_evaluation("m2") is None


def test_the_experiment_row_links_the_report_page_and_takes_an_email_user_name(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from airflow_automl_provider.operators.tracking import _email, _owner_email, _report_link
    from tests.unit.test_dags import DAGS

    monkeypatch.setenv("AIRFLOW__AUTOML__OWNER_EMAIL", "ml-team@example.com")
    dag = DagBag(dag_folder=str(DAGS)).dags["automl_experiment"]
    assert _owner_email(dag, dag.task_dict["track_experiment"].owner) == "ml-team@example.com"
    assert _owner_email(dag, "someone_else") is None

    assert _email("ana@example.com") == "ana@example.com"
    assert _email("admin") is None and _email(None) is None
    assert _report_link("m 1", "file:///x/report.html").endswith("/plugin/automl/automl/models/m%201/report")
    assert _report_link("m1", None) is None


def _performance(conn_id: str, **kwargs):
    from airflow_automl_provider.operators.drift import PerformanceDriftOperator

    args = {"task_id": "performance", "conn_id": conn_id, "table": "batch", "target_column": "y"}
    args |= {"model_name": "m", "test_table": "daily", "min_rows": 2}
    return PerformanceDriftOperator(**args, **kwargs)


def test_the_monitor_never_goes_silent_on_labels(monkeypatch, tmp_path):
    """0.0/1.0 labels for a model trained on 0/1 are judged; a typo or an unjudgeable model is an error."""
    import pandas as pd
    from airflow.sdk.exceptions import AirflowFailException
    from sklearn.metrics import roc_auc_score

    from airflow_automl_provider.evaluation.measures import EvaluationError
    from airflow_automl_provider.hooks.tracking import TrackingHook

    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_MON", f"sqlite://{tmp_path}/m.db")
    y, p = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0], [0.2, 0.9, 0.4, 0.5, 0.8, 0.1]
    TrackingHook(conn_id="automl_mon").replace_with_frame("batch", pd.DataFrame({"y": y, "predicted_proba": p}))
    got = _performance("automl_mon", positive_class="1", score_class="1").execute(context={})
    assert got["status"] == "ok" and got["positives"] == 3 and got["auc"] == pytest.approx(roc_auc_score(y, p))
    with pytest.raises(EvaluationError, match=r"positive_class 'yes' is not among the labels .*\['0.0', '1.0'\]"):
        _performance("automl_mon", positive_class="yes").execute(context={})
    with pytest.raises(EvaluationError, match="positive_class '0' is not the class whose probability"):
        _performance("automl_mon", positive_class="0", score_class="1").execute(context={})
    with pytest.raises(AirflowFailException, match="is a multiclass model: the drift monitor judges .* binary"):
        _performance("automl_mon", positive_class="1", problem_type="multiclass").execute(context={})
