"""The AUROC methods against scikit-learn on every database: each path forced, and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from airflow_automl_provider.evaluation import auroc
from airflow_automl_provider.evaluation.auroc import evaluate_auroc
from airflow_automl_provider.evaluation.measures import EvaluationError
from airflow_automl_provider.hooks.tracking import RangesUnavailable, TrackingHook

pytestmark = pytest.mark.integration


def _scores(seed: int, n: int, share: float, decimals: int | None):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(int)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    return y, (np.round(s, decimals) if decimals is not None else s)


@pytest.fixture
def scored_tables(db):
    """Prediction tables of text and integer labels, distinct and tied scores, minority and majority positives."""
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    tables = {}
    for name, seed, share, decimals in [("full", 1, 0.3, None), ("tied", 2, 0.3, 2), ("majority", 3, 0.8, 3)]:
        y, s = _scores(seed, 5000, share, decimals)
        frame = pd.DataFrame({"label": np.where(y == 1, " >50K", " <=50K"), "code": y, "p": s})
        hook.replace_with_frame(f"auc_{name}", frame, schema)
        tables[name] = (y, s)
    return conn_id, schema, hook, tables


@pytest.mark.parametrize("method", ["auto", "sql", "stream"])
@pytest.mark.parametrize("table", ["full", "tied", "majority"])
@pytest.mark.parametrize(("label", "positive"), [("label", " >50K"), ("code", "1"), ("code", 1)])
def test_every_method_equals_sklearn(scored_tables, method, table, label, positive):
    conn_id, schema, hook, tables = scored_tables
    y, s = tables[table]
    got = evaluate_auroc(hook, f"auc_{table}", label, positive, "p", schema, method=method)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
    assert (got["rows"], got["positives"]) == (len(y), int(y.sum()))


def test_auto_streams_distinct_scores_and_groups_tied_ones(scored_tables):
    conn_id, schema, hook, _ = scored_tables
    cols = auroc.resolve_columns(hook, "auc_full", schema, target="label", score="p")
    tied = auroc.resolve_columns(hook, "auc_tied", schema, target="label", score="p")
    # MySQL groups both; SQLite and PostgreSQL group ties only.
    expected = {"sqlite": ("stream", "sql"), "mysql": ("sql", "sql"), "postgresql": ("stream", "sql")}
    got = (auroc.choose_method(hook, cols), auroc.choose_method(hook, tied))
    assert got == expected[hook.dialect.name]


def test_too_many_positives_to_hold_fall_back_to_sql(scored_tables, monkeypatch):
    conn_id, schema, hook, tables = scored_tables
    monkeypatch.setattr(auroc, "MAX_STREAM_POSITIVES", 100)
    y, s = tables["full"]
    got = evaluate_auroc(hook, "auc_full", "label", " >50K", "p", schema, method="stream")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)


def test_stream_float_column_reads_every_value_across_chunks(scored_tables):
    conn_id, schema, hook, tables = scored_tables
    y, s = tables["full"]
    d = hook.dialect
    conn = hook.db_hook.get_conn()
    try:
        chunks = list(
            hook.stream_float_column(
                conn, d.table("auc_full", schema), d.quote("p"), f"{d.quote('code')} = {d.placeholder}", [1], 300
            )
        )
    finally:
        conn.close()
    assert len(chunks) > 1
    assert np.array_equal(np.sort(np.concatenate(chunks)), np.sort(s[y == 1]))


def test_unknown_method_is_refused(scored_tables):
    conn_id, schema, hook, _ = scored_tables
    with pytest.raises(ValueError, match=r"Unknown AUROC method 'fast': expected one of \['auto', 'sql', 'stream'\]"):
        evaluate_auroc(hook, "auc_full", "label", " >50K", "p", schema, method="fast")


@pytest.mark.parametrize("method", ["stream", "auto", "sql"])
@pytest.mark.parametrize(
    ("table", "positive", "error", "message"),
    [
        ("scores_ok", ">50K", EvaluationError, r"positive_class '>50K' is not among the labels .*\['a', 'b'\]"),
        ("scores_text", "b", TypeError, "Column 'p' of table .*scores_text.* is not numeric"),
        ("scores_null", "b", EvaluationError, "1 NULL or NaN scores out of 4 rows"),
        ("scores_null_neg", "b", EvaluationError, "1 NULL or NaN scores out of 4 rows"),
        ("scores_range", "b", EvaluationError, r"scores from -0.2 to 1.7: expected probabilities in \[0, 1\]"),
        ("scores_range_neg", "b", EvaluationError, r"scores from -0.1 to 0.9: expected probabilities in \[0, 1\]"),
        ("scores_empty", "b", EvaluationError, "has no rows to evaluate"),
        ("scores_one_class", "b", EvaluationError, "only one class is present"),
        ("scores_null_label", "b", EvaluationError, "1 rows with a NULL label"),
    ],
)
def test_every_path_raises_the_same_errors(bad_scores, monkeypatch, method, table, positive, error, message):
    conn_id, schema, hook = bad_scores
    monkeypatch.setattr(auroc, "RANGE_ROWS", 2)  # SQLite: several ranges even of 4 rows
    with pytest.raises(error, match=message):
        evaluate_auroc(hook, table, "label", positive, "p", schema, method=method)


def test_a_nan_score_is_refused_by_the_streaming_path_on_postgres(nan_scores):
    hook, schema = nan_scores
    with pytest.raises(EvaluationError, match="scores from 0.1 to nan"):
        evaluate_auroc(hook, "scores_nan", "label", "b", "p", schema, method="stream")


def test_a_view_streams_through_a_cursor_on_postgres(postgres_schema):
    hook = TrackingHook(conn_id="automl_pg")
    y, s = _scores(4, 2000, 0.4, None)
    hook.replace_with_frame("st_base", pd.DataFrame({"label": y, "p": s}), postgres_schema)
    conn = hook.db_hook.get_conn()
    d = hook.dialect
    conn.cursor().execute(
        f"CREATE VIEW {d.table('st_view', postgres_schema)} AS SELECT * FROM {d.table('st_base', postgres_schema)}"
    )
    conn.commit()
    conn.close()
    got = evaluate_auroc(hook, "st_view", "label", "1", "p", postgres_schema, method="stream")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)


# -- SQLite: the grouping over rowid ranges in parallel ---------------------------------------------
@pytest.fixture
def sqlite_scores(sqlite_db, monkeypatch):
    """(hook, y, s) of a SQLite table of 5,000 tied scores, read in ranges of 700 rowids."""
    monkeypatch.setattr(auroc, "RANGE_ROWS", 700)
    hook = TrackingHook(conn_id="automl_sqlite")
    y, s = _scores(5, 5000, 0.3, 2)
    hook.replace_with_frame("auc_ranges", pd.DataFrame({"label": np.where(y == 1, "yes", "no"), "code": y, "p": s}))
    return hook, y, s


def _spy_ranges(hook, monkeypatch):
    """Count the ranges the hook reads in parallel."""
    parts = []
    read = hook.sqlite_range_query

    def spy(*args, **kwargs):
        for part in read(*args, **kwargs):
            parts.append(len(part))
            yield part

    monkeypatch.setattr(hook, "sqlite_range_query", spy)
    return parts


@pytest.mark.parametrize(("label", "positive"), [("label", "yes"), ("code", "1"), ("code", 1)])
def test_sqlite_groups_ranges_in_parallel_equal_to_sklearn(sqlite_scores, monkeypatch, label, positive):
    hook, y, s = sqlite_scores
    parts = _spy_ranges(hook, monkeypatch)
    got = evaluate_auroc(hook, "auc_ranges", label, positive, "p", method="sql")
    assert len(parts) == 8  # rowids 1 to 5,000 in ranges of 700
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert (got["rows"], got["positives"]) == (len(y), int(y.sum()))


def _sqlite_file(hook) -> str:
    conn = hook.db_hook.get_conn()
    try:
        return next(row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main")
    finally:
        conn.close()


def test_sqlite_ranges_hold_the_snapshot_against_writers(sqlite_scores):
    import sqlite3

    hook, y, _ = sqlite_scores
    sql = lambda where: f'SELECT COUNT(*) FROM "auc_ranges" WHERE {where}'  # noqa: E731
    parts = hook.sqlite_range_query("auc_ranges", None, sql, range_rows=700, workers=1)
    counts = [next(parts)[0][0]]
    writer = sqlite3.connect(_sqlite_file(hook), timeout=0.2)
    writer.execute("INSERT INTO auc_ranges (label, code, p) VALUES ('yes', 1, 0.5)")
    # The read lock held since the first range keeps any commit out until the last range ends.
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        writer.commit()
    writer.rollback()
    try:
        counts += [part[0][0] for part in parts]
    except RangesUnavailable:  # a range began while the writer waited to commit: read another way
        return
    finally:
        writer.close()
    assert sum(counts) == len(y)


def test_sqlite_ranges_are_not_used_where_the_snapshot_cannot_be_shared(sqlite_scores, monkeypatch):
    import sqlite3

    hook, y, s = sqlite_scores
    sql = lambda where: f'SELECT COUNT(*) FROM "auc_ranges" WHERE {where}'  # noqa: E731
    assert sum(p[0][0] for p in hook.sqlite_range_query("auc_ranges", None, sql)) == len(y)
    monkeypatch.delattr("os.sched_getaffinity", raising=False)  # as on macOS
    assert sum(p[0][0] for p in hook.sqlite_range_query("auc_ranges", None, sql, range_rows=999)) == len(y)
    conn = hook.db_hook.get_conn()
    conn.execute('CREATE VIEW auc_ranges_view AS SELECT * FROM "auc_ranges"')
    try:
        with pytest.raises(RangesUnavailable, match="not a SQLite table with rowids"):
            list(hook.sqlite_range_query("auc_ranges_view", None, sql))
    finally:
        conn.execute("DROP VIEW auc_ranges_view")
        conn.close()
    # WAL: each connection reads its own snapshot. The evaluation then groups in one query.
    wal = sqlite3.connect(_sqlite_file(hook))
    assert wal.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    try:
        with pytest.raises(RangesUnavailable, match="journal mode wal"):
            list(hook.sqlite_range_query("auc_ranges", None, sql))
        parts = _spy_ranges(hook, monkeypatch)
        got = evaluate_auroc(hook, "auc_ranges", "label", "yes", "p", method="sql")
        assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
        assert parts == []
    finally:
        assert wal.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
        wal.close()


def test_sqlite_ranges_with_too_many_scores_or_a_failure_fall_back_to_one_query(sqlite_scores, monkeypatch):
    hook, y, _ = sqlite_scores
    full = np.random.default_rng(6).random(len(y))
    hook.replace_with_frame("auc_ranges_full", pd.DataFrame({"label": y, "p": full}))
    monkeypatch.setattr(auroc, "MAX_RANGE_GROUPS", 100)
    parts = _spy_ranges(hook, monkeypatch)
    got = evaluate_auroc(hook, "auc_ranges_full", "label", "1", "p", method="sql")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, full), abs=1e-12)
    assert parts == []  # the first range already had more than 100 distinct scores

    def failing(*args, **kwargs):
        yield [(0.5, 1, 1, 0)]
        raise RangesUnavailable("a writer was waiting")

    monkeypatch.setattr(hook, "sqlite_range_query", failing)
    got = evaluate_auroc(hook, "auc_ranges_full", "label", "1", "p", method="sql")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, full), abs=1e-12)


def test_sqlite_ranges_that_give_up_leave_no_lock_behind(sqlite_scores):
    import sqlite3

    hook, y, _ = sqlite_scores
    sql = lambda where: f'SELECT p FROM "auc_ranges" WHERE {where}'  # noqa: E731
    # The error (kept alive here, with its traceback) must not keep a range's statement, and its
    # read lock, open: the next writer commits at once.
    with pytest.raises(RangesUnavailable, match="more than 10 rows") as info:
        list(hook.sqlite_range_query("auc_ranges", None, sql, max_rows=10, workers=2))
    writer = sqlite3.connect(_sqlite_file(hook), timeout=0)
    try:
        writer.execute("INSERT INTO auc_ranges (label, code, p) VALUES ('yes', 1, 0.5)")
        writer.commit()
        writer.execute("DELETE FROM auc_ranges WHERE rowid = (SELECT max(rowid) FROM auc_ranges)")
        writer.commit()
    finally:
        writer.close()
    assert info.value is not None
