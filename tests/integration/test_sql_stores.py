"""The operators against real databases: the same module runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from airflow_automl_provider.hooks.model_store import ModelStoreHook
from airflow_automl_provider.hooks.tracking import MissingColumnError, TableNotFoundError, TrackingHook
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator
from airflow_automl_provider.operators.evaluation import AUROCEvaluationOperator, EvaluateModelOperator
from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.integration


def test_tracking_tables_are_created_once_and_upserts_are_retry_safe(db):
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    hook.create_tables(schema)
    hook.create_tables(schema)  # idempotent
    row = {"dag_id": "d", "run_id": "r1", "model_name": "m", "task_attempt_id": "t-1", "try_number": 1}
    hook.upsert(EXPERIMENTS, row, schema)
    hook.upsert(EXPERIMENTS, {**row, "task_attempt_id": "t-2", "try_number": 2}, schema)
    rows = hook.query(
        f"SELECT task_attempt_id, try_number FROM {hook.dialect.table(EXPERIMENTS.name, schema)} WHERE run_id = 'r1'"
    )
    assert rows == [("t-2", 2)]
    assert {EXPERIMENTS.name, EVAL_RESULTS.name} <= hook.table_names(schema)


def test_tables_of_an_older_version_gain_the_new_columns(db):
    """A tracking table made before a column was added gets it from create_tables, rows kept."""
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    d = hook.dialect
    old = [(c, t) for c, t in EXPERIMENTS.columns if c not in ("best_model", "presets", "params_json")]
    name = d.table(EXPERIMENTS.name, schema)
    with hook.transaction() as conn:
        conn.cursor().execute(f"DROP TABLE IF EXISTS {name}")
        conn.cursor().execute(d.create_table_sql(TableRef(schema, EXPERIMENTS.name), old, if_not_exists=False))
    hook.upsert(EXPERIMENTS, {"dag_id": "d", "run_id": "old", "model_name": "m"}, schema)
    assert "best_model" not in hook.columns(EXPERIMENTS.name, schema)
    hook.create_tables(schema)
    assert sorted(hook.columns(EXPERIMENTS.name, schema)) == sorted(EXPERIMENTS.column_names)
    hook.upsert(EXPERIMENTS, {"dag_id": "d", "run_id": "new", "model_name": "m", "best_model": "LightGBM"}, schema)
    rows = hook.query(f"SELECT run_id, best_model FROM {name} ORDER BY run_id")
    assert rows == [("new", "LightGBM"), ("old", None)]


def test_auroc_in_sql_equals_sklearn_with_many_ties(db):
    conn_id, schema = db
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 20000)
    score = np.round(np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1), 2)  # about 100 distinct scores
    frame = pd.DataFrame({"label": np.where(y == 1, " >50K", " <=50K"), "predicted_proba": score})
    TrackingHook(conn_id=conn_id).replace_with_frame("ties", frame, schema)
    op = AUROCEvaluationOperator(
        task_id="auc", conn_id=conn_id, table="ties", schema=schema, target_column="label", positive_class=" >50K"
    )
    got = op.execute(context={})
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=1e-9)
    assert (got["rows"], got["positives"]) == (20000, int(y.sum()))


def test_missing_table_and_column_errors_name_what_exists(db):
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("small", pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), schema)
    with pytest.raises(TableNotFoundError, match="no_such_table"):
        hook.columns("no_such_table", schema)
    with pytest.raises(MissingColumnError, match=r"\['zz'\] not found .*'a', 'b'"):
        hook.check_columns("small", schema, ["a", "zz"])


@pytest.fixture
def adult_test_table(db, adult_frames):
    conn_id, schema = db
    _, test = adult_frames
    frame = test.head(3000).copy()
    frame.insert(0, "row_id", range(len(frame)))
    TrackingHook(conn_id=conn_id).replace_with_frame("adult_test", frame, schema)
    return frame


def _predict_op(
    db, adult_model, model_store, input_table: str, output_table: str, **kwargs
) -> AutoGluonPredictOperator:
    """The predict operator on the test database's schema, with the module's model."""
    conn_id, schema = db
    return AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name=adult_model["model_name"],
        input_table=input_table,
        output_table=output_table,
        model_store=model_store,
        **{"input_schema": schema, "output_schema": schema, **kwargs},
    )


def test_predictions_from_the_database_equal_in_memory_ones(db, adult_model, adult_test_table, model_store):
    conn_id, schema = db
    op = _predict_op(db, adult_model, model_store, "adult_test", "adult_pred", chunk_rows=700)
    result = op.execute(context={})
    assert result["rows"] == 3000
    hook = TrackingHook(conn_id=conn_id)
    out = hook.read_frame("adult_pred", schema).sort_values("row_id").reset_index(drop=True)
    assert list(out.columns) == [
        *adult_test_table.columns,
        "predicted_class",
        "predicted_proba",
        "predicted_probabilities",
    ]

    predictor, _ = ModelStoreHook(base_uri=model_store).load(adult_model["model_name"])
    expected = predictor.predict_proba(adult_test_table[adult_model["features"]])
    np.testing.assert_allclose(out["predicted_proba"], expected[">50K"], rtol=0, atol=1e-12)
    assert (out["predicted_class"] == predictor.predict_from_proba(expected).to_numpy()).all()
    first = json.loads(out["predicted_probabilities"][0])
    assert set(first) == {"<=50K", ">50K"} and sum(first.values()) == pytest.approx(1.0)
    assert (out["class"] == adult_test_table["class"]).all()

    auc = EvaluateModelOperator(
        task_id="evaluate",
        conn_id=conn_id,
        table="adult_pred",
        schema=schema,
        target_column="class",
        positive_class=">50K",
    ).execute(context={})
    y = (adult_test_table["class"] == ">50K").astype(int)
    assert auc["auroc"] == pytest.approx(skm.roc_auc_score(y, expected[">50K"]), abs=1e-9)
    assert auc["log_loss"] == pytest.approx(skm.log_loss(y, expected[">50K"]), abs=1e-9)
    assert auc["auroc"] > 0.85


def test_rowid_output_and_shared_id(db, adult_model, adult_test_table, model_store):
    conn_id, schema = db
    AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        shared_model=adult_model["shared_model"],
        input_table="adult_test",
        output_table="adult_pred_ids",
        rowid_column="row_id",
        input_schema=schema,
        output_schema=schema,
        model_store=model_store,
    ).execute(context={})
    cols = TrackingHook(conn_id=conn_id).columns("adult_pred_ids", schema)
    assert cols == ["row_id", "class", "predicted_class", "predicted_proba", "predicted_probabilities"]


# Without the SQLite dialect's BEGIN, sqlite3 commits the staging table at once; with the read still
# open on the connection it cannot be dropped until the next write of the table drops it.
@pytest.mark.dialect_specific("sqlite")
def test_a_failed_predict_leaves_the_old_output_table(db, adult_model, adult_test_table, model_store, monkeypatch):
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("adult_out", pd.DataFrame({"old": [1, 2, 3]}), schema)
    tables_before = hook.table_names(schema)
    calls = {"n": 0}
    real = AutoGluonPredictOperator._predict_chunk

    def fail_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost mid-write")
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoGluonPredictOperator, "_predict_chunk", staticmethod(fail_on_third_chunk))
    op = _predict_op(db, adult_model, model_store, "adult_test", "adult_out", chunk_rows=500)
    with pytest.raises(RuntimeError, match="mid-write"):
        op.execute(context={})
    assert hook.read_frame("adult_out", schema)["old"].tolist() == [1, 2, 3]
    assert hook.table_names(schema) == tables_before  # no staging table left behind


def test_a_missing_feature_is_named(db, adult_model, model_store):
    conn_id, schema = db
    TrackingHook(conn_id=conn_id).replace_with_frame("no_age", pd.DataFrame({"workclass": ["Private"]}), schema)
    op = _predict_op(db, adult_model, model_store, "no_age", "no_age_pred")
    with pytest.raises(MissingColumnError, match="'age'"):
        op.execute(context={})


def test_types_survive_the_round_trip(db):
    """Integers stay integers, text keeps its exact bytes (leading spaces too), '' and NULL stay apart."""
    conn_id, schema = db
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "big": [2**40, -5, 0, 7],
            "x": [0.1, 1e-300, 123456.789012345, -2.5],
            "label": [" >50K", "  two  spaces", "é ü 中", 'quote " and , comma'],
            "maybe": ["", None, "a", "NULL"],
            "flag": [True, False, True, False],
        }
    )
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("round_trip", frame, schema)
    back = hook.read_frame("round_trip", schema).sort_values("id").reset_index(drop=True)
    assert back["id"].dtype.kind == "i" and back["big"].tolist() == frame["big"].tolist()
    assert back["x"].tolist() == frame["x"].tolist()
    assert back["label"].tolist() == frame["label"].tolist()
    assert back["maybe"].tolist() == ["", None, "a", "NULL"]
    assert [bool(v) for v in back["flag"]] == frame["flag"].tolist()


def test_postgres_copy_reads_equal_the_cursor_reads(postgres_schema, monkeypatch):
    """The COPY + Arrow read path gives the same frame as the row-by-row cursor, type by type."""
    hook = TrackingHook(conn_id="automl_pg")
    table = hook.dialect.table("copy_types", postgres_schema)
    with hook.transaction() as conn:
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(
            f"CREATE TABLE {table} (id integer, big bigint, small smallint, x double precision, r real, "
            "n numeric(12, 4), t text, v varchar(20), flag boolean, ts timestamp, tz timestamptz, d date)"
        )
        cur.execute(
            f"INSERT INTO {table} VALUES "
            "(1, 1099511627776, 1, 0.1, 0.5, 12.3456, ' >50K', 'a', true, '2026-01-02 03:04:05.123456', "
            "'2026-01-02 03:04:05+05:30', '2026-01-02'),"
            "(2, NULL, NULL, NULL, NULL, NULL, NULL, '', NULL, NULL, NULL, NULL),"
            "(3, -5, -2, 1e-300, -2.5, -0.5, E'two\\nlines, \"quoted\"', 'NULL', false, "
            "'1999-12-31 23:59:59', '1999-12-31 23:59:59+00', '1999-12-31')"
        )
    fast = hook.read_frame("copy_types", postgres_schema).sort_values("id").reset_index(drop=True)
    from airflow_automl_provider.dialects import postgres

    monkeypatch.setattr(postgres, "copy_csv_types", lambda *a: None)  # force the cursor path
    slow = hook.read_frame("copy_types", postgres_schema).sort_values("id").reset_index(drop=True)

    assert list(fast.columns) == list(slow.columns)
    assert fast["t"].tolist() == [" >50K", None, 'two\nlines, "quoted"']
    assert fast["v"].tolist() == ["a", "", "NULL"]  # '' and the text NULL are not NULL
    assert fast["x"].tolist()[0] == 0.1 and fast["x"].tolist()[2] == 1e-300
    for name in ["id", "big", "small", "x", "r", "n"]:
        np.testing.assert_array_equal(fast[name].to_numpy(float), slow[name].to_numpy(float), err_msg=name)
    assert [None if pd.isna(v) else bool(v) for v in fast["flag"]] == [True, None, False]
    assert [None if pd.isna(v) else v for v in fast["ts"]] == [None if pd.isna(v) else v for v in slow["ts"]]
    assert pd.Timestamp(fast["tz"][0]) == pd.Timestamp("2026-01-01 21:34:05", tz="UTC")
    assert pd.Timestamp(fast["tz"][0]) == pd.Timestamp(slow["tz"][0])
    assert [str(v) for v in fast["d"]] == [str(v) for v in slow["d"]]


@pytest.mark.dialect_specific("sqlite")  # SQLite's table names ignore case
def test_predicting_a_table_into_itself_is_refused(db, adult_model, adult_test_table, model_store):
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    # Other spellings of the same table, as the database resolves them: schema-qualified, or (where the
    # database ignores case in table names) in other case.
    spellings = [("adult_test", schema), (f"{schema or 'main'}.adult_test", None)]
    if hook.dialect.name == "sqlite":
        spellings += [("ADULT_Test", None), ("MAIN.adult_test", None)]
    for output_table, output_schema in spellings:
        op = _predict_op(db, adult_model, model_store, "adult_test", output_table, output_schema=output_schema)
        with pytest.raises(ValueError, match="is the input table"):
            op.execute(context={})
    assert hook.count_rows("adult_test", schema) == len(adult_test_table)
    assert hook.columns("adult_test", schema) == list(adult_test_table.columns)  # features and key intact


def test_a_postgres_table_found_through_the_search_path_is_the_same_table(postgres_schema):
    """`public.t` and `t` on PostgreSQL: the same table when the search path finds it in public."""
    import uuid

    hook = TrackingHook(conn_id="automl_pg")
    name = f"same_t_{uuid.uuid4().hex[:8]}"
    hook.replace_with_frame(name, pd.DataFrame({"a": [1]}))  # in public, the default search path's schema
    try:
        assert hook.table_identity(name) == hook.table_identity(f"public.{name}") == ("public", name)
        assert hook.table_identity(name.upper()) != hook.table_identity(name)  # quoted: case matters there
        assert hook.table_identity(name, postgres_schema) != hook.table_identity(name)
    finally:
        with hook.transaction() as conn:
            conn.cursor().execute(f'DROP TABLE "public"."{name}"')


def test_sqlite_view_input_gives_the_same_output_as_its_table(sqlite_db, adult_model, model_store):
    """A view has no rowid: its rows take the path through Python, and the output is the same."""
    hook = TrackingHook(conn_id="automl_sqlite")
    frame = pd.DataFrame(
        {"row_id": range(400), **{f: hook.read_frame("adult_small")[f].head(400) for f in adult_model["features"]}}
    )
    hook.replace_with_frame("small_in", frame)
    with hook.transaction() as conn:
        conn.execute("DROP VIEW IF EXISTS small_view")
        conn.execute("CREATE VIEW small_view AS SELECT * FROM small_in")
    assert hook.sqlite_rowids_readable("small_in") and not hook.sqlite_rowids_readable("small_view")
    outputs = {}
    for source in ("small_in", "small_view"):
        AutoGluonPredictOperator(
            task_id="predict",
            conn_id="automl_sqlite",
            model_name=adult_model["model_name"],
            input_table=source,
            output_table=f"{source}_pred",
            ignore_columns=["education"],
            chunk_rows=150,
            model_store=model_store,
        ).execute(context={})
        outputs[source] = hook.read_frame(f"{source}_pred")
    table, view = outputs["small_in"], outputs["small_view"]
    assert list(table.columns) == list(view.columns)
    assert "education" not in table.columns and list(table.columns)[-3:] == [
        "predicted_class",
        "predicted_proba",
        "predicted_probabilities",
    ]
    pd.testing.assert_frame_equal(table, view, check_dtype=False)


@pytest.mark.parametrize("per_insert", [1, 3, 500, 8192])
def test_sqlite_multi_row_inserts_keep_every_row_and_value(sqlite_db, monkeypatch, per_insert):
    """Rows go to SQLite many per INSERT; a remainder that fills no whole statement is written too."""
    from airflow_automl_provider.dialects import sqlite

    monkeypatch.setattr(sqlite, "ROWS_PER_INSERT", per_insert)
    frame = pd.DataFrame(
        {
            "id": range(10),
            "x": [0.1, None, 1e-300, 2.5, -0.0, 3.0, 7.25, None, 1 / 3, 9.0],
            "label": ["a", None, "", "é", 'q"', "b", "c", "d", "e", "f"],
        }
    )
    hook = TrackingHook(conn_id="automl_sqlite")
    assert hook.replace_with_frame("many_per_insert", frame) == 10
    back = hook.read_frame("many_per_insert")
    assert back["id"].tolist() == list(range(10))
    assert back["x"].tolist()[2:7] == [1e-300, 2.5, -0.0, 3.0, 7.25] and back["x"].isna().tolist()[1::6] == [True, True]
    assert back["label"].tolist() == [None if v is None else v for v in frame["label"]]


def test_replacing_a_sqlite_table_keeps_the_views_over_it(sqlite_db):
    """A user's view over an output table reads the new rows after the table is written again."""
    hook = TrackingHook(conn_id="automl_sqlite")
    hook.replace_with_frame("viewed_out", pd.DataFrame({"id": [1, 2], "p": [0.1, 0.2]}))
    conn = hook.db_hook.get_conn()
    try:
        conn.execute("DROP VIEW IF EXISTS viewed_out_high")
        conn.execute("CREATE VIEW viewed_out_high AS SELECT id FROM viewed_out WHERE p > 0.15")
        conn.commit()
        assert hook.replace_with_frame("viewed_out", pd.DataFrame({"id": [3, 4, 5], "p": [0.9, 0.1, 0.8]})) == 3
        assert conn.execute("SELECT id FROM viewed_out_high ORDER BY id").fetchall() == [(3,), (5,)]
        assert conn.execute("PRAGMA legacy_alter_table").fetchone() == (0,)
        conn.execute("DROP VIEW viewed_out_high")
        conn.commit()
    finally:
        conn.close()


