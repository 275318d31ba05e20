"""The drop-in DAGs import cleanly and fast: no heavy library at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC
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


def test_drift_monitor_runs_daily_at_seven_over_the_day_before():
    from datetime import datetime, timedelta

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable

    dag = DagBag(dag_folder=str(DAGS)).dags["automl_drift_monitor"]
    assert dag.catchup is False
    # The scheduler's view of the timetable (the SDK one only describes it).
    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(
        run_after=datetime(2026, 11, 2, 7, tzinfo=UTC)
    )
    assert (interval.start, interval.end) == (
        datetime(2026, 11, 1, 7, tzinfo=UTC),
        datetime(2026, 11, 2, 7, tzinfo=UTC),
    )
    assert interval.end - interval.start == timedelta(days=1)
    expected = {"conn_id", "model_name", "input_database", "output_database", "test_data_table", "time_column"}
    expected |= {"target_column", "positive_class", "drift_auc_threshold", "max_auc_drop", "max_drifted_share"}
    expected |= {"min_rows", "alert_to", "retrain"}
    assert expected <= set(dag.params)
    # The defaults agree with the rules' own (docs/monitoring.md cites the same).
    from airflow_automl_provider.monitoring import DriftRules
    from airflow_automl_provider.monitoring.statistics import DEFAULT_ALPHA

    rules = DriftRules()
    assert dag.params["drift_auc_threshold"] is None and rules.auc_threshold is None
    assert dag.params["max_auc_drop"] == rules.max_auc_drop and dag.params["significance"] == rules.significance
    assert dag.params["max_drifted_share"] == rules.max_drifted_share
    assert dag.params["window_days"] == rules.window_days and dag.params["drift_alpha"] == DEFAULT_ALPHA
    assert set(dag.task_dict["decide"].downstream_task_ids) == {"record_evaluation", "alert", "retrain", "no_drift"}


def test_drift_monitor_branches_and_alerts_with_the_providers_operators():
    """The design: a BranchPythonOperator decides, an EmailOperator sends the alert."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.smtp.operators.smtp import EmailOperator
    from airflow.providers.standard.operators.python import BranchPythonOperator

    from airflow_automl_provider.monitoring import choose_branch

    dag = DagBag(dag_folder=str(DAGS)).dags["automl_drift_monitor"]
    decide, alert = dag.task_dict["decide"], dag.task_dict["alert"]
    assert isinstance(decide, BranchPythonOperator) and decide.python_callable is choose_branch
    assert isinstance(alert, EmailOperator)
    assert (alert.to, alert.retries) == ("{{ params.alert_to }}", 3)
    assert alert.subject.startswith("Drift detected: ")


def test_drift_monitor_timezone_comes_from_the_automl_config(monkeypatch):
    from datetime import datetime

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    monkeypatch.setenv("AIRFLOW__AUTOML__DRIFT_TIMEZONE", "Europe/Paris")
    dag = DagBag(dag_folder=str(DAGS)).dags["automl_drift_monitor"]
    info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=datetime(2026, 11, 2, tzinfo=UTC), latest=None, catchup=True),
    )
    # 07:00 in Paris (UTC+1 in November) is 06:00 UTC; the run covers the day before it.
    assert info.run_after == datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert (info.data_interval.start, info.data_interval.end) == (
        datetime(2026, 11, 1, 6, tzinfo=UTC),
        datetime(2026, 11, 2, 6, tzinfo=UTC),
    )


