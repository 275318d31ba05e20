"""
SQLite: its text reader, rowid joins, multi-row inserts, parallel range queries, and its type quirks.

Each fast path is a function of a DB-API (``sqlite3``) connection or cursor and the dialect;
:class:`SqliteDialect` calls them in place of the generic ways of :class:`.base.Dialect`.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_automl_provider.dialects.base import Dialect, RangesUnavailable, frame_rows
from airflow_automl_provider.sql import TableRef, validate_column

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from datetime import datetime

    import pandas as pd

#: Rows per INSERT statement (fewer where SQLite's limit on bound values is lower).
ROWS_PER_INSERT = 8192
#: SQLite's printf() takes at most 127 arguments; wider reads keep the cursor path.
TEXT_MAX_COLUMNS = 100
# The column that carries a source row's rowid through a rowid join (hooks.tracking.RowidJoin).
SOURCE_ROW = "automl_source_row"


def sqlite_affinity(declared_type: str | None) -> str:
    """
    SQLite's affinity of a column declared with ``declared_type``: ``integer``, ``text``, ``blob``,
    ``real`` or ``numeric``, by SQLite's own rules in their order (https://sqlite.org/datatype3.html).
    """
    t = (declared_type or "").upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


class SqliteDialect(Dialect):
    """SQLite (the ``sqlite3`` driver): one file, typed by affinity, one writer at a time."""

    TYPES: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "key": "TEXT",
        "integer": "INTEGER",
        "float": "REAL",
        "boolean": "INTEGER",
        "timestamp": "TEXT",
    }
    schema_word: ClassVar[str] = "attached database"
    transactional_ddl: ClassVar[bool] = True
    has_rowids: ClassVar[bool] = True
    # Its catalog does not know what a column holds: the check scans the table.
    cheap_numeric_check: ClassVar[bool] = False
    # SQLite's datetime() reads ISO text, NULL otherwise: ISO text is a timestamp here.
    text_time_kind: ClassVar[str] = "timestamp"

    def numbers_only(self, expr: str) -> str:
        # A cast turns text into 0.0: let only numbers through, as the numeric check requires.
        return f"CASE WHEN typeof({expr}) IN ('integer', 'real') THEN {expr} END"

    def as_time(self, expr: str) -> str:
        # SQLite keeps timestamps as text in several forms; datetime() makes them comparable.
        return f"datetime({expr})"

    def text_as_time(self, expr: str) -> str:
        return self.as_time(expr)

    def bind_timestamp(self, value: datetime) -> Any:
        return value.isoformat()

    def set_lock_timeout(self, conn: Any, seconds: float) -> None:
        # A second writer waits for the first instead of failing at once with "database is locked".
        conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def begin(self, conn: Any) -> None:
        # Python's sqlite3 only opens a transaction before DML; DDL must be inside it too.
        conn.isolation_level = None
        conn.execute("BEGIN")

    def begin_snapshot(self, conn: Any) -> None:
        conn.cursor().execute("BEGIN")

    def schema_exists(self, conn: Any, schema: str) -> bool:
        return schema in {r[1] for r in conn.execute("PRAGMA database_list")}

    def table_names(self, conn: Any, schema: str | None) -> set[str]:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def table_identity(self, conn: Any, ref: TableRef) -> tuple[str, str]:
        # SQLite ignores case in table and database names.
        return (ref.schema or "main").lower(), ref.name.lower()

    def non_numeric(self, conn: Any, ref: TableRef, column: str) -> str | None:
        col = self.quote(column)
        rows = conn.execute(
            f"SELECT typeof({col}), {col} FROM {self.table(ref)} "
            f"WHERE typeof({col}) NOT IN ('integer', 'real', 'null') LIMIT 1"
        ).fetchall()
        return f"it holds {rows[0][0]} values such as {rows[0][1]!r}" if rows else None

    def typed_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.infer_objects()  # SQLite has no DECIMAL values to convert

    def read_chunks(
        self,
        conn: Any,
        ref: TableRef,
        columns: Sequence[str] | None,
        sql: str,
        params: list[Any],
        chunk_rows: int,
        where: tuple[str, list[Any]] = ("", []),
    ) -> Iterator[pd.DataFrame]:
        typed = text_affinities(conn, self, ref, columns)
        if typed is None:
            yield from self.cursor_chunks(conn, sql, params, chunk_rows)
        else:
            yield from text_chunks(conn, self, ref, *typed, chunk_rows, where)

    def rowids_readable(self, conn: Any, ref: TableRef) -> bool:
        return rowid_table_columns(conn, self, ref) is not None

    def range_query(self, conn: Any, ref: TableRef, sql: Any, **kwargs: Any) -> Iterator[Any]:
        return range_query(conn, self, ref, sql, **kwargs)

    def swap_in(self, cur: Any, staging: TableRef, table: TableRef) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {self.table(table)}")
        rename_keeping_views(cur, self, staging, table)

    def write_joined(
        self,
        cur: Any,
        table: TableRef,
        columns: Sequence[tuple[str, str]],
        frames: Iterable[pd.DataFrame],
        join: Any,
    ) -> int:
        return write_joined(cur, self, table, columns, frames, join)

    def insert_frame(self, cur: Any, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
        insert_many_per_statement(cur, self, target, names, frame)


def rowid_table_columns(conn: Any, d: Dialect, ref: TableRef) -> dict[str, str] | None:
    """
    The declared type of each column ``SELECT *`` gives, for a SQLite table whose rows ``rowid``
    names; None for a view (its rowid is NULL), a WITHOUT ROWID table (selecting it fails) or a
    table with a column of that name.
    """
    import sqlite3

    prefix = f"{d.quote(ref.schema)}." if ref.schema else ""
    cur = conn.cursor()
    try:
        kind = cur.execute(f"SELECT type FROM {prefix}sqlite_master WHERE name = ?", [ref.name]).fetchall()
        # name, declared type, hidden (1: a virtual table's hidden column, not in SELECT *)
        info = cur.execute(f"PRAGMA {prefix}table_xinfo({d.quote(ref.name)})").fetchall()
        cur.execute(f"SELECT rowid FROM {d.table(ref)} LIMIT 0")
    except sqlite3.Error:
        return None
    finally:
        cur.close()
    if kind != [("table",)] or {row[1].lower() for row in info} & {"rowid", "_rowid_", "oid"}:
        return None
    return {row[1]: row[2] for row in info if row[6] != 1}


def text_affinities(
    conn: Any, d: Dialect, ref: TableRef, columns: Sequence[str] | None
) -> tuple[list[str], list[str]] | None:
    """
    The columns to read (``columns``, else all) and SQLite's affinity of each (``rowid`` is
    ``integer``), where the text reader can read them: a table with rowids (see
    :func:`rowid_table_columns`), every column declared with a type (a column without one
    may hold anything), no column twice, at most ``TEXT_MAX_COLUMNS``. None otherwise.
    """
    declared = rowid_table_columns(conn, d, ref)
    if declared is None:
        return None
    names = list(columns or declared)
    if len(names) > TEXT_MAX_COLUMNS or len(set(names)) != len(names):
        return None
    affinities = ["integer" if c == "rowid" else sqlite_affinity(declared.get(c, "")) for c in names]
    return None if "blob" in affinities else (names, affinities)


def text_chunks(
    conn: Any,
    d: Dialect,
    ref: TableRef,
    columns: Sequence[str],
    affinities: list[str],
    chunk_rows: int,
    where: tuple[str, list[Any]] = ("", []),
) -> Iterator[pd.DataFrame]:
    """
    The rows of a SQLite table by rowid ranges, each chunk made by SQLite as one CSV text and
    parsed by Arrow, giving the same DataFrames as the cursor path.

    The cursor path makes a Python object of every value, taking the GIL back after every row;
    beside a prediction thread that also needs the GIL that cost about as much as the model
    (docs/benchmarks.md). Here SQLite formats a chunk in one step without the GIL and Arrow
    parses it without it. Text columns are quoted by ``%Q`` and read as text; the others are
    written as integers or by ``quote()`` (exact for every REAL) and must parse as integers or
    floats. A chunk where they do not (text or a BLOB in a number column), or that Arrow cannot
    parse (text that is not UTF-8), is read again through the cursor. Known differences, both
    from SQLite's text functions: a BLOB stored in a TEXT column is read as its bytes' text,
    not as bytes, and a text value is cut at a NUL character. All chunks read one snapshot:
    the caller's transaction, else a savepoint held until the last chunk.

    :param where: an SQL condition on the rows and its parameters (a time window), or empty.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pacsv

    fmt = ",".join("%Q" if a == "text" else "%s" for a in affinities)
    # quote() writes every REAL exactly (%s would round it to 15 digits); integers, most values of
    # most number columns, skip it (less of SQLite's formatting time).
    args = ", ".join(
        "rowid"
        if c == "rowid"
        else (
            d.quote(c) if a == "text" else f"iif(typeof({d.quote(c)}) = 'integer', {d.quote(c)}, quote({d.quote(c)}))"
        )
        for c, a in zip(columns, affinities, strict=True)
    )
    condition, params = where
    # A chunk: the next chunk_rows rows from the first rowid not read yet.
    source = f"{d.table(ref)} WHERE rowid >= ?{f' AND {condition}' if condition else ''} ORDER BY rowid LIMIT ?"
    sql = (
        "SELECT CAST(group_concat(automl_line, char(10)) AS BLOB), count(*), max(automl_rowid) "
        f"FROM (SELECT rowid AS automl_rowid, printf('{fmt}', {args}) AS automl_line FROM {source})"
    )
    plain = f"SELECT {', '.join(d.quote(c) for c in columns)} FROM {source}"
    names = [f"c{i}" for i in range(len(columns))]  # Arrow's names; the frame gets the table's
    parse = pacsv.ParseOptions(quote_char="'", double_quote=True, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n, a in zip(names, affinities, strict=True) if a == "text"},
        null_values=["NULL"],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    numbers = (pa.int64(), pa.float64(), pa.null())
    numeric = [n for n, a in zip(names, affinities, strict=True) if a != "text"]
    savepoint = not conn.in_transaction
    cur = conn.cursor()
    try:
        if savepoint:
            cur.execute("SAVEPOINT automl_read")
        first = -(1 << 63)  # SQLite's smallest rowid
        while True:
            text, rows, last = cur.execute(sql, [first, *params, chunk_rows]).fetchone()
            if not rows:
                break
            frame = None
            with contextlib.suppress(pa.ArrowInvalid):
                options = pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(text) + 1)
                parsed = pacsv.read_csv(pa.py_buffer(text), options, parse, convert)
                if all(parsed.schema.field(n).type in numbers for n in numeric):
                    frame = parsed.to_pandas()
                    frame.columns = list(columns)
            if frame is None:  # as the cursor path reads it
                rowset = cur.execute(plain, [first, *params, chunk_rows]).fetchall()
                frame = pd.DataFrame(rowset, columns=list(columns)).infer_objects()
            yield frame
            if last == (1 << 63) - 1:  # SQLite's largest rowid: no row after it
                break
            first = last + 1
    finally:
        with contextlib.suppress(Exception):
            if savepoint:
                cur.execute("RELEASE automl_read")
        cur.close()


