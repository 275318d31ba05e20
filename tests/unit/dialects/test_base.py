"""The generic (ANSI) dialect: SQL text, and its plain DB-API ways on a real sqlite3 connection."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pandas as pd
import pytest

from airflow_automl_provider.dialects import Dialect, dialect_class
from airflow_automl_provider.dialects.base import RangesUnavailable, frame_rows, frame_sql_types, normalise
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.unit

D = Dialect("trino", "?")


def test_sql_text_is_ansi():
    assert D.table("t", "s") == '"s"."t"' and D.quote("a b") == '"a b"'
    assert D.as_text('"x"') == 'CAST("x" AS VARCHAR)' and D.text_placeholder == "?"
    assert D.as_float('"x"') == D.numbers_only('"x"') == 'CAST("x" AS DOUBLE PRECISION)'
    assert D.as_time('"t"') == '"t"' and D.text_as_time('"t"') == 'CAST("t" AS TIMESTAMP)'
    assert D.rename_table_sql(TableRef("s", "a"), TableRef("s", "b")) == 'ALTER TABLE "s"."a" RENAME TO "b"'
    t = TableRef(None, "t")
    assert D.create_table_sql(t, [("k", "key"), ("v", "float")], if_not_exists=True, primary_key="k") == (
        'CREATE TABLE IF NOT EXISTS "t" ("k" VARCHAR(250) PRIMARY KEY, "v" DOUBLE PRECISION)'
    )
    assert D.bind_timestamp(datetime(2026, 1, 2, 3, tzinfo=UTC)) == datetime(2026, 1, 2, 3)


def test_a_database_without_a_dialect_of_its_own_gets_the_generic_one():
    assert dialect_class("trino") is Dialect and dialect_class("mssql") is Dialect
    assert D.reads_beside_writes and not (D.transactional_ddl or D.has_rowids or D.auroc_grouped_only)


class _Hook:
    """What the generic dialect asks of a ``DbApiHook``: a SQLAlchemy engine, for the inspector."""

    def __init__(self, path):
        self.path = path

    def get_sqlalchemy_engine(self):
        from sqlalchemy import create_engine

        return create_engine(f"sqlite:///{self.path}")


@pytest.fixture
def generic(tmp_path):
    """The generic dialect on a SQLite file (as a connection forced to it), and a sqlite3 connection."""
    c = sqlite3.connect(tmp_path / "g.db")
    yield Dialect("sqlite", "?", hook=_Hook(tmp_path / "g.db")), c
    c.close()


@pytest.fixture
def conn(generic):
    return generic[1]


def test_the_catalog_comes_from_sqlalchemys_inspector(generic):
    d, conn = generic
    conn.execute("CREATE TABLE t (a BIGINT, b TEXT)")
    conn.execute("CREATE VIEW v AS SELECT a FROM t")
    conn.commit()
    assert d.schema_exists(conn, "main") and not d.schema_exists(conn, "nope")
    assert d.table_names(conn, None) == {"t", "v"}
    assert d.table_identity(conn, TableRef(None, "T")) == ("main", "T")  # quoted names keep their case
    assert (
        d.non_numeric(conn, TableRef(None, "t"), "a") is None
        and d.non_numeric(conn, TableRef(None, "t"), "b") == "its type is TEXT"
    )


def test_replace_table_fills_commits_then_swaps(generic):
    """The generic write works where DDL commits at once: it commits the new table, then swaps it in."""
    d, conn = generic
    frame = pd.DataFrame({"id": [1, 2, 3], "p": [0.5, None, 0.25], "s": ["a", None, "c"]})
    assert d.replace_table(conn, TableRef(None, "out"), frame_sql_types(frame), [frame.head(2), frame.tail(1)]) == 3
    conn.commit()
    assert conn.execute('SELECT * FROM "out" ORDER BY id').fetchall() == [
        (1, 0.5, "a"),
        (2, None, None),
        (3, 0.25, "c"),
    ]
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["out"]


def test_a_failed_write_drops_its_staging_table_and_keeps_the_old_one(generic):
    d, conn = generic
    frame = pd.DataFrame({"id": [1]})
    d.replace_table(conn, TableRef(None, "out"), frame_sql_types(frame), [frame])
    conn.commit()

    def failing():
        yield frame
        raise RuntimeError("model failed")

    with pytest.raises(RuntimeError, match="model failed"):
        d.replace_table(conn, TableRef(None, "out"), frame_sql_types(frame), failing())
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["out"]


def test_a_killed_writers_staging_table_is_dropped_by_the_next_write(generic):
    d, conn = generic
    conn.execute('CREATE TABLE "out__new_0123abcd" (x INTEGER)')
    conn.execute('CREATE TABLE "other__new_0123abcd" (x INTEGER)')
    conn.commit()
    frame = pd.DataFrame({"id": [1]})
    d.replace_table(conn, TableRef(None, "out"), frame_sql_types(frame), [frame])
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master")} == {"out", "other__new_0123abcd"}


def test_reads_stream_through_a_cursor(conn):
    conn.execute("CREATE TABLE t (a INTEGER, b REAL)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, i / 2 if i % 3 else None) for i in range(7)])
    chunks = list(D.read_chunks(conn, TableRef(None, "t"), None, "SELECT a, b FROM t ORDER BY a", [], 3))
    assert [len(c) for c in chunks] == [3, 3, 1] and chunks[0]["a"].tolist() == [0, 1, 2]
    arrays = list(D.stream_float_column(conn, "t", "b", "a >= ?", [1], 4))
    assert [len(a) for a in arrays] == [4, 2] and sum(int(a.size) for a in arrays) == 6


def test_no_ranges_and_no_rowid_joins():
    with pytest.raises(RangesUnavailable):
        list(D.range_query(None, TableRef(None, "t"), lambda where: ""))
    assert D.rowids_readable(None, TableRef(None, "t")) is False
    with pytest.raises(NotImplementedError):
        D.write_joined(None, TableRef(None, "t"), [], [], None)


def test_frames_and_rows():
    import decimal

    frame = pd.DataFrame({"b": [True], "i": [1], "f": [0.5], "t": pd.to_datetime(["2026-01-01"]), "s": ["x"]})
    assert [k for _, k in frame_sql_types(frame)] == ["boolean", "integer", "float", "timestamp", "text"]
    assert frame_rows(pd.DataFrame({"x": [1.0, None]})) == [(1.0,), (None,)]
    assert normalise(pd.DataFrame({"d": [decimal.Decimal("1.5")]}))["d"].dtype == "float64"
