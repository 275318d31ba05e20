"""choose_branch reads and returns the task ids it is given, the shipped DAG's by default."""

from __future__ import annotations

import pytest

from airflow_automl_provider.monitoring.branch import choose_branch

pytestmark = pytest.mark.unit

DROPPED = {"status": "ok", "auc": 0.70, "auc_low": 0.68, "auc_high": 0.72, "baseline": 0.90, "consecutive_below": 1}


class FakeTI:
    dag_id, run_id = "monitor", "manual__1"

    def __init__(self, xcoms: dict) -> None:
        self.xcoms, self.pushed, self.pulled = xcoms, {}, []

    def xcom_pull(self, task_ids: str) -> dict | None:
        self.pulled.append(task_ids)
        return self.xcoms.get(task_ids)

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_the_shipped_dags_task_ids_by_default():
    ti = FakeTI({"performance": DROPPED, "select_model": {"model_name": "m"}})
    params = {"significance": "none", "max_auc_drop": 0.05, "retrain": True}
    assert choose_branch(ti, params) == ["record_evaluation", "alert", "retrain"]
    assert ti.pulled == ["performance", "data_drift", "select_model", "predict"]
    assert ti.pushed["report"]["model_name"] == "m" and ti.pushed["report"]["alert"] is True


def test_other_task_ids_as_keyword_arguments():
    ids = {
        "performance_task_id": "perf",
        "data_drift_task_id": "features",
        "model_task_id": "model",
        "predict_task_id": "score",
        "record_task_id": "record",
        "alert_task_id": "mail",
        "retrain_task_id": "refit",
        "no_drift_task_id": "fine",
    }
    ti = FakeTI({"perf": DROPPED, "model": {"model_name": "m"}})
    params = {"significance": "none", "max_auc_drop": 0.05, "retrain": True}
    assert choose_branch(ti, params, **ids) == ["record", "mail", "refit"]
    assert ti.pulled == ["perf", "features", "model", "score"]
    ti = FakeTI({"perf": {**DROPPED, "auc": 0.9, "auc_high": 0.92}})
    assert choose_branch(ti, params, **ids) == ["record", "fine"]