def rename_keeping_views(cur: Any, d: Dialect, staging: TableRef, table: TableRef) -> None:
    """
    Rename the staging table into place. SQLite re-checks every view and trigger at a rename, and a
    view over ``table`` (dropped just before) fails it: "error in view v: no such table". The
    legacy rename skips that check; views name tables, so they read the new table afterwards.
    """
    (legacy,) = cur.execute("PRAGMA legacy_alter_table").fetchone()
    cur.execute("PRAGMA legacy_alter_table = ON")
    try:
        cur.execute(d.rename_table_sql(staging, table))
    finally:
        cur.execute(f"PRAGMA legacy_alter_table = {'ON' if legacy else 'OFF'}")


def write_joined(
    cur: Any,
    d: Dialect,
    table: TableRef,
    columns: Sequence[tuple[str, str]],
    frames: Iterable[pd.DataFrame],
    join: Any,
) -> int:
    """
    Build the table ``table`` from the source's ``join.columns`` followed by the frames'
    new columns, row for row by :data:`SOURCE_ROW`, chunk by chunk: each frame goes to a small
    table in this connection's ``temp`` schema, keyed by the source rowid (an INTEGER PRIMARY
    KEY is that table's own rowid, so the join walks both tables in order without sorting),
    and one ``INSERT ... SELECT`` joins it to the source. SQLite copies the source values
    itself: taking them through Python and back cost a third of a large prediction's time.
    Joining as the chunks come, not once at the end, overlaps that work with the prediction
    and never stores all the predictions twice.

    :param join: a ``hooks.tracking.RowidJoin``: the source table and the columns to copy.
    :returns: the rows written.
    """
    for column in join.columns:
        validate_column(column)
    chunk_ref = TableRef("temp", f"{table.name}_chunk")  # this connection's own temp schema: no other writer sees it
    chunk = d.table(chunk_ref)
    new_columns = [n for n, _ in columns if n != SOURCE_ROW]
    cur.execute(d.create_table_sql(chunk_ref, columns, if_not_exists=False, primary_key=SOURCE_ROW))
    key = d.quote(SOURCE_ROW)
    selected = ", ".join([*(f"i.{d.quote(c)}" for c in join.columns), *(f"s.{d.quote(n)}" for n in new_columns)])
    select = (
        f"SELECT {selected} FROM {chunk} AS s JOIN {d.table(join.source)} AS i ON i.rowid = s.{key} ORDER BY s.{key}"
    )
    # The first (even empty) chunk creates the table, with the column types SQLite gives the selection.
    cur.execute(f"CREATE TABLE {d.table(table)} AS {select} LIMIT 0")
    written = 0
    for frame in frames:
        if len(frame):
            insert_many_per_statement(cur, d, chunk, [n for n, _ in columns], frame)
            cur.execute(f"INSERT INTO {d.table(table)} {select}")
            cur.execute(f"DELETE FROM {chunk}")
            written += len(frame)
    cur.execute(f"DROP TABLE {chunk}")
    return written


