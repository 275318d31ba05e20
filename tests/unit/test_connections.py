"""A connection the package needs but Airflow does not have fails the task at once, naming the fix."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_missing_sql_connection_names_it_and_the_command(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_automl_provider.hooks.tracking import TrackingHook

    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_DB", raising=False)
    with pytest.raises(AirflowFailException) as err:
        TrackingHook(conn_id="no_such_db").db_hook  # noqa: B018 (the property opens the connection)
    text = str(err.value)
    assert "'no_such_db'" in text and "airflow connections add no_such_db --conn-uri" in text
    assert "AIRFLOW_CONN_NO_SUCH_DB=" in text


def test_defined_connection_is_returned(monkeypatch, tmp_path):
    from airflow_automl_provider.connections import get_connection

    monkeypatch.setenv("AIRFLOW_CONN_SOME_DB", f"sqlite://{tmp_path}/x.db")
    assert get_connection("some_db", "sql").conn_type == "sqlite"


def test_alert_without_smtp_connection_fails_without_retry(monkeypatch):
    """A fresh Airflow has no smtp_default: the alert fails at once (AirflowFailException: no retries)."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_automl_provider.operators.monitoring import AlertEmailOperator

    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alert = AlertEmailOperator(task_id="alert", to="a@example.com", subject="s", html_content="b", retries=3)
    with pytest.raises(AirflowFailException) as err:
        alert.execute({})
    text = str(err.value)
    assert "'smtp_default'" in text and "SMTP server" in text
    assert "airflow connections add smtp_default --conn-uri 'smtp://" in text
    assert "AIRFLOW_CONN_SMTP_DEFAULT=" in text
