"""The experiment tracking operator's row: links and user e-mail (operators/tracking.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_the_experiment_row_links_the_report_page_and_takes_an_email_user_name(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from airflow_automl_provider.operators.tracking import _email, _owner_email, _report_link
    from tests.unit.test_dags import DAGS

    monkeypatch.setenv("AIRFLOW__AUTOML__OWNER_EMAIL", "ml-team@example.com")
    dag = DagBag(dag_folder=str(DAGS)).dags["automl_experiment"]
    assert _owner_email(dag, dag.task_dict["track_experiment"].owner) == "ml-team@example.com"
    assert _owner_email(dag, "someone_else") is None

    assert _email("ana@example.com") == "ana@example.com"
    assert _email("admin") is None and _email(None) is None
    assert _report_link("m 1", "file:///x/report.html").endswith("/plugin/automl/automl/models/m%201/report")
    assert _report_link("m1", None) is None
