"""A connection the package needs but Airflow does not have fails the task at once, naming the fix."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_missing_sql_connection_names_it_and_the_command(monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_automl_provider.hooks.tracking import TrackingHook

    monkeypatch.delenv("AIRFLOW_CONN_AUTOML_NO_SUCH_DB", raising=False)
    with pytest.raises(AirflowFailException) as err:
        TrackingHook(conn_id="automl_no_such_db").db_hook  # noqa: B018 (the property opens the connection)
    text = str(err.value)
    assert "'automl_no_such_db'" in text and "airflow connections add automl_no_such_db --conn-uri" in text
    assert "AIRFLOW_CONN_AUTOML_NO_SUCH_DB=" in text


def test_defined_connection_is_returned(monkeypatch, tmp_path):
    from airflow_automl_provider.connections import get_connection

    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_SOME_DB", f"sqlite://{tmp_path}/x.db")
    assert get_connection("automl_some_db", "sql").conn_type == "sqlite"


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


def test_a_connection_outside_the_allow_list_is_refused_before_it_is_opened(monkeypatch):
    """Anyone who may trigger a DAG picks conn_id in its form: only the configured connections are reachable."""
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_automl_provider.hooks.tracking import TrackingHook

    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_default, automl_wh_*")
    monkeypatch.setenv("AIRFLOW_CONN_PRIVATE_DB", "sqlite:///nonexistent/never/opened.db")
    with pytest.raises(AirflowFailException, match=r"'private_db' is not one .* \['automl_default', 'automl_wh_\*'\]"):
        TrackingHook(conn_id="private_db").db_hook  # noqa: B018
    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_WH_1", "sqlite:///tmp/automl_wh_1.db")
    assert TrackingHook(conn_id="automl_wh_1").db_hook.get_conn_id() == "automl_wh_1"  # a pattern matches


def test_the_ui_connection_is_always_allowed(monkeypatch):
    from airflow_automl_provider.config import allowed_conn_ids, check_conn_id

    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_default")
    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "tracking_ro")
    assert allowed_conn_ids() == ["automl_default", "tracking_ro"]
    assert check_conn_id("tracking_ro") == "tracking_ro"


def test_schemas_outside_a_configured_list_are_refused(monkeypatch):
    from airflow_automl_provider.config import NotAllowedError
    from airflow_automl_provider.sql import split_table_name

    monkeypatch.delenv("AIRFLOW__AUTOML__ALLOWED_SCHEMAS", raising=False)
    assert split_table_name("private.salaries") == ("private", "salaries")  # no list: any schema
    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_SCHEMAS", "ml_datasets,automl_*")
    assert split_table_name("t", "automl_test") == ("automl_test", "t")
    assert split_table_name("t") == (None, "t")  # the connection's default schema
    for table, schema in (("private.salaries", None), ("salaries", "private")):
        with pytest.raises(NotAllowedError, match="Schema 'private' is not one .*allowed_schemas"):
            split_table_name(table, schema)


def test_the_forms_conn_id_is_a_drop_down_of_the_allowed_connections(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from tests.unit.test_dags import DAGS

    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_default,automl_warehouse")
    for dag in DagBag(dag_folder=str(DAGS)).dags.values():
        param = dag.params.get_param("conn_id")
        assert param.schema["enum"] == ["automl_default", "automl_warehouse"] and param.value == "automl_default"
    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_*")  # patterns: free text, checked at run
    for dag in DagBag(dag_folder=str(DAGS)).dags.values():
        assert "enum" not in dag.params.get_param("conn_id").schema
