"""AutoMLBaseOperator: the connection every SQL operator shares, and the hooks built once from it."""

from __future__ import annotations

import pytest

from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator, AutoGluonTrainOperator
from airflow_automl_provider.operators.base import AutoMLBaseOperator
from airflow_automl_provider.operators.drift import DataDriftOperator, PerformanceDriftOperator, SelectModelOperator
from airflow_automl_provider.operators.evaluation import AUROCEvaluationOperator, EvaluateModelOperator
from airflow_automl_provider.operators.tracking import (
    CreateTrackingTablesOperator,
    RecordEvaluationOperator,
    TrackExperimentOperator,
)

pytestmark = pytest.mark.unit

# Each operator's template_fields as they were before the base class: the same names, in the same order.
TEMPLATE_FIELDS = {
    AutoGluonTrainOperator: (
        "conn_id",
        "input_table",
        "target_column",
        "model_name",
        "time_limit",
        "problem_type",
        "eval_metric",
        "presets",
        "ignore_columns",
        "hyperparameters",
        "share_model",
        "export_leaderboard",
        "export_feature_importance",
        "input_schema",
        "output_schema",
        "model_store",
        "fit_kwargs",
        "check_input_tables",
        "check_output_tables",
    ),
    AutoGluonPredictOperator: (
        "conn_id",
        "model_name",
        "shared_model",
        "input_table",
        "output_table",
        "rowid_column",
        "ignore_columns",
        "input_schema",
        "output_schema",
        "model_store",
        "time_column",
        "time_start",
        "time_end",
    ),
    CreateTrackingTablesOperator: ("conn_id", "schema"),
    TrackExperimentOperator: (
        "conn_id",
        "schema",
        "task_attempt_id",
        "session_time",
        "user_id",
        "user_email",
        "model_name",
        "shared_model",
        "notebook_url",
    ),
    RecordEvaluationOperator: ("conn_id", "schema", "model_name", "test_table", "auroc", "metrics", "session_time"),
    AUROCEvaluationOperator: (
        "conn_id",
        "table",
        "target_column",
        "positive_class",
        "score_column",
        "schema",
        "score_class",
    ),
    EvaluateModelOperator: (
        "conn_id",
        "table",
        "target_column",
        "problem_type",
        "positive_class",
        "prediction_column",
        "score_column",
        "probabilities_column",
        "schema",
        "model_name",
        "score_class",
    ),
    SelectModelOperator: ("conn_id", "schema", "model_name", "model_store"),
    PerformanceDriftOperator: (
        "conn_id",
        "table",
        "schema",
        "target_column",
        "positive_class",
        "score_class",
        "problem_type",
        "score_column",
        "model_name",
        "test_table",
        "baseline",
        "baseline_source",
        "baseline_table",
        "threshold",
        "min_rows",
        "significance",
        "confidence",
        "consecutive_runs",
        "window_days",
    ),
    DataDriftOperator: (
        "conn_id",
        "table",
        "schema",
        "model_name",
        "test_table",
        "method",
        "alpha",
        "numeric_threshold",
        "categorical_threshold",
        "model_store",
    ),
}

# The fewest arguments each operator needs.
REQUIRED = {
    AutoGluonTrainOperator: {"input_table": "t", "target_column": "y", "model_name": "m"},
    AutoGluonPredictOperator: {"input_table": "t", "output_table": "p"},
    CreateTrackingTablesOperator: {},
    TrackExperimentOperator: {},
    RecordEvaluationOperator: {"model_name": "m", "test_table": "t"},
    AUROCEvaluationOperator: {"table": "t", "target_column": "y", "positive_class": 1},
    EvaluateModelOperator: {"table": "t", "target_column": "y"},
    SelectModelOperator: {},
    PerformanceDriftOperator: {
        "table": "t",
        "target_column": "y",
        "positive_class": 1,
        "model_name": "m",
        "test_table": "t",
    },
    DataDriftOperator: {"table": "t", "model_name": "m", "test_table": "t"},
}


def test_every_sql_operator_of_the_package_inherits_the_base():
    import inspect

    from airflow.sdk import BaseOperator

    from airflow_automl_provider.operators import autogluon, drift, evaluation, tracking

    found = {
        cls
        for module in (autogluon, drift, evaluation, tracking)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseOperator) and cls.__module__ == module.__name__
    }
    assert found == set(TEMPLATE_FIELDS)
    assert all(issubclass(cls, AutoMLBaseOperator) for cls in found)


