"""
AutoML drift monitor: every day at 07:00, judge the model on the day before's labelled data.

Each run predicts the rows of ``test_data_table`` whose ``time_column`` falls in the run's data
interval (the day before the run), computes the AUROC in SQL and records it in
``automl_eval_results``, measures data drift per feature against the training data's profile saved
with the model (``automl_drift_results``), then branches: ``alert`` e-mails "Drift detected" to
``alert_to`` (and, with ``retrain``, triggers ``automl_experiment`` on the newest data), or
``no_drift``.

Setup: the ``automl_default`` connection (see ``automl_experiment``), and an ``smtp_default``
connection for the alert, for example
``AIRFLOW_CONN_SMTP_DEFAULT='smtp://user:password@smtp.example.com:587?from_email=automl%40example.com'``
(add ``disable_tls=true&disable_ssl=true`` for a plain local relay). The schedule's timezone is the
config option ``[automl] drift_timezone`` (env ``AIRFLOW__AUTOML__DRIFT_TIMEZONE``, default UTC), for
example ``America/Los_Angeles``, read when this file is parsed.

Rules (see ``airflow_automl_provider.monitoring`` and docs/monitoring.md, with their measured
error rates): alert when the day's AUROC, or the mean AUROC of the last ``window_days`` days, is
significantly under the baseline (the model's AUROC on its experiment's test table, else its
validation AUROC) less ``max_auc_drop``; or when a feature drifted (batch-size-aware tests per
feature, Holm-corrected at ``drift_alpha``, with a minimum effect). ``drift_auc_threshold`` adds a
fixed bound (empty by default). A batch under ``min_rows`` rows, or with fewer than 10 rows of a
class, is recorded as ``insufficient_data`` (its data drift is still judged); an empty batch fails
the run.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, CronTriggerTimetable, Param, XComArg

from airflow_automl_provider.config import conn_id_param, drift_timezone, owner_email
from airflow_automl_provider.monitoring import SIGNIFICANCES, DriftRules, choose_branch
from airflow_automl_provider.monitoring.statistics import DEFAULT_ALPHA
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator
from airflow_automl_provider.operators.drift import DataDriftOperator, PerformanceDriftOperator, SelectModelOperator
from airflow_automl_provider.operators.monitoring import AlertEmailOperator
from airflow_automl_provider.operators.tracking import CreateTrackingTablesOperator, RecordEvaluationOperator

MODEL = "ti.xcom_pull(task_ids='select_model')"
PREDICTED = "ti.xcom_pull(task_ids='predict')"
REPORT = "ti.xcom_pull(task_ids='decide', key='report')"
BATCH = "automl_drift_batch"
# The schedule's timezone, read from the [automl] config section when the file is parsed (env
# AIRFLOW__AUTOML__DRIFT_TIMEZONE): no Variable, so no metadata database round trip at every parse.
TIMEZONE = drift_timezone()

ALERT_BODY = """
{% set r = REPORT %}
<h2>Drift detected for model {{ r.model_name }}</h2>
<p>Batch: {{ params.test_data_table }}, {{ data_interval_start }} to {{ data_interval_end }},
{{ '{:,}'.format(r.rows) if r.rows is number else r.rows }} rows ({{ '{:,}'.format(r.positives) if r.positives is number else r.positives }} positive).</p>
<table border="1" cellpadding="4" cellspacing="0">
<tr><th align="left">AUROC</th><td>{{ '%.4f' % r.auc if r.auc is not none else 'n/a' }}
{% if r.auc_high is not none %} (95% interval {{ '%.4f' % r.auc_low }} to {{ '%.4f' % r.auc_high }}){% endif %}</td></tr>
<tr><th align="left">Threshold</th><td>{{ r.threshold if r.threshold is not none else 'none (the drop under the baseline is judged)' }}</td></tr>
<tr><th align="left">Baseline ({{ r.baseline_source or 'none recorded' }})</th><td>{{ '%.4f' % r.baseline if r.baseline is not none else 'n/a' }}</td></tr>
{% if r.z is not none %}<tr><th align="left">z-score against the baseline</th><td>{{ '%.2f' % r.z }} over {{ r.z_days }} day(s)
(alert at or under -{{ r.z_bound }})</td></tr>{% endif %}
<tr><th align="left">Drifted features</th><td>{{ r.drifted | length }} ({{ '%.0f%%' % (100 * (r.drifted_share or 0)) }})</td></tr>
</table>
<h3>Why</h3>
<ul>{% for reason in r.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>
{% if r.drifted %}<h3>Drifted features</h3>
<table border="1" cellpadding="4" cellspacing="0"><tr><th>feature</th><th>test</th><th>statistic</th><th>value</th><th>minimum</th><th>p-value (Holm)</th><th>level</th><th>PSI</th></tr>
{% for f in r.drifted %}<tr><td>{{ f.feature }}</td><td>{{ f.test }}</td><td>{{ f.statistic }}</td><td>{{ '%.4f' % f.value }}</td>
<td>{{ f.threshold }}</td><td>{{ '%.2g' % f.p_value if f.p_value is not none else '' }}</td><td>{{ f.alpha }}</td>
<td>{{ '%.4f' % f.psi }}</td></tr>{% endfor %}</table>{% endif %}
{% if r.unreadable_time_rows %}<p>{{ r.unreadable_time_rows }} rows of {{ params.test_data_table }} have a
{{ params.time_column }} that does not read as a time: no day's batch holds them.</p>{% endif %}
<p><a href="{{ r.run_url }}">Open the run in Airflow</a></p>
""".replace("REPORT", REPORT)

OWNER_EMAIL = owner_email()


with DAG(
    dag_id="automl_drift_monitor",
    description="Daily performance and data drift of an AutoML model, with e-mail alerts and retraining",
    schedule=CronTriggerTimetable(
        "0 7 * * *",
        timezone=TIMEZONE,
        # Each run covers the day before it: [day-1 07:00, day 07:00).
        interval=timedelta(days=1),
    ),
    catchup=False,
    max_active_runs=1,  # runs share the batch table
    tags=["automl", "monitoring"],
    doc_md=__doc__,
    # The owner's address (`[automl] owner_email`): the user_email of experiments the scheduler started.
    owner_links={"automl": f"mailto:{OWNER_EMAIL}"} if OWNER_EMAIL else {},
    default_args={"owner": "automl", "retries": 1, "retry_delay": timedelta(minutes=5)},
    params={
        # A drop-down of [automl] allowed_conn_ids, read when the file is parsed.
        "conn_id": conn_id_param(),
        "model_name": Param(
            None, type=["null", "string"], description="Model to monitor. Empty: the newest one recorded."
        ),
        "input_database": Param(
            None, type=["null", "string"], description="Schema of test_data_table. Empty: the connection's default."
        ),
        "output_database": Param(
            None,
            type=["null", "string"],
            description="Schema of the tracking tables. Empty: the connection's default.",
        ),
        "test_data_table": Param("gluon_daily", type="string", description="fresh labelled data"),
        "time_column": Param(
            None,
            type=["null", "string"],
            description="Judge only the rows whose time falls in the run's data interval. Empty: all rows.",
        ),
        "target_column": Param("class", type="string", description="the label column"),
        "positive_class": Param(
            None,
            type=["null", "string"],
            description="The positive label. Empty: the one AutoGluon picked when training.",
        ),
        "drift_auc_threshold": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description=(
                "A fixed bound: alert when the AUROC (its upper confidence bound unless significance is none) is "
                "under it, e.g. the digdag workflow's 0.93. Empty: no fixed bound, the drop under the baseline is "
                "judged."
            ),
        ),
        "max_auc_drop": Param(
            DriftRules.max_auc_drop,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description=(
                "The AUROC drop under the baseline that is tolerated: alert when the AUROC is significantly under "
                "the baseline less this. Empty: no such rule."
            ),
        ),
        "max_drifted_share": Param(
            DriftRules.max_drifted_share,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description="Alert when more than this share of the features drifted (0: any). Empty: never on data drift.",
        ),
        "drift_alpha": Param(
            DEFAULT_ALPHA,
            type="number",
            exclusiveMinimum=0,
            maximum=0.5,
            description="Data drift: family-wise error rate of the tests over all features of a day.",
        ),
        "drift_method": Param(
            "tests",
            enum=["tests", "distance"],
            description="Data drift: tests that know the batch size, or Evidently's distances at 0.1 (any size).",
        ),
        "min_rows": Param(
            100, type="integer", minimum=1, description="Smaller batches (in rows) are not judged on their AUROC."
        ),
        "significance": Param(
            DriftRules.significance,
            enum=list(SIGNIFICANCES),
            description=(
                "sequential: z-test of the day's AUROC and of the last window_days days' mean against the baseline; "
                "delong: the upper bound of the day's DeLong interval; none: the AUROC itself."
            ),
        ),
        "window_days": Param(
            DriftRules.window_days,
            type="integer",
            minimum=1,
            description="sequential: the most days judged together (1: each day alone).",
        ),
        "consecutive_runs": Param(
            1, type="integer", minimum=1, description="Runs in a row under drift_auc_threshold before it alerts."
        ),
        "alert_to": Param("ml-team@example.com", type="string", description="alert recipients, comma-separated"),
        "retrain": Param(False, type="boolean", description="On drift, retrain with automl_experiment."),
        "retrain_test_table": Param(
            None,
            type=["null", "string"],
            description=(
                "Table a retrained model is evaluated on. Empty: the table the monitored model was evaluated on "
                "by its own experiment."
            ),
        ),
    },
) as dag:
    create_tables = CreateTrackingTablesOperator(
        task_id="create_tables", conn_id="{{ params.conn_id }}", schema="{{ params.output_database or '' }}"
    )
    select_model = SelectModelOperator(
        task_id="select_model",
        conn_id="{{ params.conn_id }}",
        schema="{{ params.output_database or '' }}",
        model_name="{{ params.model_name or '' }}",
    )
    predict = AutoGluonPredictOperator(
        task_id="predict",
        conn_id="{{ params.conn_id }}",
        model_name=f"{{{{ {MODEL}['model_name'] }}}}",
        input_table="{{ params.test_data_table }}",
        input_schema="{{ params.input_database or '' }}",
        output_table=BATCH,
        output_schema="{{ params.output_database or '' }}",
        time_column="{{ params.time_column or '' }}",
    )
    performance = PerformanceDriftOperator(
        task_id="performance",
        conn_id="{{ params.conn_id }}",
        table=BATCH,
        schema="{{ params.output_database or '' }}",
        target_column="{{ params.target_column }}",
        positive_class=f"{{{{ params.positive_class or {MODEL}['positive_class'] }}}}",
        score_class=f"{{{{ {MODEL}['positive_class'] }}}}",
        problem_type=f"{{{{ {MODEL}['problem_type'] }}}}",
        model_name=f"{{{{ {MODEL}['model_name'] }}}}",
        test_table="{{ params.test_data_table }}",
        baseline=f"{{{{ {MODEL}['baseline_auroc'] }}}}",
        baseline_source=f"{{{{ {MODEL}['baseline_source'] or '' }}}}",
        baseline_table=f"{{{{ {MODEL}['baseline_table'] or '' }}}}",
        threshold="{{ '' if params.drift_auc_threshold is none else params.drift_auc_threshold }}",
        min_rows="{{ params.min_rows }}",
        significance="{{ params.significance }}",
        consecutive_runs="{{ params.consecutive_runs }}",
        window_days="{{ params.window_days }}",
    )
    data_drift = DataDriftOperator(
        task_id="data_drift",
        conn_id="{{ params.conn_id }}",
        table=BATCH,
        schema="{{ params.output_database or '' }}",
        model_name=f"{{{{ {MODEL}['model_name'] }}}}",
        test_table="{{ params.test_data_table }}",
        method="{{ params.drift_method }}",
        alpha="{{ params.drift_alpha }}",
    )
    decide = BranchPythonOperator(
        task_id="decide",
        python_callable=choose_branch,
        # The tasks whose XComs it reads and those it may follow; rename them here too.
        op_kwargs={
            "performance_task_id": performance.task_id,
            "data_drift_task_id": data_drift.task_id,
            "model_task_id": select_model.task_id,
            "predict_task_id": predict.task_id,
            "record_task_id": "record_evaluation",
            "alert_task_id": "alert",
            "retrain_task_id": "retrain",
            "no_drift_task_id": "no_drift",
        },
    )
    # Recorded with the day's decision (status ok, drift or insufficient_data, and the reasons).
    record_evaluation = RecordEvaluationOperator(
        task_id="record_evaluation",
        conn_id="{{ params.conn_id }}",
        schema="{{ params.output_database or '' }}",
        model_name=f"{{{{ {MODEL}['model_name'] }}}}",
        test_table="{{ params.test_data_table }}",
        metrics=XComArg(decide, key="report"),
    )
    alert = AlertEmailOperator(
        task_id="alert",
        to="{{ params.alert_to }}",
        subject=f"Drift detected: {{{{ {REPORT}['model_name'] }}}}",
        html_content=ALERT_BODY,
        retries=3,
        retry_delay=timedelta(minutes=2),
    )
    retrain = TriggerDagRunOperator(
        task_id="retrain",
        trigger_dag_id="automl_experiment",
        conf={
            "conn_id": "{{ params.conn_id }}",
            "input_database": "{{ params.input_database or '' }}",
            "output_database": "{{ params.output_database or '' }}",
            "train_data_table": "{{ params.test_data_table }}",
            # Evaluated on a table it was not trained on: the one given, else the monitored model's own.
            "test_data_table": f"{{{{ params.retrain_test_table or {MODEL}['test_table'] or '' }}}}",
            "target_column": "{{ params.target_column }}",
            "positive_class": "{{ params.positive_class or '' }}",
            # The features of the monitored model, not every column of the table: the time column and any
            # column the model did not read (predict's unused_columns) are ignored.
            "ignore_columns": f"{{{{ {PREDICTED}['unused_columns'] | join(',') }}}}",
        },
    )
    no_drift = EmptyOperator(task_id="no_drift")

    create_tables >> select_model >> predict >> [performance, data_drift] >> decide
    decide >> [record_evaluation, alert, retrain, no_drift]
