"""The drift monitor's model selection and performance operators (operators/drift.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


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
