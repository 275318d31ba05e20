"""
Each extra link's ``get_link`` on its own, with the XCom it reads given (``test_links.py`` runs them in a real DAG
run): the pages under ``[api] base_url``, names quoted, and the triggered run's link.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_automl_provider.links import ModelReportLink, MonitoringLink
from airflow_automl_provider.operators.monitoring import TriggeredDagRunLink

pytestmark = pytest.mark.unit

KEY = object()  # the task instance key: only handed on to XCom.get_value


@pytest.fixture
def xcoms(monkeypatch):
    """The XComs ``XCom.get_value`` returns, by key."""
    from airflow.sdk.execution_time.xcom import XCom

    values: dict[str, Any] = {}

    def get_value(*, ti_key: Any, key: str) -> Any:
        assert ti_key is KEY
        return values.get(key)

    monkeypatch.setattr(XCom, "get_value", get_value)
    return values


@pytest.mark.parametrize(
    ("base_url", "ui"),
    [
        ("https://airflow.example.com", "https://airflow.example.com/plugin/automl/automl"),
        ("https://example.org/airflow/", "https://example.org/airflow/plugin/automl/airflow/automl"),
        ("", "/plugin/automl/automl"),
    ],
)
def test_the_monitoring_link_of_a_monitor_task_opens_its_models_page(xcoms, monkeypatch, base_url, ui):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    # performance and data_drift return model_name with their figures
    xcoms["return_value"] = {"model_name": "automl_model_a.1", "auc": 0.9, "status": "ok"}
    assert MonitoringLink().get_link(None, ti_key=KEY) == f"{ui}/models/automl_model_a.1"
    assert ModelReportLink().get_link(None, ti_key=KEY) == f"{ui}/models/automl_model_a.1/report"


def test_a_model_name_is_quoted_into_one_path_segment(xcoms, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080")
    xcoms["return_value"] = {"model_name": "a/b c?d#e"}
    page = "http://localhost:8080/plugin/automl/automl/models/a%2Fb%20c%3Fd%23e"
    assert MonitoringLink().get_link(None, ti_key=KEY) == page
    assert ModelReportLink().get_link(None, ti_key=KEY) == f"{page}/report"


@pytest.mark.parametrize("value", [None, {}, {"model_name": ""}, {"model_name": 3}, ["m1"]])
def test_without_a_model_name_the_monitoring_page_of_all_models(xcoms, monkeypatch, value):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://h:8080")
    xcoms["return_value"] = value
    assert MonitoringLink().get_link(None, ti_key=KEY) == "http://h:8080/plugin/automl/automl/monitoring"
    assert ModelReportLink().get_link(None, ti_key=KEY) == ""


class _Retrain:
    trigger_dag_id = "automl experiment"


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://airflow.example.com/", "https://airflow.example.com"),
        ("", "http://localhost:8080"),  # without base_url: the API server's default address, as the e-mails
    ],
)
def test_the_triggered_run_link(xcoms, monkeypatch, base_url, expected):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    assert TriggeredDagRunLink().get_link(_Retrain(), ti_key=KEY) == ""  # nothing triggered yet
    xcoms["trigger_run_id"] = "manual__2026-11-05T07:00:00+00:00"
    assert TriggeredDagRunLink().get_link(_Retrain(), ti_key=KEY) == (
        f"{expected}/dags/automl%20experiment/runs/manual__2026-11-05T07%3A00%3A00%2B00%3A00"
    )
