"""
The drift monitor's alert and retrain steps.

:class:`AlertEmailOperator` is the smtp provider's ``EmailOperator`` that fails at once, naming the
command that fixes it, when its SMTP connection is not defined (``smtp_default`` does not exist in a
fresh Airflow; the plain operator retries for minutes on that while the run shows "running").

:class:`RetrainOperator` triggers the training DAG without importing ``TriggerDagRunOperator``.

``TriggerDagRunOperator``'s module (``airflow.models.dagrun``, ``airflow.models.serialized_dag``,
SQLAlchemy) costs about 0.02 s at every parse of a DAG file that imports it, although on Airflow 3
its ``execute()`` only raises ``DagRunTriggerException`` for the task runner to trigger the run.
:class:`RetrainOperator` does the same with this module importing only ``airflow.sdk`` at its top
(``docs/benchmarks.md``, "DAG parsing"). The drift monitor's branch and e-mail alert use the
standard and smtp providers' ``BranchPythonOperator`` and ``EmailOperator``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.sdk import BaseOperator, BaseOperatorLink

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context, TaskInstanceKey

# The XCom key under which Airflow's task runner stores the triggered run's id (as for
# TriggerDagRunOperator), read back by TriggeredDagRunLink.
XCOM_RUN_ID = "trigger_run_id"


class TriggeredDagRunLink(BaseOperatorLink):
    """The DAG run that a :class:`RetrainOperator` triggered."""

    name = "Triggered DAG"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        from airflow_automl_provider.config import api_base_url
        from airflow_automl_provider.monitoring import run_link

        run_id = XCom.get_value(ti_key=ti_key, key=XCOM_RUN_ID)
        if not run_id:
            return ""
        return run_link(api_base_url(absolute=True), operator.trigger_dag_id, run_id)


class RetrainOperator(BaseOperator):
    """
    Trigger a run of the training DAG (``automl_experiment`` by default) with the given conf.

    Does what the standard provider's ``TriggerDagRunOperator`` does on Airflow 3 with its defaults
    (a manual run, logical date now, no waiting): ``execute()`` raises
    ``airflow.sdk.exceptions.DagRunTriggerException``, and Airflow's task runner creates the run and
    stores its id in the XCom ``trigger_run_id``. A run id that already exists fails the task.

    :param trigger_dag_id: the DAG to trigger. (templated)
    :param conf: the triggered run's conf (``params``), JSON-serialisable. (templated)
    :param trigger_run_id: the triggered run's id; empty: ``manual__<now>``, as Airflow makes it. (templated)
    """

    template_fields: Sequence[str] = ("trigger_dag_id", "conf", "trigger_run_id")
    template_fields_renderers = {"conf": "json"}
    ui_color = "#ffefeb"
    operator_extra_links = (TriggeredDagRunLink(),)

    def __init__(
        self,
        *,
        trigger_dag_id: str = "automl_experiment",
        conf: dict[str, Any] | None = None,
        trigger_run_id: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.conf = conf
        self.trigger_run_id = trigger_run_id

    def execute(self, context: Context) -> None:
        import json
        from datetime import UTC, datetime

        from airflow.sdk.exceptions import DagRunTriggerException

        conf = json.loads(self.conf) if isinstance(self.conf, str) else self.conf
        try:
            json.dumps(conf)
        except TypeError as e:
            raise ValueError(f"conf must be JSON-serialisable: {conf!r}") from e
        now = datetime.now(UTC)
        # Airflow's own manual run id (DagRunType.MANUAL.generate_run_id): "manual__<logical date>".
        run_id = self.trigger_run_id or f"manual__{now.isoformat()}"
        self.log.info("Triggering %s, run %s, conf %s", self.trigger_dag_id, run_id, conf)
        raise DagRunTriggerException(
            trigger_dag_id=self.trigger_dag_id,
            dag_run_id=run_id,
            conf=conf,
            logical_date=now,
            reset_dag_run=False,
            skip_when_already_exists=False,
            wait_for_completion=False,
            allowed_states=["success"],
            failed_states=["failed"],
            poke_interval=60,
            deferrable=False,
        )


class AlertEmailOperator(EmailOperator):
    """
    ``EmailOperator`` whose missing SMTP connection fails the task without retries, with a message naming
    the connection and the command that defines it. Every argument is ``EmailOperator``'s.
    """

    ui_color = "#f7d5d5"

    def execute(self, context: Context) -> Any:
        from airflow_automl_provider.connections import get_connection

        get_connection(self.conn_id, "smtp")
        return super().execute(context)
