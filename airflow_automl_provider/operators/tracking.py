"""Create the tracking tables and record experiments and evaluations in them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.operators.base import AutoMLBaseOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

# The hook (AutoMLBaseOperator.hook), the schemas and the SQL helpers are imported when a task runs, so that
# DAG files using these operators parse without loading them (docs/benchmarks.md, "DAG parsing").


def session_time(context: Context) -> Any:
    """The run's own time (its logical date, else when it was due), never the wall clock."""
    dag_run = context["dag_run"]
    return dag_run.logical_date or dag_run.run_after


class CreateTrackingTablesOperator(AutoMLBaseOperator):
    """
    Create every table the package writes, where missing, on any common-sql connection.

    :param conn_id: common-sql connection of the tracking database. (templated)
    :param schema: schema to create them in; empty for the connection's default. (templated)
    """

    template_fields: Sequence[str] = (*AutoMLBaseOperator.template_fields, "schema")
    ui_color = "#ededed"

    def __init__(self, *, schema: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        tables = self.hook.create_tables(self.schema or None)
        self.log.info("Tracking tables ready: %s", tables)
        return {"tables": tables}


class TrackExperimentOperator(AutoMLBaseOperator):
    """
    Record one experiment in ``automl_experiments`` (one row per model per DAG run; a retry replaces it).

    Every field defaults from the Airflow context and from the XCom of ``train_task_id``.

    :param conn_id: common-sql connection of the tracking database. (templated)
    :param schema: schema of the tracking tables. (templated)
    :param train_task_id: task whose XCom gives the model's name, shared id and report link.
    :param task_attempt_id: default: the task instance id and try number. (templated)
    :param session_time: default: the run's logical date, else its ``run_after``. (templated)
    :param user_id: default: the user who triggered the run, else the DAG owner. (templated)
    :param user_email: default: the triggering user's name when it is an e-mail address (as auth managers
        that log users in by e-mail give it), else the DAG owner's (a ``mailto:`` link in the DAG's
        ``owner_links``), else the first address of the task's ``email``. (templated)
    :param model_name: default: the train task's model. (templated)
    :param shared_model: default: the train task's shared id. (templated)
    :param notebook_url: link to the model's report; default: its AutoML page in the Airflow UI (under
        ``[api] base_url``), or the report file's location when the model has no report page. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "schema",
        "task_attempt_id",
        "session_time",
        "user_id",
        "user_email",
        "model_name",
        "shared_model",
        "notebook_url",
    )
    ui_color = "#fbe8c8"

    def __init__(
        self,
        *,
        schema: str | None = None,
        train_task_id: str | None = "train",
        task_attempt_id: str | None = None,
        session_time: Any = None,
        user_id: str | None = None,
        user_email: str | None = None,
        model_name: str | None = None,
        shared_model: str | None = None,
        notebook_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schema = schema
        self.train_task_id = train_task_id
        self.task_attempt_id = task_attempt_id
        self.session_time = session_time
        self.user_id = user_id
        self.user_email = user_email
        self.model_name = model_name
        self.shared_model = shared_model
        self.notebook_url = notebook_url

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.schemas import EXPERIMENTS
        from airflow_automl_provider.sql import timestamp_value

        ti = context["ti"]
        dag_run = context["dag_run"]
        trained: dict[str, Any] = {}
        if self.train_task_id:
            trained = ti.xcom_pull(task_ids=self.train_task_id) or {}
        model_name = self.model_name or trained.get("model_name")
        if not model_name:
            raise ValueError(f"No model_name given and none in the XCom of task {self.train_task_id!r}.")
        emails = [self.email] if isinstance(self.email, str) else list(self.email or [])
        hook = self.hook
        d = hook.dialect
        row = {
            "task_attempt_id": self.task_attempt_id or f"{ti.id}-{ti.try_number}",
            "session_time": timestamp_value(d, self.session_time or session_time(context)),
            "user_id": self.user_id or dag_run.triggering_user_name or self.owner,
            "user_email": self.user_email
            or _email(dag_run.triggering_user_name)
            or _owner_email(context.get("dag"), self.owner)
            or (emails[0] if emails else None),
            "model_name": model_name,
            "shared_model": self.shared_model or trained.get("shared_model"),
            "notebook_url": self.notebook_url or _report_link(model_name, trained.get("report_uri")),
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "try_number": ti.try_number,
            "logical_date": timestamp_value(d, dag_run.logical_date),
            "problem_type": trained.get("problem_type"),
            "eval_metric": trained.get("eval_metric"),
            "score_val": trained.get("score_val"),
            "model_uri": trained.get("model_uri"),
            "best_model": trained.get("best_model"),
            "num_rows_train": trained.get("num_rows_train"),
            "time_limit": trained.get("time_limit"),
            "presets": _text(trained.get("presets")),
            "input_table": trained.get("input_table"),
            "params_json": json.dumps(trained["fit_params"], sort_keys=True) if trained.get("fit_params") else None,
        }
        hook.upsert(EXPERIMENTS, row, self.schema or None)
        self.log.info("Recorded experiment %s in %s", model_name, d.table(EXPERIMENTS.name, self.schema or None))
        return {k: row[k] for k in ("task_attempt_id", "model_name", "shared_model", "user_id", "notebook_url")}


class RecordEvaluationOperator(AutoMLBaseOperator):
    """
    Record one evaluation in ``automl_eval_results`` (one row per model, test table and DAG run).

    :param conn_id: common-sql connection of the tracking database. (templated)
    :param schema: schema of the tracking tables. (templated)
    :param model_name: the evaluated model. (templated)
    :param test_table: the table it was evaluated on. (templated)
    :param auroc: the AUROC, when not in ``metrics``. (templated)
    :param metrics: measures to record, for example the XCom of an evaluation task; the standard ones
        (``auroc``/``auc``, ``log_loss``, ``accuracy``, ...) get columns, all are kept in ``metrics_json``. (templated)
    :param session_time: default: the run's logical date, else its ``run_after``. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "schema",
        "model_name",
        "test_table",
        "auroc",
        "metrics",
        "session_time",
    )
    template_fields_renderers = {"metrics": "json"}
    ui_color = "#fbe8c8"

    def __init__(
        self,
        *,
        schema: str | None = None,
        model_name: str,
        test_table: str,
        auroc: float | str | None = None,
        metrics: dict[str, Any] | str | None = None,
        session_time: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schema = schema
        self.model_name = model_name
        self.test_table = test_table
        self.auroc = auroc
        self.metrics = metrics
        self.session_time = session_time

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.schemas import EVAL_MEASURES, EVAL_RESULTS
        from airflow_automl_provider.sql import timestamp_value

        metrics = self.metrics or {}
        if isinstance(metrics, str):
            metrics = json.loads(metrics)
        metrics = dict(metrics)
        if "auc" in metrics and "auroc" not in metrics:
            metrics["auroc"] = metrics["auc"]
        if self.auroc not in (None, ""):
            metrics["auroc"] = float(self.auroc)
        status = metrics.get("status") or "ok"
        if status == "ok" and not any(metrics.get(m) is not None for m in EVAL_MEASURES):
            raise ValueError(
                f"No measure to record for model {self.model_name!r}: expected one of {list(EVAL_MEASURES)}."
            )
        hook = self.hook
        ti = context["ti"]
        row = {
            "session_time": timestamp_value(hook.dialect, self.session_time or session_time(context)),
            "model_name": self.model_name,
            "test_table": self.test_table,
            **{m: (float(metrics[m]) if metrics.get(m) is not None else None) for m in EVAL_MEASURES},
            "num_rows": metrics.get("rows"),
            "positives": metrics.get("positives"),
            "status": status,
            "metrics_json": json.dumps(metrics, sort_keys=True, default=str),
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
        }
        hook.upsert(EVAL_RESULTS, row, self.schema or None)
        self.log.info("Recorded evaluation of %s on %s: %s", self.model_name, self.test_table, metrics)
        return {"model_name": self.model_name, "test_table": self.test_table, "auroc": row["auroc"]}


def _text(value: Any) -> str | None:
    """A presets list (AutoGluon takes one) as comma-separated text."""
    if value is None or value == "":
        return None
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def _email(name: str | None) -> str | None:
    """A user name that is an e-mail address."""
    import re

    return name if name and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", name) else None


def _owner_email(dag: Any, owner: str | None) -> str | None:
    """The task owner's address from the DAG's ``owner_links`` (``{"automl": "mailto:ml-team@example.com"}``)."""
    link = (getattr(dag, "owner_links", None) or {}).get(owner or "")
    return _email(link.removeprefix("mailto:")) if isinstance(link, str) and link.startswith("mailto:") else None


def _report_link(model_name: str, report_uri: str | None) -> str | None:
    """The model's report as a browser opens it: its AutoML page inside the Airflow UI."""
    from urllib.parse import quote

    from airflow_automl_provider.links import ui_url

    return ui_url(f"/models/{quote(model_name, safe='')}/report") if report_uri else None
