"""
The drift monitor's branch: the ``BranchPythonOperator`` callable that applies the rules to the
day's XComs, pushes the day's report and picks the tasks to follow.

The DAG file imports this module at parse time: nothing heavy at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_automl_provider.monitoring.rules import decide, rules_from_params

if TYPE_CHECKING:
    from collections.abc import Mapping


def run_link(base_url: str, dag_id: str, run_id: str) -> str:
    """Link to a DAG run in the Airflow 3 UI."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def choose_branch(
    ti: Any,
    params: Mapping[str, Any],
    dag_run: Any = None,
    *,
    performance_task_id: str = "performance",
    data_drift_task_id: str = "data_drift",
    model_task_id: str = "select_model",
    predict_task_id: str = "predict",
    record_task_id: str = "record_evaluation",
    alert_task_id: str = "alert",
    retrain_task_id: str = "retrain",
    no_drift_task_id: str = "no_drift",
    **_: Any,
) -> list[str]:
    """
    The monitor DAG's ``BranchPythonOperator`` callable: push the day's report, return the task ids to follow.

    The task ids default to those of ``dags/automl_drift_monitor.py``; a DAG that names its tasks
    otherwise passes its own in ``op_kwargs``.

    :param ti: the deciding task instance: reads the XComs, pushes the report under ``report``.
    :param params: the DAG's params, read by :func:`.rules.rules_from_params` (and ``retrain``).
    :param dag_run: the DAG run (unused; Airflow passes it from the context).
    :param performance_task_id: the task whose XCom holds the AUROC and its baseline.
    :param data_drift_task_id: the task whose XCom holds the features' drift.
    :param model_task_id: the task whose XCom names the monitored model.
    :param predict_task_id: the prediction task (its XCom counts the rows whose time did not read).
    :param record_task_id: followed in every case: records the day's report.
    :param alert_task_id: followed on an alert.
    :param retrain_task_id: followed on an alert when the ``retrain`` param is set.
    :param no_drift_task_id: followed when nothing drifted.
    :return: the task ids to follow.
    """
    from airflow_automl_provider import config

    performance = ti.xcom_pull(task_ids=performance_task_id) or {}
    data_drift = ti.xcom_pull(task_ids=data_drift_task_id) or {}
    model = ti.xcom_pull(task_ids=model_task_id) or {}
    predicted = ti.xcom_pull(task_ids=predict_task_id) or {}
    rules = rules_from_params(params)
    decision = decide(performance, data_drift, rules)
    figures = decision.figures
    base_url = config.api_base_url(absolute=True)
    report = {
        "model_name": model.get("model_name"),
        "auroc": performance.get("auc"),
        "pr_auc": performance.get("pr_auc"),
        "status": decision.status,
        "alert": decision.alert,
        "reasons": decision.reasons,
        "auc": performance.get("auc"),
        "auc_low": performance.get("auc_low"),
        "auc_high": performance.get("auc_high"),
        "rows": performance.get("rows"),
        "positives": performance.get("positives"),
        "threshold": rules.auc_threshold,
        "baseline": performance.get("baseline"),
        "baseline_source": performance.get("baseline_source"),
        "baseline_variance": performance.get("baseline_variance"),
        # The sequential rule's figures; the next runs read auc and auc_null_variance back.
        "auc_null_variance": performance.get("auc_null_variance"),
        "z": figures.get("z"),
        "z_days": figures.get("z_days"),
        "window_auc": figures.get("window_auc"),
        "z_bound": rules.z_bound if rules.significance == "sequential" else None,
        "max_auc_drop": rules.max_auc_drop,
        "significance": rules.significance,
        "drifted": data_drift.get("drifted", []),
        "drift_method": data_drift.get("method"),
        "drift_alpha": data_drift.get("alpha"),
        "drifted_share": data_drift.get("drifted_share"),
        "run_url": run_link(base_url, ti.dag_id, ti.run_id),
        # Rows of the monitored table whose time did not read as one: in no day's batch.
        "unreadable_time_rows": predicted.get("unreadable_time_rows"),
    }
    ti.xcom_push(key="report", value=report)
    if not decision.alert:
        return [record_task_id, no_drift_task_id]
    return [record_task_id, alert_task_id, *([retrain_task_id] if params.get("retrain") else [])]