@pytest.mark.parametrize("cls", list(TEMPLATE_FIELDS), ids=lambda cls: cls.__name__)
def test_template_fields_are_the_bases_then_the_operators_own_unchanged(cls):
    assert AutoMLBaseOperator.template_fields == ("conn_id",)
    assert tuple(cls.template_fields) == TEMPLATE_FIELDS[cls]
    assert tuple(cls.template_fields[: len(AutoMLBaseOperator.template_fields)]) == AutoMLBaseOperator.template_fields
    op = cls(task_id="t", **REQUIRED[cls])
    for name in cls.template_fields:
        assert hasattr(op, name), name
    assert op.conn_id == "automl_default"  # the default every operator had


@pytest.mark.parametrize("cls", list(TEMPLATE_FIELDS), ids=lambda cls: cls.__name__)
def test_conn_id_comes_from_the_argument_or_the_dags_default_args(cls):
    from airflow.sdk import DAG

    assert cls(task_id="t", conn_id="automl_other", **REQUIRED[cls]).conn_id == "automl_other"
    with DAG(dag_id="d", schedule=None, default_args={"conn_id": "automl_from_defaults"}):
        assert cls(task_id="t", **REQUIRED[cls]).conn_id == "automl_from_defaults"


def test_an_argument_an_operator_does_not_take_is_still_refused():
    """The base takes conn_id only: ``schema`` stays an argument of the operators that had it."""
    with pytest.raises(TypeError, match="Invalid arguments"):
        AutoGluonPredictOperator(task_id="t", input_table="t", output_table="p", schema="s")


def test_the_hook_is_built_once_from_the_rendered_conn_id(monkeypatch, tmp_path):
    import airflow_automl_provider.hooks.tracking as tracking

    built = []

    class CountingHook(tracking.TrackingHook):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            built.append(self)

    monkeypatch.setattr(tracking, "TrackingHook", CountingHook)
    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_BASE_DB", f"sqlite://{tmp_path}/base.db")
    op = CreateTrackingTablesOperator(task_id="create", conn_id="{{ params.db }}", schema="")
    op.render_template_fields({"params": {"db": "automl_base_db"}})
    assert op.conn_id == "automl_base_db"
    result = op.execute({})
    assert op.hook is op.hook and built == [op.hook]
    assert op.hook.conn_id == "automl_base_db"
    assert '"automl_experiments"' in result["tables"]
    assert (tmp_path / "base.db").exists()
    # Another task instance builds its own.
    other = CreateTrackingTablesOperator(task_id="other", conn_id="automl_base_db")
    assert other.hook is not op.hook and len(built) == 2


def test_the_model_store_is_built_once_from_model_store(tmp_path):
    from airflow_automl_provider.config import model_store
    from airflow_automl_provider.hooks.model_store import ModelStoreHook

    op = SelectModelOperator(task_id="select", model_store=f"file://{tmp_path}/models")
    store = op.model_store_hook
    assert isinstance(store, ModelStoreHook) and op.model_store_hook is store
    assert str(store.base) == str(ModelStoreHook(base_uri=f"file://{tmp_path}/models").base)
    # Empty (a form field left blank): [automl] model_store.
    default = DataDriftOperator(task_id="drift", table="t", model_name="m", test_table="t", model_store="")
    assert str(default.model_store_hook.base) == str(ModelStoreHook(base_uri=model_store()).base)


def test_a_connection_outside_the_allow_list_is_refused_before_it_is_opened(monkeypatch, tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_default")
    monkeypatch.setenv("AIRFLOW_CONN_PRIVATE_DB", f"sqlite://{tmp_path}/private.db")
    op = CreateTrackingTablesOperator(task_id="create", conn_id="private_db")
    with pytest.raises(
        AirflowFailException,
        match=r"Connection 'private_db' is not one the AutoML provider may use: \[automl\] allowed_conn_ids is "
        r"\['automl_default'\]",
    ):
        op.execute({})
    assert not (tmp_path / "private.db").exists()  # never opened
    evaluate = EvaluateModelOperator(
        task_id="evaluate", conn_id="private_db", table="t", target_column="y", positive_class=1
    )
    with pytest.raises(AirflowFailException, match="'private_db' is not one the AutoML provider may use"):
        evaluate.execute({})