def test_drift_monitor_parses_without_a_variable_or_our_hooks():
    """No Variable.get and none of this package's hooks, metrics or SQL modules at parse time: the operators
    import those in execute() (docs/benchmarks.md, "DAG parsing").

    The branch, the alert and the retraining are the standard and smtp providers' BranchPythonOperator,
    EmailOperator and TriggerDagRunOperator, so their modules are loaded (TriggerDagRunOperator's since
    issue 18: the file still parses under the target, docs/benchmarks.md).
    """
    slow = [
        "airflow_automl_provider.hooks.model_store",
        "airflow_automl_provider.hooks.table",
        "airflow_automl_provider.hooks.tracking",
        "airflow_automl_provider.evaluation.measures",
        "airflow_automl_provider.operators.evaluation",
        "airflow_automl_provider.pipeline",
        "airflow_automl_provider.schemas",
        "airflow_automl_provider.sql",
    ]
    code = (
        "import json, runpy, sys\n"
        "import airflow.sdk\n"
        "from airflow.sdk import Variable\n"
        "def refuse(*a, **k): raise AssertionError('Variable.get at parse time')\n"
        "Variable.get = refuse\n"
        f"runpy.run_path({str(DAGS / 'automl_drift_monitor.py')!r})\n"
        f"print(json.dumps(sorted(m for m in {slow!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_experiment_dag_parses_without_the_evaluation_or_table_modules():
    """The evaluation operators import the measures, the AUROC strategies, the hooks and the dialects when a
    task runs, not when the file is parsed (the experiment DAG's own import of hooks.model_store names models)."""
    slow = [
        "airflow_automl_provider.dialects",
        "airflow_automl_provider.evaluation.auroc",
        "airflow_automl_provider.evaluation.measures",
        "airflow_automl_provider.hooks.table",
        "airflow_automl_provider.hooks.tracking",
        "airflow_automl_provider.pipeline",
        "airflow_automl_provider.schemas",
        "airflow_automl_provider.sql",
    ]
    code = (
        "import json, runpy, sys\n"
        f"runpy.run_path({str(DAGS / 'automl_experiment.py')!r})\n"
        f"print(json.dumps(sorted(m for m in {slow!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


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


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return [bag.dags["automl_experiment"], bag.dags["automl_drift_monitor"]]


def _nullable(schema: dict) -> bool:
    kind = schema.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


@pytest.mark.parametrize("dag_index", [0, 1], ids=["automl_experiment", "automl_drift_monitor"])
def test_trigger_form_defaults_validate_and_empty_fields_are_optional(dag_index):
    """
    The UI's trigger form marks a field as required unless its schema allows null: a param whose
    default is empty must allow null, or the form cannot be submitted with its defaults.
    """
    dag = _dags()[dag_index]
    dag.params.validate()  # the defaults are valid, as the form sends them
    empty_defaults = []
    for name in dag.params:
        param = dag.params.get_param(name)
        assert param.description, f"{dag.dag_id}.{name} has no description for the form"
        if param.value in (None, ""):
            empty_defaults.append(name)
            assert _nullable(param.schema), f"{dag.dag_id}.{name} defaults to empty but its schema refuses null"
            assert param.value is None, f"{dag.dag_id}.{name}: an empty default is None, not ''"
    assert empty_defaults  # the DAGs do have optional fields


def _template_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _template_strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _template_strings(v)


@pytest.mark.parametrize("dag_index", [0, 1], ids=["automl_experiment", "automl_drift_monitor"])
def test_nullable_params_never_render_as_none(dag_index):
    """``{{ params.x }}`` of a null param renders the text 'None': templates read ``params.x or ''``."""
    import jinja2

    dag = _dags()[dag_index]
    nullable = {n for n in dag.params if _nullable(dag.params.get_param(n).schema)}
    env = jinja2.Environment()
    env.filters.update(dag.user_defined_filters or {})
    for task in dag.tasks:
        for field in task.template_fields:
            for text in _template_strings(getattr(task, field, None)):
                if "{{" not in text:
                    continue
                # Render with every nullable param null and the others at their defaults.
                params = {n: (None if n in nullable else dag.params[n]) for n in dag.params}
                try:
                    rendered = env.from_string(text).render(params=params, ti=_NoXcom(), run_id="r")
                except jinja2.UndefinedError:
                    continue  # needs more of the context than params (checked by the DAG runs)
                assert "None" not in rendered, f"{dag.dag_id}.{task.task_id}.{field}: {text!r} -> {rendered!r}"


class _NoXcom:
    def xcom_pull(self, **_):
        return {}