def insert_many_per_statement(cur: Any, d: Dialect, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
    """
    Many rows per INSERT statement: sqlite3 lets go of the GIL at every step, and getting it back
    from a thread that holds it (the prediction's pandas work) can wait milliseconds a time
    (docs/benchmarks.md). The rows left over go in one statement of their own.
    """
    rows = frame_rows(frame)
    cols = ", ".join(d.quote(n) for n in names)
    one = f"({d.placeholders(len(names))})"
    width = max(1, min(ROWS_PER_INSERT, variable_limit(cur) // len(names)))
    flat = list(itertools.chain.from_iterable(rows))
    step = width * len(names)
    whole = (len(rows) // width) * step
    if whole:
        cur.executemany(
            f"INSERT INTO {target} ({cols}) VALUES {', '.join([one] * width)}",
            (flat[i : i + step] for i in range(0, whole, step)),
        )
    if whole < len(flat):
        cur.execute(f"INSERT INTO {target} ({cols}) VALUES {', '.join([one] * (len(rows) % width))}", flat[whole:])


def variable_limit(cur: Any) -> int:
    """How many values one SQLite statement may bind (999 before SQLite 3.32)."""
    import sqlite3

    try:
        return int(cur.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):  # Python < 3.11
        return 999


def range_query(
    conn: Any,
    d: Dialect,
    ref: TableRef,
    sql: Callable[[str], str],
    parameters: Sequence[Any] = (),
    max_rows: int = 1 << 16,
    range_rows: int = 1 << 20,
    workers: int | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """
    Run one query over ranges of a SQLite table's rowids, on several connections in threads
    (SQLite leaves Python's lock while it works), and yield each range's rows as it ends.

    For queries whose work is in SQLite, such as a ``GROUP BY`` that sorts every row (timings in
    docs/benchmarks.md). Every range reads the same snapshot: ``conn`` (a read snapshot, see
    :meth:`SqliteDialect.begin_snapshot`) holds a read lock from before the first range starts
    until after the last one ends, and a rollback-journal database cannot commit while a reader
    holds one. Range connections are read-only and never wait for a lock.

    Raises :class:`.base.RangesUnavailable`, possibly after some ranges were yielded, when the table
    cannot be read this way: a view or table without rowids, an in-memory or attached database,
    WAL mode (each connection would see its own snapshot), a writer waiting to commit, or a range
    with more than ``max_rows`` rows. The caller then reads the table another way; any other error
    is raised as it is.

    :param conn: the read snapshot's connection.
    :param sql: the query, given the SQL condition on the rowid range; the range's two bounds
        are bound after ``parameters``, so the condition must follow every other placeholder.
    :param parameters: values bound to the query's own placeholders.
    :param max_rows: most rows a range may return.
    :param range_rows: most rowids per range.
    :param workers: threads; default the usable cores, at most 4.
    """
    import os
    import queue
    import sqlite3
    import threading
    import urllib.parse

    if rowid_table_columns(conn, d, ref) is None or ref.schema not in (None, "main"):
        raise RangesUnavailable(f"{ref.name} is not a SQLite table with rowids in the main database")
    name = d.table(ref)
    if not workers:  # the cores this process may use (Linux), else all of them (macOS)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(cores, 4)
    files = {row[1]: row[2] for row in conn.execute("PRAGMA database_list")}
    (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    if not files.get("main") or str(mode).lower() == "wal":
        raise RangesUnavailable(f"journal mode {mode}, file {files.get('main')!r}")
    # Takes the read lock, kept until the snapshot ends: no commit until every range ends.
    # Two subqueries: SQLite reads min() or max() of the rowid from the b-tree's ends only
    # when it is a query's one aggregate; both in one SELECT scan every row.
    first, last = conn.execute(f"SELECT (SELECT min(rowid) FROM {name}), (SELECT max(rowid) FROM {name})").fetchone()
    if first is None:
        return
    # At least one range per thread: a table of 1M rows is read in two halves on two cores.
    step = max(1, min(range_rows, -(-(last + 1 - first) // workers)))
    jobs: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
    for start in range(first, last + 1, step):
        jobs.put((start, min(start + step, last + 1)))
    uri = f"file:{urllib.parse.quote(files['main'])}?mode=ro"
    query = sql("rowid >= ? AND rowid < ?")
    results: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        try:
            # timeout=0: a writer waiting to commit (its PENDING lock) refuses new readers.
            ro = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
            try:
                while not stop.is_set():
                    try:
                        start, end = jobs.get_nowait()
                    except queue.Empty:
                        break
                    cur = ro.execute(query, [*parameters, start, end])
                    try:
                        rows = cur.fetchmany(max_rows + 1)
                    finally:
                        # An unfinished statement keeps its read lock until it is reset,
                        # even past ro.close(), for as long as an error's traceback holds it.
                        cur.close()
                    if len(rows) > max_rows:
                        raise RangesUnavailable(f"more than {max_rows} rows from rowids {start} to {end}")
                    results.put(rows)
            finally:
                ro.close()
        except BaseException as exc:  # handed to the caller's thread
            results.put(exc)
        finally:
            results.put(None)

    threads = [threading.Thread(target=work, name=f"automl-sqlite-range-{i}", daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = results.get()
            if item is None:
                running -= 1
            elif isinstance(item, sqlite3.Error):
                raise RangesUnavailable(f"range read failed: {item}") from item
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
