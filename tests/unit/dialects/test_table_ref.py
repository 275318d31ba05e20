"""The dialects take a table as one validated ``TableRef``: they never split names again, and refuse no valid one."""

from __future__ import annotations

import ast
import inspect
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from airflow_automl_provider import dialects
from airflow_automl_provider.dialects import Dialect, MySqlDialect, PostgresDialect, SqliteDialect
from airflow_automl_provider.dialects import sqlite as sq
from airflow_automl_provider.dialects.base import RangesUnavailable, frame_sql_types, information_schema_non_numeric
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.unit

D = SqliteDialect("sqlite", "?")
LONGEST = "t" * 63  # the longest valid name: its staging and chunk tables are valid names too


def test_no_dialect_module_splits_a_table_name():
    for path in sorted(Path(dialects.__file__).parent.glob("*.py")):
        nodes = list(ast.walk(ast.parse(path.read_text())))
        names = {n.id for n in nodes if isinstance(n, ast.Name)}
        names |= {a.name for n in nodes if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "split_table_name" not in names, path.name


@pytest.mark.parametrize("cls", [SqliteDialect, PostgresDialect, MySqlDialect])
def test_every_override_keeps_the_generic_signature(cls):
    for name, method in vars(cls).items():
        base = getattr(Dialect, name, None)
        if callable(method) and callable(base) and not name.startswith("__"):
            assert list(inspect.signature(method).parameters) == list(inspect.signature(base).parameters), name


@pytest.fixture
def conn(tmp_path):
    """A SQLite file with a second database attached as the schema ``aux``, in one transaction."""
    c = sqlite3.connect(tmp_path / "main.db")
    c.execute(f"ATTACH DATABASE '{tmp_path / 'aux.db'}' AS aux")
    D.begin(c)
    yield c
    c.close()


def test_a_schema_qualified_ref_flows_through_the_sqlite_dialect(conn):
    ref = TableRef("aux", LONGEST)
    frame = pd.DataFrame({"id": [1, 2, 3], "x": [0.5, None, 2.0], "s": ["a", "b", None]})
    assert D.replace_table(conn, ref, frame_sql_types(frame), [frame]) == 3
    assert D.replace_table(conn, ref, frame_sql_types(frame), [frame]) == 3  # a second swap, in place
    assert {r[0] for r in conn.execute("SELECT name FROM aux.sqlite_master")} == {LONGEST}
    assert LONGEST not in {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master")}
    assert D.table_identity(conn, TableRef("AUX", "T")) == ("aux", "t")
    assert D.non_numeric(conn, ref, "x") is None
    assert D.non_numeric(conn, ref, "s") == "it holds text values such as 'a'"
    assert D.rowids_readable(conn, ref) and sq.text_affinities(conn, D, ref, None) == (
        ["id", "x", "s"],
        ["integer", "real", "text"],
    )
    sql = f"SELECT * FROM {D.table(ref)}"
    pd.testing.assert_frame_equal(pd.concat(D.read_chunks(conn, ref, None, sql, [], 2), ignore_index=True), frame)
    with pytest.raises(RangesUnavailable, match=f"{LONGEST} is not a SQLite table with rowids in the main database"):
        list(D.range_query(conn, ref, lambda where: f"{sql} WHERE {where}"))


def test_a_rowid_join_writes_into_an_attached_schema(conn):
    from airflow_automl_provider.hooks.table import RowidJoin

    src = pd.DataFrame({"id": [10, 20]})
    D.replace_table(conn, TableRef(None, "src"), frame_sql_types(src), [src])
    preds = pd.DataFrame({sq.SOURCE_ROW: [1, 2], "p": [0.25, 0.75]})
    out = TableRef("aux", LONGEST)
    assert D.replace_table(conn, out, frame_sql_types(preds), [preds], RowidJoin(TableRef(None, "src"), ["id"])) == 2
    assert conn.execute(f"SELECT id, p FROM {D.table(out)} ORDER BY id").fetchall() == [(10, 0.25), (20, 0.75)]


def test_the_generic_write_swaps_a_schema_qualified_ref(conn):
    d = Dialect("sqlite", "?")  # the generic swap: filled and committed first, then renamed in place
    d.table_names = lambda c, schema: {r[0] for r in c.execute(f"SELECT name FROM {schema or 'main'}.sqlite_master")}
    ref = TableRef("aux", LONGEST)
    conn.execute(f'CREATE TABLE aux."{LONGEST[:40]}__new_0123abcd" (x INTEGER)')  # a killed writer's
    frame = pd.DataFrame({"id": [1]})
    assert d.replace_table(conn, ref, frame_sql_types(frame), [frame]) == 1
    assert {r[0] for r in conn.execute("SELECT name FROM aux.sqlite_master")} == {LONGEST}


class _Conn:
    def __init__(self):
        self.params = []

    def cursor(self):
        return self

    def execute(self, sql, params):
        self.params.append(params)

    def fetchall(self):
        return [("text",)]

    def close(self):
        pass


@pytest.mark.parametrize("cls", [PostgresDialect, MySqlDialect])
def test_information_schema_gets_the_refs_schema_and_name(cls):
    conn = _Conn()
    assert cls("x", "%s").non_numeric(conn, TableRef("s", "t"), "c") == "its type is text"
    assert information_schema_non_numeric(conn, cls("x", "%s"), TableRef(None, "t"), "c", "NOW()") is not None
    assert conn.params == [["s", "t", "c"], [None, "t", "c"]]
