"""TrackingHook's queries of the package's own tables, on a real SQLite database (the integration suite runs
the operators that use them on PostgreSQL and MariaDB)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS, EXPERIMENTS, PREDICTIONS
from airflow_automl_provider.sql import timestamp_value

pytestmark = pytest.mark.unit

DAY = datetime(2026, 11, 2, 7, tzinfo=UTC)


@pytest.fixture
def hook(monkeypatch, tmp_path):
    from airflow_automl_provider.hooks.tracking import TrackingHook

    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_TRACK", f"sqlite://{tmp_path}/t.db")
    hook = TrackingHook(conn_id="automl_track")
    hook.create_tables()
    return hook


def _experiment(hook, run_id, model, when):
    when = timestamp_value(hook.dialect, when)  # as the recorders store it
    hook.upsert(
        EXPERIMENTS, {"dag_id": "automl_experiment", "run_id": run_id, "model_name": model, "session_time": when}
    )


def _evaluation(hook, dag_id, run_id, model, table, auroc, when=None, **extra):
    when = timestamp_value(hook.dialect, when)  # as the recorders store it
    row = {"dag_id": dag_id, "run_id": run_id, "model_name": model, "test_table": table, "auroc": auroc}
    hook.upsert(EVAL_RESULTS, {**row, "session_time": when, **extra})


def test_the_newest_model_is_the_newest_experiments_and_rows_without_a_time_are_left_out(hook):
    assert hook.newest_model() is None
    _experiment(hook, "r1", "m1", DAY)
    _experiment(hook, "r2", "m2", DAY.replace(day=3))
    _experiment(hook, "r3", "m_no_time", None)
    assert hook.newest_model() == "m2"
    assert hook.newest_model("main") == "m2"


def test_the_experiment_evaluation_is_the_models_own_with_its_prediction_table(hook):
    assert hook.experiment_evaluation("m1") is None
    _experiment(hook, "r1", "m1", DAY)
    _evaluation(hook, "automl_experiment", "r1", "m1", "t_b", 0.8)
    _evaluation(hook, "automl_experiment", "r1", "m1", "t_a", 0.9)
    # A monitor's evaluation of the same model is not its experiment's.
    _evaluation(hook, "automl_drift_monitor", "d1", "m1", "daily", 0.5)
    found = hook.experiment_evaluation("m1")
    assert found == {
        "test_table": "t_a",
        "auroc": 0.9,
        "dag_id": "automl_experiment",
        "run_id": "r1",
        "predictions": None,
    }
    hook.upsert(
        PREDICTIONS,
        {"output_table": "t_a_predicted_1", "dag_id": "automl_experiment", "run_id": "r1", "model_name": "m1"},
    )
    assert hook.experiment_evaluation("m1")["predictions"] == "t_a_predicted_1"
    assert hook.experiment_evaluation("m2") is None


def test_the_evaluation_history_is_earlier_runs_of_the_model_and_table_newest_first(hook):
    for day in (1, 2, 3, 4):
        _evaluation(hook, "automl_drift_monitor", f"d{day}", "m", "daily", day / 10, DAY.replace(day=day))
    _evaluation(hook, "automl_drift_monitor", "x2", "m", "other", 0.9, DAY.replace(day=2))
    _evaluation(hook, "automl_drift_monitor", "y2", "m2", "daily", 0.9, DAY.replace(day=2))

    def history(**kwargs):
        args = {"before": DAY.replace(day=4), "other_than_run": "d4", "limit": 10} | kwargs
        return hook.evaluation_history("m", "daily", "auroc", **args)

    assert history() == [0.3, 0.2, 0.1]
    assert history(limit=2) == [0.3, 0.2]
    assert history(other_than_run="d3") == [0.2, 0.1]  # a retried run does not read its own row
    assert history(before="2026-11-02T07:00:00+00:00") == [0.1]
    # The sequential rule's window: only the days since a time (the window's first day included).
    assert history(since=DAY.replace(day=2)) == [0.3, 0.2]
    assert hook.evaluation_history("m", "daily", "run_id", before=DAY.replace(day=3), other_than_run="", limit=5) == [
        "d2",
        "d1",
    ]


def test_tracking_rows_filter_bind_and_sort(hook):
    for day in (1, 2, 3):
        _evaluation(hook, "automl_drift_monitor", f"d{day}", "m", "daily", day / 10, DAY.replace(day=day), status="ok")
    _evaluation(hook, "automl_experiment", "r1", "m", "test", 0.9, DAY.replace(day=1))
    rows = hook.tracking_rows(EVAL_RESULTS, ["run_id", "auroc"], [("dag_id", "=", "automl_drift_monitor")])
    assert rows == [("d1", 0.1), ("d2", 0.2), ("d3", 0.3)]
    since = [("session_time", ">=", DAY.replace(day=2)), ("session_time", "<", DAY.replace(day=3))]
    assert hook.tracking_rows(EVAL_RESULTS, ["run_id"], since) == [("d2",)]
    assert hook.tracking_rows(EVAL_RESULTS, ["run_id"], [("run_id", "in", ["d3", "r1"])], descending=True) == [
        ("d3",),
        ("r1",),
    ]
    assert hook.tracking_rows(EVAL_RESULTS, ["run_id"], [("dag_id", "in", [])]) == []
    assert hook.tracking_rows(EVAL_RESULTS, ["run_id"], [("run_id", "<>", "d1")], order_by="run_id", limit=2) == [
        ("d2",),
        ("d3",),
    ]
    # The demo's question: the monitor's row of one day (its session time), newest run first.
    assert hook.tracking_rows(
        EVAL_RESULTS,
        ["auroc", "status", "run_id"],
        [("dag_id", "=", "automl_drift_monitor"), ("session_time", "=", DAY.replace(day=2))],
        order_by="run_id",
        descending=True,
        limit=1,
    ) == [(0.2, "ok", "d2")]


def test_tracking_rows_refuse_unknown_columns_and_operators(hook):
    with pytest.raises(ValueError, match="Unknown column 'nope'"):
        hook.tracking_rows(EVAL_RESULTS, ["nope"])
    with pytest.raises(ValueError, match="Unknown column 'x; DROP'"):
        hook.tracking_rows(EVAL_RESULTS, ["run_id"], [("x; DROP", "=", 1)])
    with pytest.raises(ValueError, match="Unsupported operator 'LIKE'"):
        hook.tracking_rows(EVAL_RESULTS, ["run_id"], [("run_id", "LIKE", "%")])
    with pytest.raises(ValueError, match="Unknown column"):
        hook.tracking_rows(EVAL_RESULTS, ["run_id"], order_by="1; DROP TABLE x")


def test_tracked_values_are_distinct_sorted_and_filtered(hook):
    rows = [("d1", "f2", True), ("d1", "f1", False), ("d2", "f1", True)]
    for run_id, feature, drifted in rows:
        hook.upsert(
            DRIFT_RESULTS,
            {"dag_id": "automl_drift_monitor", "run_id": run_id, "model_name": "m", "test_table": "t",
             "feature": feature, "drifted": drifted},
        )  # fmt: skip
    hook.upsert(
        DRIFT_RESULTS, {"dag_id": "other", "run_id": "o1", "model_name": "m", "test_table": "t", "feature": "f3"}
    )
    assert hook.tracked_values(DRIFT_RESULTS, "feature") == ["f1", "f2", "f3"]
    assert hook.tracked_values(DRIFT_RESULTS, "feature", [("dag_id", "in", ["automl_drift_monitor"])]) == ["f1", "f2"]
    assert hook.tracked_values(DRIFT_RESULTS, "feature", [("dag_id", "in", [])]) == []
    assert hook.tracked_values(DRIFT_RESULTS, "statistic") == []  # only NULLs
    with pytest.raises(ValueError, match="Unknown column"):
        hook.tracked_values(DRIFT_RESULTS, "nope")


def test_prediction_records_live_beside_the_prediction_table(hook):
    from airflow_automl_provider.sql import TableRef

    assert hook.prediction_record("t_predicted") is None
    hook.upsert(PREDICTIONS, {"output_table": "t_predicted", "model_name": "m", "dag_id": "d", "run_id": "r"})
    assert hook.prediction_record(TableRef.parse("main.t_predicted"))["model_name"] == "m"
    assert hook.prediction_record("t_other") is None
