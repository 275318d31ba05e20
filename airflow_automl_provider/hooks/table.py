"""
Generic table I/O for any ``common-sql`` connection: columns, reads (whole, chunked, in a time window),
writes that replace a table whole, transactions and read-only queries.

What reads or writes the package's own tables (experiments, evaluations, drift results, predictions) is in
:mod:`.tracking`, on top of this; what differs between databases is in :mod:`..dialects`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_automl_provider.constants import DEFAULT_CHUNK_ROWS, DEFAULT_CONN_ID
from airflow_automl_provider.dialects import Dialect, dialect_for
from airflow_automl_provider.dialects.base import RangesUnavailable, frame_rows, frame_sql_types, normalise
from airflow_automl_provider.dialects.sqlite import SOURCE_ROW
from airflow_automl_provider.evaluation.measures import EvaluationError
from airflow_automl_provider.sql import TableRef, timestamp_value, validate_column

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import pandas as pd
    from airflow.providers.common.sql.hooks.sql import DbApiHook

__all__ = [
    "SOURCE_ROW",
    "LabelNotFoundError",
    "MissingColumnError",
    "RangesUnavailable",
    "RowidJoin",
    "SchemaNotFoundError",
    "TableHook",
    "TableLockedError",
    "TableNotFoundError",
    "TableRef",
    "TimeWindow",
    "frame_rows",
    "frame_sql_types",
    "is_lock_error",
    "label_text",
]


@dataclass(frozen=True)
class TimeWindow:
    """
    Rows whose ``column`` is in ``[start, end)``: a DAG run's data interval.

    ``kind`` is how the column holds time (:meth:`TableHook.time_column_kind`): ``timestamp`` (a date or
    timestamp type, or on SQLite ISO 8601 text), ``text`` (ISO 8601 text in a text column), ``epoch_s`` /
    ``epoch_ms`` (Unix time in seconds / milliseconds).
    """

    column: str
    start: Any
    end: Any
    kind: str = "timestamp"


#: Unix times at or above this are milliseconds (as seconds it would be the year 5138).
EPOCH_MS_FROM = 100_000_000_000
TIME_FORMATS = (
    "a date or timestamp column; ISO 8601 text such as 2026-11-02 07:00:00 or 2026-11-02T07:00:00+00:00; "
    "or Unix time in seconds or milliseconds"
)


@dataclass(frozen=True)
class RowidJoin:
    """
    SQLite: the frames written hold :data:`SOURCE_ROW` (the source row's ``rowid``) and new columns;
    the output table takes ``columns`` of the ``source`` table from those same rows, copied inside SQLite.
    """

    source: TableRef
    columns: Sequence[str]


class TableNotFoundError(LookupError):
    """An input table that does not exist or cannot be read."""


class TableLockedError(TimeoutError):
    """Another writer held a table's lock for longer than ``[automl] lock_timeout``."""


def is_lock_error(err: BaseException) -> bool:
    """A database's "could not get the lock in time" error (SQLite, PostgreSQL 55P03, MySQL 1205/3572)."""
    if getattr(err, "pgcode", None) == "55P03" or getattr(getattr(err, "diag", None), "sqlstate", None) == "55P03":
        return True
    args = getattr(err, "args", ())
    if args and isinstance(args[0], int) and args[0] in (1205, 3572):
        return True
    text = str(err).lower()
    return "database is locked" in text or "database table is locked" in text or "lock timeout" in text


class LabelNotFoundError(EvaluationError):
    """A label value (a positive class, say) that no row of the label column holds."""


def label_text(value: Any) -> str:
    """A label read back as text (MySQL returns the binary casts as bytes)."""
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


class SchemaNotFoundError(LookupError):
    """An output schema that does not exist on the connection."""


class MissingColumnError(KeyError):
    """A column the task needs is not in the table."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class TableHook(BaseHook):
    """
    Read and write tables through any ``common-sql`` connection (SQLite, PostgreSQL, MySQL, ...).

    The database hook comes from the connection itself, so every database with a ``DbApiHook`` works.
    Tables are named by a :class:`~airflow_automl_provider.sql.TableRef`, or by ``table`` (or
    ``schema.table``) and ``schema``, parsed into one once per call.

    :param conn_id: the Airflow connection of the database.
    """

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    hook_name = "AutoML table"

    def __init__(self, conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @cached_property
    def db_hook(self) -> DbApiHook:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        from airflow_automl_provider.connections import get_connection

        hook = get_connection(self.conn_id, "sql").get_hook()
        if not isinstance(hook, DbApiHook):
            raise TypeError(
                f"Connection {self.conn_id!r} gives a {type(hook).__name__}, which is not a common-sql DbApiHook: "
                "expected a SQL database connection (sqlite, postgres, mysql, ...)."
            )
        return hook

    def connect(self) -> Any:
        """
        A new DB-API connection that waits for a lock at most ``[automl] lock_timeout`` seconds, then fails
        with the database's lock error: nothing waits forever, and on SQLite a second writer waits for the
        first instead of failing at once with "database is locked".
        """
        from airflow_automl_provider.config import lock_timeout

        seconds = lock_timeout()
        conn = self.db_hook.get_conn()
        self.dialect.set_lock_timeout(conn, seconds)
        return conn

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        """A connection (:meth:`connect`) closed on leaving, for the dialect's catalog lookups."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def table_identity(self, table: str | TableRef, schema: str | None = None) -> tuple[str, str]:
        """
        ``(schema, table)`` as the database resolves the name: the default schema filled in, and names
        folded where the database ignores case (SQLite always; MySQL with lower_case_table_names), so
        that two spellings of one table compare equal.
        """
        ref = TableRef.parse(table, schema)
        with self._conn() as conn:
            return self.dialect.table_identity(conn, ref)

    @cached_property
    def dialect(self) -> Dialect:
        """What is special about the connection's database (:mod:`..dialects`), chosen once."""
        return dialect_for(self.db_hook)

    # -- transactions ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A DB-API connection in one transaction: committed on success, rolled back on any error."""
        conn = self.connect()
        try:
            self.dialect.begin(conn)
            yield conn
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        finally:
            conn.close()

    @contextlib.contextmanager
    def read_snapshot(self) -> Iterator[Any]:
        """
        A DB-API connection whose reads all see the same rows (one read-only transaction), rolled
        back and closed on leaving. On SQLite the read lock its first read takes is held until then.
        """
        conn = self.connect()
        try:
            self.dialect.begin_snapshot(conn)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()

    # -- reading --------------------------------------------------------------------------------------
    def columns(self, table: str | TableRef, schema: str | None = None) -> list[str]:
        """Column names of a table; :class:`TableNotFoundError` names the table when it cannot be read."""
        name = self.dialect.table(TableRef.parse(table, schema))
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {name} WHERE 1 = 0")
            return [col[0] for col in cur.description]
        except Exception as err:
            if is_lock_error(err):  # the table is there, another writer holds it: say so
                raise TableLockedError(
                    f"Table {name} on connection {self.conn_id!r} stayed locked by another writer for longer "
                    f"than [automl] lock_timeout: {err}"
                ) from err
            raise TableNotFoundError(
                f"Table {name} does not exist or cannot be read on connection {self.conn_id!r}: {err}"
            ) from err
        finally:
            conn.close()

    def check_columns(self, table: str | TableRef, schema: str | None, required: Iterable[str]) -> list[str]:
        """Return the table's columns, or raise :class:`MissingColumnError` listing what exists."""
        ref = TableRef.parse(table, schema)
        existing = self.columns(ref)
        missing = [c for c in required if c not in existing]
        if missing:
            raise MissingColumnError(
                f"Column(s) {missing} not found in table {self.dialect.table(ref)}; its columns are {existing}."
            )
        return existing

    def check_schema(self, schema: str | None) -> None:
        """Raise :class:`SchemaNotFoundError` naming a schema the connection does not have (before writing in it)."""
        if not schema:
            return
        with self._conn() as conn:
            exists = self.dialect.schema_exists(conn, schema)
        if not exists:
            what = self.dialect.schema_word
            raise SchemaNotFoundError(
                f"The {what} {schema!r} does not exist on connection {self.conn_id!r}: create it first, or leave "
                "the schema empty for the connection's default."
            )

    def table_names(self, schema: str | None = None) -> set[str]:
        """Names of the tables in ``schema`` (the connection's default when empty)."""
        with self._conn() as conn:
            return self.dialect.table_names(conn, schema)

    def check_numeric(self, table: str | TableRef, schema: str | None, column: str) -> None:
        """Raise ``TypeError`` naming the column when it does not hold numbers (SQLite would cast text to 0)."""
        ref = TableRef.parse(table, schema)
        name = self.dialect.table(ref)
        with self._conn() as conn:
            why = self.dialect.non_numeric(conn, ref, column)
        if why:
            raise TypeError(f"Column {column!r} of table {name} is not numeric: {why}; expected numbers.")

    def resolve_label(
        self, table: str | TableRef, schema: str | None, column: str, wanted: Any, what: str = "positive_class"
    ) -> str:
        """
        The text of ``column``'s label that is ``wanted`` as a value (see :mod:`..labels`): ``wanted``
        itself when a row holds it as text, else the one label equal to it as a number or a boolean
        (``1`` for ``1.0``, ``True`` for ``true``). A value no row holds is an error naming the labels seen.
        """
        from airflow_automl_provider.labels import match_label

        d = self.dialect
        name, col = d.table(TableRef.parse(table, schema)), d.as_text(d.quote(column))
        wanted = str(wanted)
        if self.query(f"SELECT 1 FROM {name} WHERE {col} = {d.text_placeholder} LIMIT 1", [wanted]):
            return wanted
        seen = sorted(
            label_text(v)
            for (v,) in self.query(f"SELECT DISTINCT {col} FROM {name} WHERE {col} IS NOT NULL LIMIT 1001")
        )
        if not seen:
            return wanted  # no labels at all: the caller's own check says what is wrong (no rows, NULLs)
        match = match_label(wanted, seen)
        if match is None:
            shown = seen[:20] + (["..."] if len(seen) > 20 else [])
            raise LabelNotFoundError(
                f"{what} {wanted!r} is not among the labels of column {column!r} in table {name}, as text or as "
                f"a number or boolean: labels seen {shown}."
            )
        return match

    def distinct_values(self, table: str | TableRef, schema: str | None, column: str, limit: int = 20) -> list[Any]:
        """Up to ``limit`` distinct values of a column, for error messages."""
        d = self.dialect
        col = d.quote(column)
        name = d.table(TableRef.parse(table, schema))
        rows = self.query(f"SELECT DISTINCT {col} FROM {name} ORDER BY {col} LIMIT {int(limit)}")
        return [r[0] for r in rows]

    def _select(
        self,
        table: TableRef,
        columns: Sequence[str] | None,
        window: TimeWindow | None = None,
        count: bool = False,
    ) -> tuple[str, list[Any]]:
        d = self.dialect
        cols = "COUNT(*)" if count else (", ".join(d.quote(c) for c in columns) if columns else "*")
        sql = f"SELECT {cols} FROM {d.table(table)}"
        where, params = self._window_filter(window)
        return (f"{sql} WHERE {where}", params) if where else (sql, [])

    def _window_filter(self, window: TimeWindow | None) -> tuple[str, list[Any]]:
        """The condition (and its parameters) that keeps the rows in ``window``; empty without one."""
        if window is None:
            return "", []
        d = self.dialect
        if window.kind in ("epoch_s", "epoch_ms"):
            scale = 1000 if window.kind == "epoch_ms" else 1
            col = d.quote(window.column)
            bounds = [_as_datetime(window.start).timestamp() * scale, _as_datetime(window.end).timestamp() * scale]
            return f"{col} >= {d.placeholder} AND {col} < {d.placeholder}", bounds
        col = self._time_expr(window.column, window.kind)
        return (
            f"{col} >= {d.as_time(d.placeholder)} AND {col} < {d.as_time(d.placeholder)}",
            [timestamp_value(d, window.start), timestamp_value(d, window.end)],
        )

    def _time_expr(self, column: str, kind: str) -> str:
        """``column`` as a timestamp the database compares; NULL where text does not read as one."""
        d = self.dialect
        col = d.quote(column)
        return d.as_time(col) if kind != "text" else d.text_as_time(col)

    def time_column_kind(self, table: str | TableRef, schema: str | None, column: str) -> str:
        """
        How ``column`` holds time, from its type and a value (see :class:`TimeWindow`); a column that holds
        none of the forms accepted is refused with a message naming it and the forms.
        """
        d = self.dialect
        name = d.table(TableRef.parse(table, schema))
        # A sample, so that a few unreadable values (counted later) do not decide for the column.
        rows = self.query(f"SELECT {d.quote(column)} FROM {name} WHERE {d.quote(column)} IS NOT NULL LIMIT 100")
        if not rows:
            return "timestamp"  # no value to judge (the count of unreadable rows stays 0)
        for (value,) in rows:
            kind = _time_kind(value, d.text_time_kind)
            if kind is not None:
                return kind
        value = rows[0][0]
        held = (
            f"{value!r}, which is not a time"
            if isinstance(value, str)
            else f"{type(value).__name__} values such as {value!r}"
        )
        raise ValueError(f"time_column {column!r} of table {name} holds {held}: expected {TIME_FORMATS}.")

    def count_unreadable_times(self, table: str | TableRef, schema: str | None, window: TimeWindow) -> int:
        """Rows whose ``window.column`` has a value that does not read as a time (so no window holds them)."""
        if window.kind in ("epoch_s", "epoch_ms"):
            return 0
        d = self.dialect
        col = d.quote(window.column)
        ((n,),) = self.query(
            f"SELECT COUNT(*) FROM {d.table(TableRef.parse(table, schema))} "
            f"WHERE {col} IS NOT NULL AND {self._time_expr(window.column, window.kind)} IS NULL"
        )
        return int(n or 0)

    def stream_cursor(self, conn: Any) -> Any:
        """A cursor that fetches rows as they are read, not all at once (server-side where it matters)."""
        return self.dialect.stream_cursor(conn)

    def iter_chunks(
        self,
        conn: Any,
        table: str | TableRef,
        schema: str | None = None,
        columns: Sequence[str] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        window: TimeWindow | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield the table's rows (those in ``window``, if given) as DataFrames of at most ``chunk_rows`` rows."""
        ref = TableRef.parse(table, schema)
        sql, params = self._select(ref, columns, window)
        yield from self.dialect.read_chunks(conn, ref, columns, sql, params, chunk_rows, self._window_filter(window))

    def count_rows(self, table: str | TableRef, schema: str | None = None, window: TimeWindow | None = None) -> int:
        """Rows of a table (those in ``window``, if given)."""
        (row,) = self.query(*self._select(TableRef.parse(table, schema), None, window, count=True))
        return int(row[0])

    def read_frame(
        self,
        table: str | TableRef,
        schema: str | None = None,
        columns: Sequence[str] | None = None,
        window: TimeWindow | None = None,
    ) -> pd.DataFrame:
        """The whole table (or the given columns, or the rows in ``window``) as one DataFrame."""
        import pandas as pd

        ref = TableRef.parse(table, schema)
        self.check_columns(ref, None, [*(columns or []), *([window.column] if window else [])])
        with self.read_snapshot() as conn:  # every chunk from the same rows
            chunks = list(self.iter_chunks(conn, ref, columns=columns, window=window))
        if not chunks:
            return pd.DataFrame(columns=list(columns or self.columns(ref)))
        return normalise(pd.concat(chunks, ignore_index=True))

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only query with bound parameters."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, list(parameters))
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()

    # -- writing --------------------------------------------------------------------------------------
    def write_table(
        self,
        conn: Any,
        table: str | TableRef,
        schema: str | None,
        columns: Sequence[tuple[str, str]],
        frames: Iterable[pd.DataFrame],
        join: RowidJoin | None = None,
    ) -> int:
        """
        Replace ``table`` with the rows of ``frames`` (DataFrames whose columns are ``columns``, in
        order), inside the caller's transaction on ``conn``. With ``join`` (SQLite), the frames
        carry :data:`SOURCE_ROW` and the output is the joined source columns followed by theirs.

        Rows go to a new table first, which then takes the old one's place: readers never see a
        partial table. On SQLite and PostgreSQL the whole swap is one transaction, so until it
        commits the old table is untouched. MySQL commits DDL at once, so there the new table is
        filled and committed first, then swapped in with one atomic ``RENAME TABLE``; a failure
        drops the new table and leaves the old one.
        """
        ref = TableRef.parse(table, schema)
        for name, _ in columns:
            validate_column(name)
        self.check_schema(ref.schema)
        return self.dialect.replace_table(conn, ref, columns, frames, join)

    def sqlite_rowids_readable(self, table: str | TableRef, schema: str | None = None) -> bool:
        """Whether a SQLite table's rows can be named by ``rowid`` (not a view, a WITHOUT ROWID table, or a
        table with a column of that name)."""
        if not self.dialect.has_rowids:
            return False
        ref = TableRef.parse(table, schema)
        self.columns(ref)  # TableNotFoundError names a table that cannot be read
        with self._conn() as conn:
            return self.dialect.rowids_readable(conn, ref)

    @contextlib.contextmanager
    def reader(self, conn: Any) -> Iterator[Any]:
        """
        A connection to stream reads from while ``conn`` writes: ``conn`` itself on SQLite, another
        connection elsewhere (MySQL's unbuffered results and PostgreSQL's COPY hold their connection
        until the last row is read).
        """
        if self.dialect.reads_beside_writes:
            yield conn
            return
        other = self.connect()
        try:
            yield other
        finally:
            other.close()

    def replace_with_frame(self, table: str | TableRef, df: pd.DataFrame, schema: str | None = None) -> int:
        """Replace ``table`` with a DataFrame, whole or not at all."""
        with self.transaction() as conn:
            return self.write_table(conn, table, schema, frame_sql_types(df), [df])

    def stream_float_column(
        self,
        conn: Any,
        table: str,
        value: str,
        where: str,
        parameters: Sequence[Any] = (),
        chunk_rows: int = 1 << 16,
    ) -> Iterator[Any]:
        """
        Yield the values of one SQL expression over the rows of a table that match a condition, as
        float64 numpy arrays of about ``chunk_rows`` values (NULL as NaN), in no particular order:
        the dialect's fastest way (PostgreSQL: page ranges aggregated into arrays), else a streaming
        cursor with ``fetchmany``.

        :param conn: a DB-API connection of :attr:`db_hook`; the reads share its transaction.
        :param table: the quoted table name (:meth:`..dialects.base.Dialect.table`).
        :param value: SQL expression of the values, from quoted identifiers only.
        :param where: SQL condition on the rows, with placeholders for ``parameters``.
        :param parameters: values bound to the placeholders of ``where`` (``value`` has none).
        :param chunk_rows: about how many values per array.
        """
        yield from self.dialect.stream_float_column(conn, table, value, where, parameters, chunk_rows)

    def sqlite_range_query(
        self,
        table: str | TableRef,
        schema: str | None,
        sql: Callable[[str], str],
        parameters: Sequence[Any] = (),
        max_rows: int = 1 << 16,
        range_rows: int = 1 << 20,
        workers: int | None = None,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """
        Run one query over ranges of a SQLite table's rowids, on several connections in threads,
        and yield each range's rows as it ends, all from one read snapshot (see
        :func:`..dialects.sqlite.range_query`; timings in docs/benchmarks.md).

        Raises :class:`RangesUnavailable`, possibly after some ranges were yielded, when the table
        cannot be read this way (a dialect without rowids, a view, an attached database, WAL mode, a
        writer waiting to commit, too many rows in a range): the caller then reads the table another way.

        :param table: the table, ``table`` or ``schema.table``.
        :param schema: schema of ``table`` when not qualified.
        :param sql: the query, given the SQL condition on the rowid range; the range's two bounds
            are bound after ``parameters``, so the condition must follow every other placeholder.
        :param parameters: values bound to the query's own placeholders.
        :param max_rows: most rows a range may return.
        :param range_rows: most rowids per range (1M: smaller sorts than the whole table, few ranges).
        :param workers: threads; default the usable cores, at most 4.
        """
        ref = TableRef.parse(table, schema)
        if not self.sqlite_rowids_readable(ref) or ref.schema not in (None, "main"):
            raise RangesUnavailable(f"{ref.name} is not a SQLite table with rowids in the main database")
        with self.read_snapshot() as conn:
            yield from self.dialect.range_query(
                conn,
                ref,
                sql,
                parameters=parameters,
                max_rows=max_rows,
                range_rows=range_rows,
                workers=workers,
            )


def _as_datetime(value: Any) -> Any:
    """A datetime (aware, UTC when naive) from a datetime or ISO 8601 text."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"Invalid time {value!r}: expected a datetime or ISO 8601 text.")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time_kind(value: Any, text_kind: str) -> str | None:
    """
    How one stored value holds time (see :class:`TimeWindow`), or None when it does not.

    :param text_kind: how the dialect compares ISO 8601 text (:attr:`..dialects.base.Dialect.text_time_kind`).
    """
    from datetime import date

    if isinstance(value, date):  # datetime is a date too
        return "timestamp"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "epoch_ms" if abs(value) >= EPOCH_MS_FROM else "epoch_s"
    if isinstance(value, str):
        try:
            _as_datetime(value)
        except ValueError:
            return None
        return text_kind
    return None
