"""The drop-in DAGs import cleanly and fast: no heavy library at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = ["autogluon", "sklearn", "pandas", "numpy", "scipy"]


def test_dagbag_has_no_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert "automl_experiment" in bag.dag_ids
    dag = bag.dags["automl_experiment"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "create_tables",
        "train",
        "track_experiment",
        "predict",
        "evaluation",
        "record_evaluation",
    ]
    assert {"conn_id", "input_database", "output_database", "train_data_table", "test_data_table"} <= set(dag.params)
    assert {"target_column", "positive_class", "fit_time_limit"} <= set(dag.params)


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("*.py")))
def test_dag_file_imports_no_heavy_library(dag_file):
    code = (
        "import json, runpy, sys; "
        f"runpy.run_path({str(DAGS / dag_file)!r}); "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_provider_is_registered_under_its_distribution_name():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_automl_provider")]
    info = ep.load()()
    assert info["package-name"] == ep.dist.name == "airflow-automl-provider"
    for group in ("operators", "hooks"):
        for module in info[group][0]["python-modules"]:
            __import__(module)
