"""TableRef (a table validated once) and the generic TableHook on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_automl_provider.sql import InvalidIdentifierError, SqlDialect, TableRef

pytestmark = pytest.mark.unit


def test_a_table_ref_is_parsed_once_with_the_rules_of_split_table_name():
    assert TableRef.parse("s.t") == TableRef("s", "t")
    assert TableRef.parse("t", "s") == TableRef("s", "t")
    assert TableRef.parse("t", "") == TableRef(None, "t") == TableRef("", "t")
    assert TableRef.parse("t").schema is None
    assert str(TableRef.parse("s.t")) == "s.t" and str(TableRef.parse("t")) == "t"
    with pytest.raises(InvalidIdentifierError, match="also given"):
        TableRef.parse("a.t", "b")
    for bad in ('t"; DROP TABLE x; --', "a.b.c", "", "1abc", "a b"):
        with pytest.raises(InvalidIdentifierError):
            TableRef.parse(bad)
    with pytest.raises(InvalidIdentifierError, match="Invalid schema name"):
        TableRef("s;", "t")  # built directly, it is validated too
    with pytest.raises(InvalidIdentifierError, match="Invalid table name"):
        TableRef(None, "t t")


def test_a_table_ref_passes_through_parse_and_takes_a_default_schema_only():
    ref = TableRef("s", "t")
    assert TableRef.parse(ref) is ref and TableRef.parse(ref, "s") is ref
    assert TableRef.parse(TableRef(None, "t"), "s") == TableRef("s", "t")
    with pytest.raises(InvalidIdentifierError, match="also given"):
        TableRef.parse(ref, "other")
    assert ref.sibling("automl_predictions") == TableRef("s", "automl_predictions")


def test_a_table_ref_obeys_allowed_schemas(monkeypatch):
    from airflow_automl_provider.config import NotAllowedError

    monkeypatch.setenv("AIRFLOW__AUTOML__ALLOWED_SCHEMAS", "automl_*")
    assert TableRef.parse("t", "automl_test") == TableRef("automl_test", "t")
    assert TableRef.parse("t") == TableRef(None, "t")
    with pytest.raises(NotAllowedError, match="allowed_schemas"):
        TableRef.parse("private.salaries")


def test_each_dialect_quotes_a_table_ref():
    ref = TableRef("s", "t")
    assert SqlDialect("sqlite").table(ref) == '"s"."t"'
    assert SqlDialect("postgresql", "%s").table(ref) == '"s"."t"'
    assert SqlDialect("mysql", "%s").table(ref) == "`s`.`t`"
    assert SqlDialect("mysql", "%s").table(TableRef(None, "t")) == "`t`"


@pytest.fixture
def hook(monkeypatch, tmp_path):
    from airflow_automl_provider.hooks.table import TableHook

    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_TABLE", f"sqlite://{tmp_path}/t.db")
    return TableHook(conn_id="automl_table")


def _frame():
    import pandas as pd

    times = [datetime(2026, 11, 1, h, tzinfo=UTC) for h in (1, 2, 3, 4)]
    return pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "label": ["a", "b", "a", "b"], "t": times})


def test_the_table_hook_writes_reads_and_counts_a_table_named_by_a_ref(hook):
    from airflow_automl_provider.hooks.table import TimeWindow

    ref = TableRef.parse("main.rows")  # SQLite's main database is its schema
    assert hook.replace_with_frame(ref, _frame()) == 4
    assert hook.columns(ref) == hook.columns("rows") == ["x", "label", "t"]
    assert hook.count_rows(ref) == 4
    window = TimeWindow("t", datetime(2026, 11, 1, 2, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC))
    assert hook.count_rows("rows", window=window) == 2
    frame = hook.read_frame(ref, columns=["x", "label"])
    assert sorted(frame["x"]) == [1.0, 2.0, 3.0, 4.0] and list(frame.columns) == ["x", "label"]
    with hook.read_snapshot() as conn:
        chunks = list(hook.iter_chunks(conn, ref, columns=["x"], chunk_rows=3))
    assert sum(len(c) for c in chunks) == 4 and all(len(c) <= 3 for c in chunks)
    assert hook.distinct_values(ref, None, "label") == ["a", "b"]
    assert hook.resolve_label(ref, None, "label", "b") == "b"
    assert hook.table_identity(ref) == hook.table_identity("rows")


def test_the_table_hook_names_missing_tables_and_columns(hook):
    from airflow_automl_provider.hooks.table import MissingColumnError, TableNotFoundError

    with pytest.raises(TableNotFoundError, match='"nowhere"'):
        hook.columns(TableRef(None, "nowhere"))
    hook.replace_with_frame("rows", _frame())
    with pytest.raises(MissingColumnError, match=r"\['y'\] not found in table \"rows\""):
        hook.check_columns(TableRef(None, "rows"), None, ["x", "y"])
    with pytest.raises(TypeError, match="'label' of table \"rows\" is not numeric"):
        hook.check_numeric(TableRef(None, "rows"), None, "label")


def test_a_transaction_is_committed_whole_or_rolled_back(hook):
    hook.replace_with_frame("rows", _frame())
    with pytest.raises(RuntimeError), hook.transaction() as conn:
        conn.cursor().execute('DELETE FROM "rows"')
        raise RuntimeError("fail before the commit")
    assert hook.count_rows("rows") == 4
    with hook.transaction() as conn:
        conn.cursor().execute('DELETE FROM "rows" WHERE "x" > ?', [2.0])
    assert hook.query('SELECT COUNT(*) FROM "rows"') == [(2,)]


def test_what_users_imported_from_hooks_tracking_is_the_table_hooks():
    from airflow_automl_provider.hooks import table, tracking

    for name in ("TableNotFoundError", "MissingColumnError", "TimeWindow", "RowidJoin", "label_text", "SOURCE_ROW"):
        assert getattr(tracking, name) is getattr(table, name), name
    assert issubclass(tracking.TrackingHook, table.TableHook)
