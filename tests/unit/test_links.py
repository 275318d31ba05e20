"""
The operator extra links open the AutoML pages inside the Airflow UI: a real DAG run (``dag.test()``) whose tasks
return XComs as the train, evaluation, performance and data_drift tasks do; Airflow's task runner calls the links'
``get_link`` with the real XCom and stores each link as the XCom the UI shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_automl_provider.links import URL_ROUTE, ui_url

pytestmark = pytest.mark.unit

MODEL = "automl_model_manual__2026-01-01T00_00_00_00_00"


@pytest.fixture(scope="module")
def metadata_db(airflow_metadata):
    done = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


DAG_FILE = f"""
from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, BaseOperator

from airflow_automl_provider.links import ModelReportLink, MonitoringLink


class Returns(BaseOperator):
    \"\"\"Returns ``value`` as its XCom, with both AutoML links (as train and the evaluation tasks have them).\"\"\"

    operator_extra_links = (ModelReportLink(), MonitoringLink())

    def __init__(self, *, value: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value

    def execute(self, context: Any) -> Any:
        return self.value


with DAG(dag_id="automl_links_test", schedule=None) as dag:
    Returns(task_id="train", value={{"model_name": "{MODEL}", "score_val": 0.91}})
    Returns(task_id="evaluation", value={{"model_name": "{MODEL}", "auc": 0.93, "rows": 100}})
    Returns(task_id="data_drift", value={{"model_name": "{MODEL}", "features": 4, "drifted": []}})
    Returns(task_id="older_xcom", value={{"auc": 0.93}})  # an XCom without model_name
"""


@pytest.fixture(scope="module")
def links_dag(metadata_db, tmp_path_factory):
    """The DAG above in a DAG bundle of its own (``dag.test()`` runs DAGs that a bundle holds)."""
    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path_factory.mktemp("links_bundle")
    (folder / "automl_links_test.py").write_text(DAG_FILE)
    bundles = [
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {
            "name": "automl_links_test",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder)},
        },
    ]
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    return bag.dags["automl_links_test"], json.dumps(bundles)


def _run_and_read_links(links_dag, base_url: str, monkeypatch) -> dict[str, dict[str, Any]]:
    """Run the DAG; the links Airflow's task runner stored (XComs ``_link_<class>``), by task."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag, bundles = links_dag
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", bundles)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    run = dag.test()
    assert run.state == "success"
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag.dag_id, XComModel.run_id == run.run_id).all()
        links: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row.key.startswith("_link_"):
                links.setdefault(row.task_id, {})[row.key.removeprefix("_link_")] = XComModel.deserialize_value(row)
    return links


def test_links_open_the_model_pages_inside_the_airflow_ui(links_dag, monkeypatch):
    links = _run_and_read_links(links_dag, "http://airflow.example:8080", monkeypatch)
    ui = f"http://airflow.example:8080/plugin/{URL_ROUTE}/automl"
    assert links["train"]["ModelReportLink"] == f"{ui}/models/{MODEL}/report"
    for task in ("train", "evaluation", "data_drift"):
        assert links[task]["MonitoringLink"] == f"{ui}/models/{MODEL}", task
    # An XCom without a model name: the monitoring page of all models, and no report link.
    assert links["older_xcom"] == {"ModelReportLink": "", "MonitoringLink": f"{ui}/monitoring"}


def test_links_keep_a_base_path(links_dag, monkeypatch):
    """Airflow under a path: the UI's plugin route and the frame's page both sit under it."""
    links = _run_and_read_links(links_dag, "https://example.org/airflow/", monkeypatch)
    assert links["evaluation"]["MonitoringLink"] == (
        f"https://example.org/airflow/plugin/{URL_ROUTE}/airflow/automl/models/{MODEL}"
    )


def test_ui_url_without_a_base_url_is_relative_to_the_ui(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    assert ui_url("/monitoring", model="a b", threshold=None) == f"/plugin/{URL_ROUTE}/automl/monitoring?model=a+b"


def test_the_link_route_is_the_plugins_url_route():
    from airflow_automl_provider.plugins.app import URL_PREFIX
    from airflow_automl_provider.plugins.automl_plugin import AutoMLPlugin

    (view,) = AutoMLPlugin.external_views
    assert view["url_route"] == URL_ROUTE
    assert AutoMLPlugin.fastapi_apps[0]["url_prefix"] == URL_PREFIX == "/automl"
