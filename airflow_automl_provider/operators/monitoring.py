"""
The drift monitor's alert and retrain steps.

:class:`AlertEmailOperator` is the smtp provider's ``EmailOperator`` that fails at once, naming the
command that fixes it, when its SMTP connection is not defined (``smtp_default`` does not exist in a
fresh Airflow; the plain operator retries for minutes on that while the run shows "running").

The drift monitor retrains with the standard provider's ``TriggerDagRunOperator``. :class:`RetrainOperator`
is that operator with the training DAG as its default target and :class:`TriggeredDagRunLink`, which
keeps ``[api] base_url``'s path; it stays for the DAGs that import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.providers.standard.operators.trigger_dagrun import XCOM_RUN_ID, TriggerDagRunOperator
from airflow.sdk import BaseOperator, BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import Context, TaskInstanceKey


class TriggeredDagRunLink(BaseOperatorLink):
    """The DAG run that a ``TriggerDagRunOperator`` (or :class:`RetrainOperator`) triggered, under ``[api] base_url``."""

    name = "Triggered DAG"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        from airflow_automl_provider.config import api_base_url
        from airflow_automl_provider.monitoring import run_link

        run_id = XCom.get_value(ti_key=ti_key, key=XCOM_RUN_ID)
        if not run_id:
            return ""
        return run_link(api_base_url(absolute=True), operator.trigger_dag_id, run_id)


class RetrainOperator(TriggerDagRunOperator):
    """
    The standard provider's ``TriggerDagRunOperator`` with the training DAG (``automl_experiment``) as its
    default target and the :class:`TriggeredDagRunLink`. Every argument is ``TriggerDagRunOperator``'s.

    :param trigger_dag_id: the DAG to trigger. (templated)
    """

    operator_extra_links = (TriggeredDagRunLink(),)

    def __init__(self, *, trigger_dag_id: str = "automl_experiment", **kwargs: Any):
        super().__init__(trigger_dag_id=trigger_dag_id, **kwargs)


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
