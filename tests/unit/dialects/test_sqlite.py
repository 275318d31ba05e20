"""The SQLite dialect: its SQL and its fast paths on a real sqlite3 file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pandas as pd
import pytest

from airflow_automl_provider.dialects import sqlite as sq
from airflow_automl_provider.dialects.base import RangesUnavailable, frame_sql_types
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.unit

D = sq.SqliteDialect("sqlite", "?")


def test_sql_text():
    assert D.type("timestamp") == "TEXT" and D.type("float") == "REAL"
    assert D.as_time('"t"') == D.text_as_time('"t"') == 'datetime("t")' and D.text_time_kind == "timestamp"
    assert D.numbers_only('"p"') == """CASE WHEN typeof("p") IN ('integer', 'real') THEN "p" END"""
    assert D.bind_timestamp(datetime(2026, 1, 2, 3, tzinfo=UTC)) == "2026-01-02T03:00:00+00:00"
    assert D.transactional_ddl and D.has_rowids and D.reads_beside_writes and not D.cheap_numeric_check


@pytest.fixture
def conn(tmp_path):
    c = sqlite3.connect(tmp_path / "s.db")
    D.begin(c)
    yield c
    c.close()


def test_catalog(conn):
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    conn.execute("INSERT INTO t VALUES (1, 'x')")
    assert D.schema_exists(conn, "main") and not D.schema_exists(conn, "main_nope")
    assert D.table_names(conn, None) == {"t"}
    assert D.table_identity(conn, TableRef(None, "T")) == ("main", "t")
    assert D.non_numeric(conn, TableRef(None, "t"), "a") is None
    assert D.non_numeric(conn, TableRef(None, "t"), "b") == "it holds text values such as 'x'"


def test_write_read_and_join_by_rowid(conn, monkeypatch):
    from airflow_automl_provider.hooks.tracking import RowidJoin

    monkeypatch.setattr(sq, "ROWS_PER_INSERT", 2)  # several statements and a remainder
    frame = pd.DataFrame({"id": range(5), "x": [0.1, None, 1 / 3, 2.0, -0.0]})
    assert D.replace_table(conn, TableRef(None, "src"), frame_sql_types(frame), [frame]) == 5
    assert D.rowids_readable(conn, TableRef(None, "src"))
    read = pd.concat(D.read_chunks(conn, TableRef(None, "src"), None, 'SELECT * FROM "src"', [], 2), ignore_index=True)
    pd.testing.assert_frame_equal(read, frame)
    preds = pd.DataFrame({sq.SOURCE_ROW: [1, 2, 3, 4, 5], "p": [0.9, 0.8, 0.7, 0.6, 0.5]})
    join = RowidJoin(source=TableRef(None, "src"), columns=["id"])
    assert (
        D.replace_table(conn, TableRef(None, "out"), frame_sql_types(preds), [preds.head(3), preds.tail(2)], join) == 5
    )
    assert conn.execute('SELECT id, p FROM "out"').fetchall() == [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6), (4, 0.5)]


def test_a_view_has_no_rowids_for_the_text_reader(conn):
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.execute("CREATE VIEW v AS SELECT a FROM t")
    assert sq.text_affinities(conn, D, TableRef(None, "v"), None) is None
    assert sq.text_affinities(conn, D, TableRef(None, "t"), None) == (["a"], ["integer"])
    assert not D.rowids_readable(conn, TableRef(None, "v"))


def test_range_query_refuses_what_it_cannot_split(conn):
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.execute("CREATE VIEW v AS SELECT a FROM t")
    with pytest.raises(RangesUnavailable, match="not a SQLite table with rowids"):
        list(D.range_query(conn, TableRef(None, "v"), lambda where: f"SELECT a FROM t WHERE {where}"))


def test_range_query_reads_every_row_in_ranges(tmp_path):
    path = tmp_path / "r.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE t (a INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    setup.commit()
    setup.close()
    conn = sqlite3.connect(path)
    try:
        D.begin_snapshot(conn)
        parts = list(
            D.range_query(conn, TableRef(None, "t"), lambda w: f"SELECT a FROM t WHERE {w}", range_rows=30, workers=2)
        )
    finally:
        conn.close()
    assert len(parts) == 4 and sorted(a for part in parts for (a,) in part) == list(range(100))


def test_affinity():
    assert [sq.sqlite_affinity(t) for t in ["BIGINT", "VARCHAR(5)", "", "DOUBLE PRECISION", "DATE"]] == [
        "integer",
        "text",
        "blob",
        "real",
        "numeric",
    ]
