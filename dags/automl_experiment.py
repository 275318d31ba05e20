"""
AutoML experiment: train an AutoGluon model on a SQL table, track it, predict a test table, evaluate, record.

Drop this file into your ``dags/`` folder, point the ``automl_default`` connection at your database
(any common-sql connection: ``sqlite:///abs/path.db``, ``postgresql://user@host/db``, ...) and trigger
the DAG from the UI; the form is built from ``params``. The tasks mirror Treasure Data's digdag
``ml_experiment.dig``: create tables, train, track experiment, predict, evaluation, record evaluation.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from airflow_automl_provider.assets import AUTOML_EXPERIMENT_MODEL
from airflow_automl_provider.config import conn_id_param, owner_email, train_pool, train_queue, train_task_mem
from airflow_automl_provider.hooks.model_store import run_tag, safe_model_name
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator, AutoGluonTrainOperator
from airflow_automl_provider.operators.evaluation import EvaluateModelOperator
from airflow_automl_provider.operators.tracking import (
    CreateTrackingTablesOperator,
    RecordEvaluationOperator,
    TrackExperimentOperator,
)

TRAINED = "ti.xcom_pull(task_ids='train')"

# Training is heavy. Where configured, the train task runs on a Celery queue of its own (workers started
# with `--queues default,automl` take it), in a pool whose slots cap how many fits run at once, and, under
# the KubernetesExecutor, in a pod sized by a memory hint (digdag's `docker.task_mem`). Queue, pool and
# executor_config are not templated, so they come from the [automl] config section (env
# AIRFLOW__AUTOML__TRAIN_QUEUE, ..._TRAIN_POOL, ..._TRAIN_TASK_MEM) when the file is parsed.
# `airflow dags test` / dag.test() ignore queue and pool. See docs/deployment.md.
# Empty (the default): the executor's default queue and Airflow's `default_pool`, so a fresh Airflow runs
# `train` as it is. A pool named here must exist first (`airflow pools set NAME SLOTS DESCRIPTION`): a task
# whose pool is missing is never scheduled, and only the scheduler's log says why.
TRAIN_QUEUE = train_queue()
TRAIN_POOL = train_pool()
TRAIN_TASK_MEM = train_task_mem()


def train_executor_config(task_mem: str) -> dict:
    """``{"pod_override": V1Pod}`` requesting (and limited to) ``task_mem``, e.g. ``16Gi``; ``{}`` without a
    hint or without the kubernetes client (only the KubernetesExecutor reads it; Celery ignores it)."""
    if not task_mem:
        return {}
    try:
        from kubernetes.client import models as k8s
    except ImportError:
        return {}
    resources = k8s.V1ResourceRequirements(requests={"memory": task_mem}, limits={"memory": task_mem})
    # "base" is the container the KubernetesExecutor runs the task in.
    container = k8s.V1Container(name="base", resources=resources)
    return {"pod_override": k8s.V1Pod(spec=k8s.V1PodSpec(containers=[container]))}


# Each run predicts into a table of its own (its run id's hash), which the evaluation checks it wrote.
PREDICTED = "{{ params.test_data_table }}_predicted_{{ run_id | run_tag }}"

OWNER_EMAIL = owner_email()


with DAG(
    dag_id="automl_experiment",
    description="Train, track, predict, evaluate and record an AutoGluon model on SQL tables",
    schedule=None,
    catchup=False,
    tags=["automl"],
    doc_md=__doc__,
    user_defined_filters={"model_name": safe_model_name, "run_tag": run_tag},
    # The owner's address (`[automl] owner_email`): the user_email of experiments the scheduler started.
    owner_links={"automl": f"mailto:{OWNER_EMAIL}"} if OWNER_EMAIL else {},
    default_args={"owner": "automl", "retries": 0},
    params={
        # A drop-down of [automl] allowed_conn_ids, read when the file is parsed.
        "conn_id": conn_id_param(),
        "input_database": Param(
            None, type=["null", "string"], description="Schema of the input tables. Empty: the connection's default."
        ),
        "output_database": Param(
            None, type=["null", "string"], description="Schema of the output tables. Empty: the connection's default."
        ),
        "train_data_table": Param("gluon_train", type="string", minLength=1, description="Table to train on."),
        "test_data_table": Param(
            "gluon_test", type="string", minLength=1, description="Labelled table to evaluate on."
        ),
        "target_column": Param("class", type="string", minLength=1, description="The label column."),
        "positive_class": Param(
            None,
            type=["null", "string"],
            description="The positive label, for AUROC and precision. Empty: the one AutoGluon picked when training.",
        ),
        "fit_time_limit": Param(180, type="integer", minimum=1, description="AutoGluon time_limit, in seconds."),
        "eval_metric": Param(
            None,
            type=["null", "string"],
            description="AutoGluon eval_metric, for example roc_auc. Empty: AutoGluon's default for the problem.",
        ),
        "presets": Param("medium_quality", type="string", minLength=1, description="AutoGluon presets."),
        "ignore_columns": Param(
            "time",
            type=["null", "string"],
            description="Comma-separated columns not to train on. Empty: train on every column but the label.",
        ),
    },
) as dag:
    create_tables = CreateTrackingTablesOperator(
        task_id="create_tables",
        conn_id="{{ params.conn_id }}",
        schema="{{ params.output_database or '' }}",
    )
    train = AutoGluonTrainOperator(
        task_id="train",
        conn_id="{{ params.conn_id }}",
        input_table="{{ params.train_data_table }}",
        input_schema="{{ params.input_database or '' }}",
        output_schema="{{ params.output_database or '' }}",
        target_column="{{ params.target_column }}",
        model_name="{{ run_id | model_name('automl_model_') }}",
        time_limit="{{ params.fit_time_limit }}",
        eval_metric="{{ params.eval_metric or '' }}",
        presets="{{ params.presets }}",
        ignore_columns="{{ params.ignore_columns or '' }}",
        share_model=True,
        export_leaderboard="automl_leaderboard",
        export_feature_importance="automl_feature_importance",
        # What predict and evaluation read and write, checked before the fit.
        check_input_tables=["{{ params.test_data_table }}"],
        check_output_tables=[PREDICTED],
        outlets=[AUTOML_EXPERIMENT_MODEL],  # "a new model was trained", for DAGs scheduled on it
        queue=TRAIN_QUEUE,
        pool=TRAIN_POOL,
        executor_config=train_executor_config(TRAIN_TASK_MEM),
    )
    track_experiment = TrackExperimentOperator(
        task_id="track_experiment",
        conn_id="{{ params.conn_id }}",
        schema="{{ params.output_database or '' }}",
        train_task_id="train",
    )
    predict = AutoGluonPredictOperator(
        task_id="predict",
        conn_id="{{ params.conn_id }}",
        model_name=f"{{{{ {TRAINED}['model_name'] }}}}",
        input_table="{{ params.test_data_table }}",
        input_schema="{{ params.input_database or '' }}",
        output_table=PREDICTED,
        output_schema="{{ params.output_database or '' }}",
    )
    evaluation = EvaluateModelOperator(
        task_id="evaluation",
        conn_id="{{ params.conn_id }}",
        table=PREDICTED,
        schema="{{ params.output_database or '' }}",
        target_column="{{ params.target_column }}",
        problem_type=f"{{{{ {TRAINED}['problem_type'] }}}}",
        positive_class=f"{{{{ params.positive_class or {TRAINED}['positive_class'] }}}}",
        model_name=f"{{{{ {TRAINED}['model_name'] }}}}",
        score_class=f"{{{{ {TRAINED}['positive_class'] }}}}",
    )
    record_evaluation = RecordEvaluationOperator(
        task_id="record_evaluation",
        conn_id="{{ params.conn_id }}",
        schema="{{ params.output_database or '' }}",
        model_name=f"{{{{ {TRAINED}['model_name'] }}}}",
        test_table="{{ params.test_data_table }}",
        metrics=evaluation.output,
    )

    create_tables >> train >> track_experiment >> predict >> evaluation >> record_evaluation
