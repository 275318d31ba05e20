"""SQLite's text reader (``dialects.sqlite.text_chunks``) gives the frames the cursor path gives."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime

import pandas as pd
import pytest

from airflow_automl_provider.dialects import sqlite
from airflow_automl_provider.hooks.tracking import TimeWindow, TrackingHook
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.integration

COLUMNS = ["i", "r", "n", "t", "with space", "d", "x"]
# rowid, then one value per column: NULLs, quotes, commas, newlines, text that looks like a number,
# a date or NULL, floats that need 17 digits, the largest integers, and a text value in an INTEGER
# column (its chunk goes through the cursor again); rowids from negative to SQLite's largest.
ROWS = [
    (-5, 1, 0.1, 1, "a", "x", "2026-01-01 00:00:00", 1),
    (0, None, None, 2.5, None, None, "2026-01-02 00:00:00", 2),
    (1, 3, 1 / 3, None, "", "", "2026-01-03 00:00:00", 3),
    (2, 9223372036854775807, 1e-300, 7, 'it\'s, "quoted"', "two\nlines", "2026-01-04 00:00:00", None),
    (3, -9223372036854775808, -0.0, 1e300, "NULL", "null", "2026-01-05 00:00:00", 4),
    (7, 4, 123456789.12345679, 8, "42", "3.5", "2026-01-06 00:00:00", 5),
    (8, 5, 2.0, 9, "é ü 日本", "true", "2026-01-07 00:00:00", 6),
    (1000, 6, None, 10, "\r\n,'", "1e5", "2026-01-08 00:00:00", "n/a"),
    (1001, None, 0.5, None, None, "", None, 7),
    (1002, None, None, None, None, None, None, None),
    ((1 << 63) - 1, None, None, None, "the largest rowid", None, None, None),
]


@pytest.fixture
def typed_table(sqlite_db):
    hook = TrackingHook(conn_id="automl_sqlite")
    conn = hook.db_hook.get_conn()
    try:
        conn.execute("DROP TABLE IF EXISTS typed")
        conn.execute(
            'CREATE TABLE typed (i INTEGER, r REAL, n NUMERIC, t TEXT, "with space" VARCHAR(20), d TEXT, x BIGINT)'
        )
        conn.executemany(
            'INSERT INTO typed (rowid, i, r, n, t, "with space", d, x) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', ROWS
        )
        conn.commit()
    finally:
        conn.close()
    return hook


def _chunks(hook, columns, chunk_rows, window=None, cursor_only=False, monkeypatch=None):
    if cursor_only:
        monkeypatch.setattr(sqlite, "text_affinities", lambda *a, **k: None)
    conn = hook.db_hook.get_conn()
    try:
        return list(hook.iter_chunks(conn, "typed", None, columns, chunk_rows, window))
    finally:
        conn.close()


@pytest.mark.parametrize("chunk_rows", [1, 3, 100])
@pytest.mark.parametrize("columns", [["rowid", *COLUMNS], COLUMNS[:4], None])
def test_text_reader_frames_equal_the_cursor_frames(typed_table, monkeypatch, chunk_rows, columns):
    hook = typed_table
    conn = hook.db_hook.get_conn()
    try:
        assert sqlite.text_affinities(conn, hook.dialect, TableRef(None, "typed"), columns or COLUMNS) is not None
    finally:
        conn.close()
    text = _chunks(hook, columns, chunk_rows)
    cursor = _chunks(hook, columns, chunk_rows, cursor_only=True, monkeypatch=monkeypatch)
    assert len(text) == len(cursor) == -(-len(ROWS) // chunk_rows)
    for got, expected in zip(text, cursor, strict=True):
        pd.testing.assert_frame_equal(got, expected)

    def values(column):
        return [v for frame in text for v in frame[column].tolist()]

    if columns and "rowid" in columns:
        assert values("rowid") == [row[0] for row in ROWS]
        assert values("x")[7] == "n/a"  # the text in an INTEGER column, as the cursor reads it
    assert values("t")[3:5] == ['it\'s, "quoted"', "NULL"]
    if not columns or "with space" in columns:
        assert values("with space")[3] == "two\nlines"


def test_text_reader_keeps_the_window(typed_table, monkeypatch):
    window = TimeWindow("d", datetime(2026, 1, 2), datetime(2026, 1, 6))
    text = pd.concat(_chunks(typed_table, ["rowid", "t"], 2, window), ignore_index=True)
    cursor = pd.concat(_chunks(typed_table, ["rowid", "t"], 2, window, True, monkeypatch), ignore_index=True)
    pd.testing.assert_frame_equal(text, cursor)
    assert text["rowid"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE VIEW other AS SELECT * FROM typed",
        "CREATE TABLE other (i INTEGER PRIMARY KEY, t TEXT) WITHOUT ROWID",
        "CREATE TABLE other (i INTEGER, t)",  # a column without a declared type may hold anything
        'CREATE TABLE other (i INTEGER, t TEXT, "rowid" INTEGER)',
    ],
)
def test_tables_the_text_reader_cannot_read_keep_the_cursor_path(typed_table, ddl):
    hook = typed_table
    conn = hook.db_hook.get_conn()
    try:
        for kind, name in conn.execute("SELECT type, name FROM sqlite_master WHERE name = 'other'").fetchall():
            conn.execute(f"DROP {kind} {name}")
        conn.execute(ddl)
        if "VIEW" not in ddl:
            conn.execute("INSERT INTO other (i, t) VALUES (1, 'a'), (2, 'b')")
        conn.commit()
        assert sqlite.text_affinities(conn, hook.dialect, TableRef(None, "other"), ["i", "t"]) is None
    finally:
        conn.close()
    frame = hook.read_frame("other", None, ["i", "t"])
    assert frame["i"].tolist()[:2] == [1, 2] if "VIEW" not in ddl else len(frame) == len(ROWS)


def test_text_reader_reads_one_snapshot(typed_table):
    """A commit by another connection between two chunks is not read (nor does it lose a row)."""
    hook = typed_table
    conn = hook.db_hook.get_conn()
    writer = sqlite3.connect(hook.db_hook.get_conn().execute("PRAGMA database_list").fetchone()[2], timeout=0)
    try:
        chunks = hook.iter_chunks(conn, "typed", None, ["rowid", "t"], 2)
        frames = [next(chunks)]
        with contextlib.suppress(sqlite3.OperationalError):  # the rollback journal refuses it while we read
            writer.execute("INSERT INTO typed (rowid, t) VALUES (5000, 'late')")
            writer.commit()
        frames.extend(chunks)
    finally:
        writer.close()
        conn.close()
    assert pd.concat(frames)["rowid"].tolist() == [row[0] for row in ROWS]
