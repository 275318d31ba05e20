from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_automl_provider.hooks.tracking import TrackingHook
from automl_demo import MailCatcher, free_port


@pytest.fixture(scope="session")
def airflow_db(airflow_metadata):
    """The session's Airflow metadata database (PostgreSQL, tests/conftest.py), migrated."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _parse_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    """DAGs parsed afresh for each module: in-process dag.test() runs share (and update) a DAG's params."""
    return _parse_dags()


@pytest.fixture(scope="session")
def adult_db(adult_frames, tmp_path_factory):
    path = tmp_path_factory.mktemp("system") / "automl.db"
    os.environ["AIRFLOW_CONN_AUTOML_SYSTEM"] = f"sqlite://{path}"
    train, test = adult_frames
    hook = TrackingHook(conn_id="automl_system")
    hook.replace_with_frame("adult_train", train)
    hook.replace_with_frame("adult_test", test)
    return hook


@pytest.fixture(scope="session")
def experiment_run(airflow_db, adult_db):
    """One run of automl_experiment on Adult, shared by the tests that need a trained, tracked model."""
    dag = _parse_dags().dags["automl_experiment"]
    return dag.test(
        run_conf={
            "conn_id": "automl_system",
            "train_data_table": "adult_train",
            "test_data_table": "adult_test",
            "target_column": "class",
            "positive_class": ">50K",
            "fit_time_limit": 45,
        }
    )


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server on loopback that keeps what it receives; smtp_default points at it."""
    from aiosmtpd.controller import Controller

    port = free_port()
    recorder = MailCatcher()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true&from_email=automl%40example.com&retry_limit=0",
    )
    yield recorder
    controller.stop()