def test_a_sqlite_writer_waits_for_another_instead_of_failing(sqlite_db, monkeypatch):
    """Two runs writing one SQLite file: the second waits for the first's lock (busy timeout)."""
    import sqlite3
    import threading
    import time

    hook = TrackingHook(conn_id="automl_sqlite")
    hook.create_tables()
    path = hook.db_hook.get_conn().execute("PRAGMA database_list").fetchone()[2]
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the first run's write transaction
    release = threading.Timer(6.0, holder.commit)  # longer than sqlite3's own 5 s default
    release.start()
    started = time.monotonic()
    hook.upsert(EXPERIMENTS, {"dag_id": "d", "run_id": "waited", "model_name": "m"})
    assert time.monotonic() - started >= 5.5
    release.join()
    holder.close()

    # Past [automl] lock_timeout it fails, and says it was a lock, not a missing table.
    monkeypatch.setenv("AIRFLOW__AUTOML__LOCK_TIMEOUT", "1")
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        from airflow_automl_provider.hooks.tracking import TableLockedError

        with pytest.raises(TableLockedError, match="automl_experiments.* locked by another writer"):
            TrackingHook(conn_id="automl_sqlite").columns(EXPERIMENTS.name)
    finally:
        holder.rollback()
        holder.close()


def test_a_postgres_write_gives_up_on_a_held_lock_instead_of_waiting_forever(postgres_schema, monkeypatch):
    import time

    import psycopg2

    from airflow_automl_provider.hooks.tracking import is_lock_error

    hook = TrackingHook(conn_id="automl_pg")
    hook.replace_with_frame("locked_out", pd.DataFrame({"a": [1]}), postgres_schema)
    holder = psycopg2.connect(os.environ["AIRFLOW_CONN_AUTOML_PG"])
    holder.cursor().execute(f'LOCK TABLE "{postgres_schema}"."locked_out" IN ACCESS EXCLUSIVE MODE')
    monkeypatch.setenv("AIRFLOW__AUTOML__LOCK_TIMEOUT", "1")
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as err:  # noqa: B017 (the driver's own lock error, checked below)
            TrackingHook(conn_id="automl_pg").replace_with_frame(
                "locked_out", pd.DataFrame({"a": [2]}), postgres_schema
            )
        assert is_lock_error(err.value), err.value
        assert time.monotonic() - started < 30
    finally:
        holder.rollback()
        holder.close()
    assert hook.read_frame("locked_out", postgres_schema)["a"].tolist() == [1]  # nothing half-written


