"""RetrainOperator (operators/monitoring.py): the standard TriggerDagRunOperator aimed at the training DAG."""

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
    # TriggerDagRunOperator's own check and message (since issue 18; this package's said "JSON-serialisable").
    with pytest.raises(ValueError, match="JSON Serializable"):
        RetrainOperator(task_id="bad", conf={"when": object()}).execute({})


def test_retrain_is_the_standard_trigger_operator_and_keeps_its_arguments_as_template_fields():
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    assert issubclass(RetrainOperator, TriggerDagRunOperator)
    assert {"trigger_dag_id", "conf", "trigger_run_id"} <= set(RetrainOperator.template_fields)
    op = RetrainOperator(task_id="retrain")
    for name in RetrainOperator.template_fields:
        assert hasattr(op, name), name