def test_an_evaluation_refuses_another_models_predictions(db, adult_model, adult_test_table, model_store):
    """The prediction table says which model wrote it: recording it under another model is refused."""
    conn_id, schema = db
    _predict_op(db, adult_model, model_store, "adult_test", "whose_preds").execute(context={})
    hook = TrackingHook(conn_id=conn_id)
    record = hook.prediction_record("whose_preds", schema)
    assert (record["model_name"], record["num_rows"]) == (adult_model["model_name"], len(adult_test_table))
    assert record["positive_class"] == str(adult_model["positive_class"])

    def evaluate(model_name):
        return EvaluateModelOperator(
            task_id="evaluation",
            conn_id=conn_id,
            schema=schema,
            table="whose_preds",
            target_column="class",
            positive_class=adult_model["positive_class"],
            model_name=model_name,
        ).execute(context={})

    assert evaluate(adult_model["model_name"])["auroc"] > 0.85
    with pytest.raises(ValueError, match=r"holds the predictions of model '.*', not of model 'someone_else'"):
        evaluate("someone_else")


# ISO text as a time: each database's own cast (the generic CAST AS TIMESTAMP fails on bad text).
@pytest.mark.parametrize("form", [pytest.param("iso_text", marks=pytest.mark.dialect_specific), "epoch_s", "epoch_ms"])
def test_a_time_column_of_text_or_unix_time_is_read_as_the_time_it_holds(
    db, adult_model, adult_test_table, model_store, form
):
    """A day's window over text or Unix-time columns keeps that day's rows; unreadable times are counted."""
    from datetime import UTC, datetime, timedelta

    conn_id, schema = db
    day = datetime(2026, 11, 2, 7, tzinfo=UTC)
    frame = adult_test_table.head(40).copy()
    times = [day - timedelta(hours=30) + timedelta(hours=2 * i) for i in range(40)]  # 15 rows in the window
    if form == "iso_text":
        frame["event_time"] = [t.strftime("%Y-%m-%d %H:%M:%S") for t in times]
        frame.loc[0:1, "event_time"] = ["yesterday", "n/a"]  # two rows no window can hold
    elif form == "epoch_s":
        frame["event_time"] = [int(t.timestamp()) for t in times]
    else:
        frame["event_time"] = [int(t.timestamp() * 1000) for t in times]
    expected = sum(
        day - timedelta(days=1) <= t < day for i, t in enumerate(times) if not (form == "iso_text" and i < 2)
    )
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("timed", frame, schema)
    got = _predict_op(
        db, adult_model, model_store, "timed", "timed_pred", time_column="event_time",
        time_start=day - timedelta(days=1), time_end=day,
    ).execute(context={})  # fmt: skip
    assert got["rows"] == expected == 12
    assert got["unreadable_time_rows"] == (2 if form == "iso_text" else 0)


def test_a_time_column_that_holds_no_time_is_refused_naming_it(db, adult_model, adult_test_table, model_store):
    conn_id, schema = db
    frame = adult_test_table.head(5).assign(event_time="soon")
    TrackingHook(conn_id=conn_id).replace_with_frame("untimed", frame, schema)
    op = _predict_op(
        db, adult_model, model_store, "untimed", "untimed_pred", time_column="event_time",
        time_start="2026-11-01T07:00:00+00:00", time_end="2026-11-02T07:00:00+00:00",
    )  # fmt: skip
    with pytest.raises(ValueError, match="time_column 'event_time' of table .*untimed.* holds 'soon', which is not"):
        op.execute(context={})
