"""SQL storage for any ``common-sql`` connection: tracking tables, reading inputs, writing outputs."""

from __future__ import annotations

import contextlib
import itertools
import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_automl_provider.constants import DEFAULT_CHUNK_ROWS, DEFAULT_CONN_ID
from airflow_automl_provider.metrics import EvaluationError
from airflow_automl_provider.schemas import TRACKING_TABLES, TableSchema
from airflow_automl_provider.sql import (
    SqlDialect,
    split_table_name,
    sqlite_affinity,
    timestamp_value,
    validate_column,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    import pandas as pd
    from airflow.providers.common.sql.hooks.sql import DbApiHook

#: Rows per INSERT statement on SQLite (fewer where its limit on bound values is lower).
SQLITE_ROWS_PER_INSERT = 8192


@dataclass(frozen=True)
class TimeWindow:
    """
    Rows whose ``column`` is in ``[start, end)``: a DAG run's data interval.

    ``kind`` is how the column holds time (:meth:`TrackingHook.time_column_kind`): ``timestamp`` (a date or
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
    the output table takes ``columns`` of ``table`` from those same rows, copied inside SQLite.
    """

    table: str
    schema: str | None
    columns: Sequence[str]


# The column that carries a source row's rowid through a RowidJoin write.
SOURCE_ROW = "automl_source_row"


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


class RangesUnavailable(RuntimeError):
    """A table that :meth:`TrackingHook.sqlite_range_query` cannot read in parallel: read it another way."""


def frame_sql_types(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Abstract SQL types (see :mod:`..sql`) for the columns of a DataFrame."""
    import pandas as pd

    types = []
    for name, dtype in df.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            kind = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            kind = "float"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = "timestamp"
        else:
            kind = "text"
        types.append((str(name), kind))
    return types


def frame_rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows of a DataFrame as plain Python values (NaN and NaT become NULL), ready to bind."""
    import pandas as pd

    columns = []
    for _, col in df.items():
        values = col.astype(object).where(col.notna(), None) if col.hasnans else col
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            values = [None if v is None or v is pd.NaT else v.to_pydatetime() for v in values]
        columns.append(values.tolist() if hasattr(values, "tolist") else list(values))
    return list(zip(*columns, strict=True))


class TrackingHook(BaseHook):
    """
    Read and write the package's tables through any ``common-sql`` connection (SQLite, PostgreSQL, MySQL, ...).

    The database hook comes from the connection itself, so every database with a ``DbApiHook`` works.

    :param conn_id: the Airflow connection of the database.
    """

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    hook_name = "AutoML tracking"

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
        if self.dialect.name == "sqlite":
            conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        elif self.dialect.name == "postgresql":
            cur = conn.cursor()
            cur.execute(f"SET lock_timeout = {int(seconds * 1000)}")
            conn.commit()  # a session setting, outside the transactions that follow
        elif self.dialect.name == "mysql":
            cur = conn.cursor()
            cur.execute(f"SET SESSION lock_wait_timeout = {max(1, int(seconds))}")
            cur.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(seconds))}")
        return conn

    def table_identity(self, table: str, schema: str | None = None) -> tuple[str, str]:
        """
        ``(schema, table)`` as the database resolves the name: the default schema filled in, and names
        folded where the database ignores case (SQLite always; MySQL with lower_case_table_names), so
        that two spellings of one table compare equal.
        """
        schema, table = split_table_name(table, schema)
        d = self.dialect
        if d.name == "sqlite":
            return (schema or "main").lower(), table.lower()
        if d.name == "postgresql":
            if schema is None:  # where the search path finds it, else where it would be created
                rows = self.query(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.oid = to_regclass(%s)",
                    [d.table(table)],
                )
                schema = rows[0][0] if rows else self.query("SELECT current_schema()")[0][0]
            return schema, table
        if d.name == "mysql":
            ((default, fold),) = self.query("SELECT DATABASE(), @@lower_case_table_names")
            schema = schema or default
            return (schema.lower(), table.lower()) if int(fold or 0) else (schema, table)
        return schema or "", table

    @cached_property
    def dialect(self) -> SqlDialect:
        return SqlDialect.for_hook(self.db_hook)

    # -- transactions ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A DB-API connection in one transaction: committed on success, rolled back on any error."""
        conn = self.connect()
        try:
            if self.dialect.name == "sqlite":
                # Python's sqlite3 only opens a transaction before DML; DDL must be inside it too.
                conn.isolation_level = None
                conn.execute("BEGIN")
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
        begin = {
            "postgresql": "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            "sqlite": "BEGIN",
            "mysql": "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        }[self.dialect.name]
        conn = self.connect()
        try:
            conn.cursor().execute(begin)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()

    # -- tracking tables ------------------------------------------------------------------------------
    def create_tables(self, schema: str | None = None, tables: Sequence[TableSchema] = TRACKING_TABLES) -> list[str]:
        """
        Create every tracking table that is missing, and add the columns a newer version of the package
        defines to tables an older one created; return the qualified names.
        """
        d = self.dialect
        names = [d.table(table.name, schema) for table in tables]
        self.check_schema(schema)
        try:
            with self.transaction() as conn:
                cur = conn.cursor()
                for table in tables:
                    cur.execute(d.create_table_sql(table.name, table.columns, schema, if_not_exists=True))
        except Exception:
            # Runs starting together race on CREATE TABLE IF NOT EXISTS (PostgreSQL can raise a unique
            # violation on its catalog): fine if the tables are there now.
            for table in tables:
                self.columns(table.name, schema)
        for table in tables:
            self._add_missing_columns(table, schema)
        return names

    def _add_missing_columns(self, table: TableSchema, schema: str | None) -> None:
        d = self.dialect
        existing = set(self.columns(table.name, schema))
        missing = [(c, t) for c, t in table.columns if c not in existing]
        if not missing:
            return
        try:
            with self.transaction() as conn:
                cur = conn.cursor()
                name = d.table(table.name, schema)
                for column, abstract in missing:
                    cur.execute(f"ALTER TABLE {name} ADD COLUMN {d.quote(column)} {d.type(abstract)}")
        except Exception:
            # Another run added them first: fine if they are there now.
            still = [c for c, _ in missing if c not in self.columns(table.name, schema)]
            if still:
                raise
        self.log.info("Added columns %s to %s", [c for c, _ in missing], d.table(table.name, schema))

    def upsert(
        self,
        table: TableSchema,
        rows: dict[str, Any] | Sequence[dict[str, Any]],
        schema: str | None = None,
        conn: Any = None,
    ) -> None:
        """
        Replace the rows with the same natural keys in one transaction: a retried task never adds a second
        row. With ``conn``, inside the caller's transaction on it (committed with the caller's other writes).
        """
        if conn is None:
            with self.transaction() as own:
                self.upsert(table, rows, schema, own)
            return
        rows = [rows] if isinstance(rows, dict) else list(rows)
        d = self.dialect
        name = d.table(table.name, schema)
        where = " AND ".join(f"{d.quote(k)} = {d.placeholder}" for k in table.key)
        cur = conn.cursor()
        for row in rows:
            unknown = set(row) - set(table.column_names)
            if unknown:
                raise ValueError(f"Unknown columns for table {table.name}: {sorted(unknown)}")
            cols = list(row)
            cur.execute(f"DELETE FROM {name} WHERE {where}", [row.get(k) for k in table.key])
            cur.execute(
                f"INSERT INTO {name} ({', '.join(d.quote(c) for c in cols)}) VALUES ({d.placeholders(len(cols))})",
                [row[c] for c in cols],
            )

    # -- reading --------------------------------------------------------------------------------------
    def columns(self, table: str, schema: str | None = None) -> list[str]:
        """Column names of a table; :class:`TableNotFoundError` names the table when it cannot be read."""
        name = self.dialect.table(table, schema)
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

    def check_columns(self, table: str, schema: str | None, required: Iterable[str]) -> list[str]:
        """Return the table's columns, or raise :class:`MissingColumnError` listing what exists."""
        existing = self.columns(table, schema)
        missing = [c for c in required if c not in existing]
        if missing:
            raise MissingColumnError(
                f"Column(s) {missing} not found in table {self.dialect.table(table, schema)}; "
                f"its columns are {existing}."
            )
        return existing

    def check_schema(self, schema: str | None) -> None:
        """Raise :class:`SchemaNotFoundError` naming a schema the connection does not have (before writing in it)."""
        if not schema:
            return
        if self.dialect.name == "sqlite":
            exists = schema in {r[1] for r in self.query("PRAGMA database_list")}
        elif self.dialect.name == "postgresql":
            exists = bool(self.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]))
        else:
            ph = self.dialect.placeholder
            exists = bool(self.query(f"SELECT 1 FROM information_schema.schemata WHERE schema_name = {ph}", [schema]))
        if not exists:
            what = "attached database" if self.dialect.name == "sqlite" else "schema"
            raise SchemaNotFoundError(
                f"The {what} {schema!r} does not exist on connection {self.conn_id!r}: create it first, or leave "
                "the schema empty for the connection's default."
            )

    def prediction_record(self, table: str, schema: str | None = None) -> dict[str, Any] | None:
        """The row of ``automl_predictions`` saying which model wrote a prediction table, if one was recorded."""
        from airflow_automl_provider.schemas import PREDICTIONS

        schema, table = split_table_name(table, schema)
        if PREDICTIONS.name not in self.table_names(schema):
            return None
        d = self.dialect
        cols = [c for c in PREDICTIONS.column_names if c in set(self.columns(PREDICTIONS.name, schema))]
        rows = self.query(
            f"SELECT {', '.join(d.quote(c) for c in cols)} FROM {d.table(PREDICTIONS.name, schema)} "
            f"WHERE {d.quote('output_table')} = {d.placeholder}",
            [self.table_identity(table, schema)[1]],
        )
        return dict(zip(cols, rows[0], strict=True)) if rows else None

    def table_names(self, schema: str | None = None) -> set[str]:
        """Names of the tables in ``schema`` (the connection's default when empty)."""
        if self.dialect.name == "sqlite":
            return {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        current = "current_schema()" if self.dialect.name == "postgresql" else "DATABASE()"
        ph = self.dialect.placeholder
        rows = self.query(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = COALESCE({ph}, {current})",
            [schema or None],
        )
        return {r[0] for r in rows}

    def check_numeric(self, table: str, schema: str | None, column: str) -> None:
        """Raise ``TypeError`` naming the column when it does not hold numbers (SQLite would cast text to 0)."""
        d = self.dialect
        name, col = d.table(table, schema), d.quote(column)
        if d.name == "sqlite":
            rows = self.query(
                f"SELECT typeof({col}), {col} FROM {name} WHERE typeof({col}) NOT IN ('integer', 'real', 'null') LIMIT 1"
            )
            if rows:
                raise TypeError(
                    f"Column {column!r} of table {name} is not numeric: it holds {rows[0][0]} values such as "
                    f"{rows[0][1]!r}; expected numbers."
                )
            return
        current = "current_schema()" if d.name == "postgresql" else "DATABASE()"
        ph = d.placeholder
        schema, table = split_table_name(table, schema)
        rows = self.query(
            f"SELECT data_type FROM information_schema.columns WHERE table_schema = COALESCE({ph}, {current}) "
            f"AND table_name = {ph} AND column_name = {ph}",
            [schema, table, column],
        )
        numeric = {"smallint", "integer", "int", "bigint", "numeric", "decimal", "real", "double precision"}
        numeric |= {"double", "float", "tinyint", "mediumint"}
        if rows and str(rows[0][0]).lower() not in numeric:
            raise TypeError(
                f"Column {column!r} of table {name} is not numeric: its type is {rows[0][0]}; expected numbers."
            )

    def resolve_label(
        self, table: str, schema: str | None, column: str, wanted: Any, what: str = "positive_class"
    ) -> str:
        """
        The text of ``column``'s label that is ``wanted`` as a value (see :mod:`..labels`): ``wanted``
        itself when a row holds it as text, else the one label equal to it as a number or a boolean
        (``1`` for ``1.0``, ``True`` for ``true``). A value no row holds is an error naming the labels seen.
        """
        from airflow_automl_provider.labels import match_label

        d = self.dialect
        name, col = d.table(table, schema), d.as_text(d.quote(column))
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

    def distinct_values(self, table: str, schema: str | None, column: str, limit: int = 20) -> list[Any]:
        """Up to ``limit`` distinct values of a column, for error messages."""
        d = self.dialect
        col = d.quote(column)
        rows = self.query(f"SELECT DISTINCT {col} FROM {d.table(table, schema)} ORDER BY {col} LIMIT {int(limit)}")
        return [r[0] for r in rows]

    def _select(
        self,
        table: str,
        schema: str | None,
        columns: Sequence[str] | None,
        window: TimeWindow | None = None,
        count: bool = False,
    ) -> tuple[str, list[Any]]:
        d = self.dialect
        cols = "COUNT(*)" if count else (", ".join(d.quote(c) for c in columns) if columns else "*")
        sql = f"SELECT {cols} FROM {d.table(table, schema)}"
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
        if kind != "text" or d.name == "sqlite":  # SQLite's datetime() reads ISO text, NULL otherwise
            return d.as_time(col)
        if d.name == "postgresql":  # a cast of bad text would fail the whole query: only ISO-shaped text
            iso = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
            return f"(CASE WHEN {col} ~ '{iso}' THEN CAST({col} AS TIMESTAMPTZ) END)"
        if d.name == "mysql":  # NULL (and a warning) where the text is not a datetime
            return f"CAST({col} AS DATETIME(6))"
        return f"CAST({col} AS TIMESTAMP)"

    def time_column_kind(self, table: str, schema: str | None, column: str) -> str:
        """
        How ``column`` holds time, from its type and a value (see :class:`TimeWindow`); a column that holds
        none of the forms accepted is refused with a message naming it and the forms.
        """
        d = self.dialect
        name = d.table(table, schema)
        # A sample, so that a few unreadable values (counted later) do not decide for the column.
        rows = self.query(f"SELECT {d.quote(column)} FROM {name} WHERE {d.quote(column)} IS NOT NULL LIMIT 100")
        if not rows:
            return "timestamp"  # no value to judge (the count of unreadable rows stays 0)
        for (value,) in rows:
            kind = _time_kind(value, d.name)
            if kind is not None:
                return kind
        value = rows[0][0]
        held = (
            f"{value!r}, which is not a time"
            if isinstance(value, str)
            else f"{type(value).__name__} values such as {value!r}"
        )
        raise ValueError(f"time_column {column!r} of table {name} holds {held}: expected {TIME_FORMATS}.")

    def count_unreadable_times(self, table: str, schema: str | None, window: TimeWindow) -> int:
        """Rows whose ``window.column`` has a value that does not read as a time (so no window holds them)."""
        if window.kind in ("epoch_s", "epoch_ms"):
            return 0
        d = self.dialect
        col = d.quote(window.column)
        ((n,),) = self.query(
            f"SELECT COUNT(*) FROM {d.table(table, schema)} "
            f"WHERE {col} IS NOT NULL AND {self._time_expr(window.column, window.kind)} IS NULL"
        )
        return int(n or 0)

    def stream_cursor(self, conn: Any) -> Any:
        """A cursor that fetches rows as they are read, not all at once (server-side where it matters)."""
        if self.dialect.name == "postgresql":
            cur = conn.cursor(name=f"automl_{uuid.uuid4().hex[:12]}")
            cur.itersize = DEFAULT_CHUNK_ROWS
            return cur
        if self.dialect.name == "mysql":
            from MySQLdb.cursors import SSCursor

            return conn.cursor(SSCursor)
        return conn.cursor()

    def iter_chunks(
        self,
        conn: Any,
        table: str,
        schema: str | None = None,
        columns: Sequence[str] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        window: TimeWindow | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield the table's rows (those in ``window``, if given) as DataFrames of at most ``chunk_rows`` rows."""
        import pandas as pd

        sql, params = self._select(table, schema, columns, window)
        if self.dialect.name == "postgresql" and hasattr(conn, "pgconn"):  # psycopg 3: COPY through libpq
            csv_types = self._pg_csv_types(conn, sql, params)
            if csv_types is not None:
                yield from self._pg_copy_chunks(conn, sql, params, chunk_rows, csv_types)
                return
        if self.dialect.name == "sqlite":
            typed = self._sqlite_text_affinities(conn, table, schema, columns)
            if typed is not None:
                yield from self._sqlite_text_chunks(conn, table, schema, *typed, chunk_rows, window)
                return
        cur = self.stream_cursor(conn)
        try:
            cur.execute(sql, params)
            names = None
            while True:
                rows = cur.fetchmany(chunk_rows)
                if names is None:
                    names = [col[0] for col in cur.description]
                if not rows:
                    break
                frame = pd.DataFrame(rows, columns=names)
                # SQLite has no DECIMAL values to convert; elsewhere look for them.
                yield frame.infer_objects() if self.dialect.name == "sqlite" else _normalise(frame)
        finally:
            cur.close()

    # SQLite's printf() takes at most 127 arguments; wider reads keep the cursor path.
    SQLITE_TEXT_MAX_COLUMNS = 100

    def _sqlite_text_affinities(
        self, conn: Any, table: str, schema: str | None, columns: Sequence[str] | None
    ) -> tuple[list[str], list[str]] | None:
        """
        The columns to read (``columns``, else all) and SQLite's affinity of each (``rowid`` is
        ``integer``), where the text reader can read them: a table with rowids (see
        :meth:`sqlite_rowids_readable`), every column declared with a type (a column without one
        may hold anything), no column twice, at most ``SQLITE_TEXT_MAX_COLUMNS``. None otherwise.
        """
        declared = self._sqlite_rowid_table_columns(conn, table, schema)
        if declared is None:
            return None
        names = list(columns or declared)
        if len(names) > self.SQLITE_TEXT_MAX_COLUMNS or len(set(names)) != len(names):
            return None
        affinities = ["integer" if c == "rowid" else sqlite_affinity(declared.get(c, "")) for c in names]
        return None if "blob" in affinities else (names, affinities)

    def _sqlite_text_chunks(
        self,
        conn: Any,
        table: str,
        schema: str | None,
        columns: Sequence[str],
        affinities: list[str],
        chunk_rows: int,
        window: TimeWindow | None,
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
        """
        import pandas as pd
        import pyarrow as pa
        import pyarrow.csv as pacsv

        d = self.dialect
        fmt = ",".join("%Q" if a == "text" else "%s" for a in affinities)
        # quote() writes every REAL exactly (%s would round it to 15 digits); integers, most values of
        # most number columns, skip it: 20% less of SQLite's formatting time.
        args = ", ".join(
            "rowid"
            if c == "rowid"
            else (
                d.quote(c)
                if a == "text"
                else f"iif(typeof({d.quote(c)}) = 'integer', {d.quote(c)}, quote({d.quote(c)}))"
            )
            for c, a in zip(columns, affinities, strict=True)
        )
        where, params = self._window_filter(window)
        # A chunk: the next chunk_rows rows from the first rowid not read yet.
        source = f"{d.table(table, schema)} WHERE rowid >= ?{f' AND {where}' if where else ''} ORDER BY rowid LIMIT ?"
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

    def _pg_csv_types(self, conn: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
        """Arrow types for reading ``sql``'s columns from COPY's CSV; None if one has a type we do not map."""
        import pyarrow as pa

        types = {
            16: pa.bool_(),
            20: pa.int64(),
            21: pa.int64(),
            23: pa.int64(),
            700: pa.float64(),
            701: pa.float64(),
            1700: pa.float64(),  # numeric: as float, as the row-by-row path does with its Decimals
            25: pa.string(),
            1043: pa.string(),
            1042: pa.string(),
            19: pa.string(),
            1082: pa.date32(),
            1114: pa.timestamp("us"),
            1184: pa.timestamp("us", tz="UTC"),
        }
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
            described = [(col.name, col.type_code) for col in cur.description]
        finally:
            cur.close()
        if len({name for name, _ in described}) != len(described) or any(t not in types for _, t in described):
            return None
        return {name: types[oid] for name, oid in described}

    def _pg_copy_chunks(
        self, conn: Any, sql: str, params: list[Any], chunk_rows: int, csv_types: dict[str, Any]
    ) -> Iterator[pd.DataFrame]:
        """
        Rows through ``COPY (SELECT ...) TO STDOUT`` as CSV, parsed by Arrow: the row-by-row cursor
        path spent most of its time making Python objects of every value. Each COPY message is one
        whole row, so a chunk is exactly ``chunk_rows`` rows.
        """
        import io

        import pyarrow.csv as pa_csv

        names = list(csv_types)
        read = pa_csv.ReadOptions(column_names=names)
        # COPY's CSV: NULL is an unquoted empty field, the empty string a quoted one; t/f for booleans.
        convert = pa_csv.ConvertOptions(
            column_types=csv_types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        )
        parse = pa_csv.ParseOptions(newlines_in_values=True)

        def frame(block: list[bytes]) -> pd.DataFrame:
            data = pa_csv.read_csv(io.BytesIO(b"".join(block)), read, parse, convert)
            return data.to_pandas()

        cur = conn.cursor()
        try:
            with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params or None) as copy:
                for block in _copy_out_blocks(conn, copy, chunk_rows):
                    yield frame(block)
        finally:
            cur.close()

    def count_rows(self, table: str, schema: str | None = None, window: TimeWindow | None = None) -> int:
        """Rows of a table (those in ``window``, if given)."""
        (row,) = self.query(*self._select(table, schema, None, window, count=True))
        return int(row[0])

    def read_frame(
        self,
        table: str,
        schema: str | None = None,
        columns: Sequence[str] | None = None,
        window: TimeWindow | None = None,
    ) -> pd.DataFrame:
        """The whole table (or the given columns, or the rows in ``window``) as one DataFrame."""
        import pandas as pd

        self.check_columns(table, schema, [*(columns or []), *([window.column] if window else [])])
        with self.read_snapshot() as conn:  # every chunk from the same rows
            chunks = list(self.iter_chunks(conn, table, schema, columns, window=window))
        if not chunks:
            return pd.DataFrame(columns=list(columns or self.columns(table, schema)))
        return _normalise(pd.concat(chunks, ignore_index=True))

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
        table: str,
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
        d = self.dialect
        schema, table = split_table_name(table, schema)
        for name, _ in columns:
            validate_column(name)
        staging = f"{table[:40]}__new_{uuid.uuid4().hex[:8]}"
        self.check_schema(schema)
        cur = conn.cursor()
        if d.name == "mysql":
            self._drop_stale_staging(cur, table, schema)
        try:
            if join is not None:
                written = self._write_joined(cur, staging, schema, columns, frames, join)
            else:
                cur.execute(d.create_table_sql(staging, columns, schema, if_not_exists=False))
                written = 0
                for frame in frames:
                    if len(frame):
                        self._bulk_insert(cur, d.table(staging, schema), [n for n, _ in columns], frame)
                        written += len(frame)
            if d.name == "mysql":
                conn.commit()
                self._mysql_swap(cur, staging, table, schema)
            else:
                if d.name == "postgresql":
                    # Writers of the same table take turns for the swap (held until commit).
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [d.table(table, schema)])
                cur.execute(f"DROP TABLE IF EXISTS {d.table(table, schema)}")
                if d.name == "sqlite":
                    self._sqlite_rename_keeping_views(cur, staging, table, schema)
                else:
                    cur.execute(d.rename_table_sql(staging, table, schema))
        except BaseException:
            if d.name == "mysql":  # its CREATE TABLE committed already: nothing else removes it
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.cursor().execute(f"DROP TABLE IF EXISTS {d.table(staging, schema)}")
            raise
        return written

    def _sqlite_rename_keeping_views(self, cur: Any, staging: str, table: str, schema: str | None) -> None:
        """
        Rename the staging table into place. SQLite re-checks every view and trigger at a rename, and a
        view over ``table`` (dropped just before) fails it: "error in view v: no such table". The
        legacy rename skips that check; views name tables, so they read the new table afterwards.
        """
        (legacy,) = cur.execute("PRAGMA legacy_alter_table").fetchone()
        cur.execute("PRAGMA legacy_alter_table = ON")
        try:
            cur.execute(self.dialect.rename_table_sql(staging, table, schema))
        finally:
            cur.execute(f"PRAGMA legacy_alter_table = {'ON' if legacy else 'OFF'}")

    def sqlite_rowids_readable(self, table: str, schema: str | None = None) -> bool:
        """Whether a SQLite table's rows can be named by ``rowid`` (not a view, a WITHOUT ROWID table, or a
        table with a column of that name)."""
        if self.dialect.name != "sqlite":
            return False
        self.columns(table, schema)  # TableNotFoundError names a table that cannot be read
        conn = self.connect()
        try:
            return self._sqlite_rowid_table_columns(conn, table, schema) is not None
        finally:
            conn.close()

    def _sqlite_rowid_table_columns(self, conn: Any, table: str, schema: str | None) -> dict[str, str] | None:
        """
        The declared type of each column ``SELECT *`` gives, for a SQLite table whose rows ``rowid``
        names; None for a view (its rowid is NULL), a WITHOUT ROWID table (selecting it fails) or a
        table with a column of that name.
        """
        import sqlite3

        schema, table = split_table_name(table, schema)
        prefix = f"{self.dialect.quote(schema)}." if schema else ""
        cur = conn.cursor()
        try:
            kind = cur.execute(f"SELECT type FROM {prefix}sqlite_master WHERE name = ?", [table]).fetchall()
            # name, declared type, hidden (1: a virtual table's hidden column, not in SELECT *)
            info = cur.execute(f"PRAGMA {prefix}table_xinfo({self.dialect.quote(table)})").fetchall()
            cur.execute(f"SELECT rowid FROM {self.dialect.table(table, schema)} LIMIT 0")
        except sqlite3.Error:
            return None
        finally:
            cur.close()
        if kind != [("table",)] or {row[1].lower() for row in info} & {"rowid", "_rowid_", "oid"}:
            return None
        return {row[1]: row[2] for row in info if row[6] != 1}

    def _write_joined(
        self,
        cur: Any,
        name: str,
        schema: str | None,
        columns: Sequence[tuple[str, str]],
        frames: Iterable[pd.DataFrame],
        join: RowidJoin,
    ) -> int:
        """
        Build the table ``name`` (SQLite) from the source's ``join.columns`` followed by the frames'
        new columns, row for row by :data:`SOURCE_ROW`, chunk by chunk: each frame goes to a small
        table in this connection's ``temp`` schema, keyed by the source rowid (an INTEGER PRIMARY
        KEY is that table's own rowid, so the join walks both tables in order without sorting),
        and one ``INSERT ... SELECT`` joins it to the source. SQLite copies the source values
        itself: taking them through Python and back cost a third of a large prediction's time.
        Joining as the chunks come, not once at the end, overlaps that work with the prediction
        and never stores all the predictions twice.

        Returns the rows written.
        """
        d = self.dialect
        for column in join.columns:
            validate_column(column)
        chunk_name = f"{name}_chunk"  # in this connection's own temp schema: no other writer sees it
        chunk = d.table(chunk_name, "temp")
        new_columns = [n for n, _ in columns if n != SOURCE_ROW]
        cur.execute(d.create_table_sql(chunk_name, columns, "temp", if_not_exists=False, primary_key=SOURCE_ROW))
        key = d.quote(SOURCE_ROW)
        selected = ", ".join([*(f"i.{d.quote(c)}" for c in join.columns), *(f"s.{d.quote(n)}" for n in new_columns)])
        select = (
            f"SELECT {selected} FROM {chunk} AS s JOIN {d.table(join.table, join.schema)} AS i "
            f"ON i.rowid = s.{key} ORDER BY s.{key}"
        )
        # The first (even empty) chunk creates the table, with the column types SQLite gives the selection.
        cur.execute(f"CREATE TABLE {d.table(name, schema)} AS {select} LIMIT 0")
        written = 0
        for frame in frames:
            if len(frame):
                self._bulk_insert(cur, chunk, [n for n, _ in columns], frame)
                cur.execute(f"INSERT INTO {d.table(name, schema)} {select}")
                cur.execute(f"DELETE FROM {chunk}")
                written += len(frame)
        cur.execute(f"DROP TABLE {chunk}")
        return written

    def _bulk_insert(self, cur: Any, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
        """The database's bulk path: COPY on PostgreSQL, multi-row ``executemany`` elsewhere."""
        d = self.dialect
        cols = ", ".join(d.quote(n) for n in names)
        if d.name == "postgresql" and (hasattr(cur, "copy") or hasattr(cur, "copy_expert")):
            copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)"
            data = frame_csv(frame)
            if hasattr(cur, "copy"):  # psycopg 3 (the postgres provider's default driver)
                with cur.copy(copy_sql) as copy:
                    copy.write(data)
            else:  # psycopg2
                import io

                cur.copy_expert(copy_sql, io.BytesIO(data))
            return
        rows = frame_rows(frame)
        one = f"({d.placeholders(len(names))})"
        if d.name == "sqlite":
            # Many rows per statement: sqlite3 lets go of the GIL at every step, and getting it back from
            # a thread that holds it (the prediction's pandas work) can wait 5 ms a time. 1M rows of 4
            # columns beside a busy Python thread: 13.2 s at 500 rows a statement, 2.1 s at 5,000
            # (0.5-0.7 s alone either way). The rows left over go in one statement of their own.
            width = max(1, min(SQLITE_ROWS_PER_INSERT, _sqlite_variable_limit(cur) // len(names)))
            flat = list(itertools.chain.from_iterable(rows))
            step = width * len(names)
            whole = (len(rows) // width) * step
            if whole:
                cur.executemany(
                    f"INSERT INTO {target} ({cols}) VALUES {', '.join([one] * width)}",
                    (flat[i : i + step] for i in range(0, whole, step)),
                )
            if whole < len(flat):
                cur.execute(
                    f"INSERT INTO {target} ({cols}) VALUES {', '.join([one] * (len(rows) % width))}", flat[whole:]
                )
            return
        if rows:
            cur.executemany(f"INSERT INTO {target} ({cols}) VALUES {one}", rows)

    def _mysql_swap(self, cur: Any, staging: str, table: str, schema: str | None) -> None:
        d = self.dialect
        lock = f"automl:{d.table(table, schema)}"[:64]
        cur.execute("SELECT GET_LOCK(%s, 600)", [lock])  # writers of the same table take turns
        try:
            self._mysql_rename_into_place(cur, staging, table, schema)
        finally:
            cur.execute("SELECT RELEASE_LOCK(%s)", [lock])

    def _mysql_rename_into_place(self, cur: Any, staging: str, table: str, schema: str | None) -> None:
        d = self.dialect
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE()) "
            "AND table_name = %s",
            [schema, table],
        )
        if cur.fetchone()[0]:
            old = f"{table[:40]}__old_{uuid.uuid4().hex[:8]}"
            cur.execute(
                f"RENAME TABLE {d.table(table, schema)} TO {d.table(old, schema)}, "
                f"{d.table(staging, schema)} TO {d.table(table, schema)}"
            )
            cur.execute(f"DROP TABLE {d.table(old, schema)}")
        else:
            cur.execute(d.rename_table_sql(staging, table, schema))

    def _drop_stale_staging(self, cur: Any, table: str, schema: str | None) -> None:
        """
        On MySQL a writer killed mid-write (SIGKILL) leaves its committed staging table behind; the
        next writer of the same table removes it. Staging names are ``<table>__new_<8 hex>``.
        """
        prefix = table[:40].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE()) "
            "AND table_name LIKE %s",
            [schema, prefix + "\\_\\_new\\_%"],
        )
        for (name,) in cur.fetchall():
            if re.fullmatch(re.escape(table[:40]) + r"__new_[0-9a-f]{8}", name):
                self.log.warning("Dropping %s, left behind by an interrupted write", name)
                cur.execute(f"DROP TABLE IF EXISTS {self.dialect.table(name, schema)}")

    @contextlib.contextmanager
    def reader(self, conn: Any) -> Iterator[Any]:
        """
        A connection to stream reads from while ``conn`` writes: ``conn`` itself on SQLite, another
        connection elsewhere (MySQL's unbuffered results and PostgreSQL's COPY hold their connection
        until the last row is read).
        """
        if self.dialect.name == "sqlite":
            yield conn
            return
        other = self.connect()
        try:
            yield other
        finally:
            other.close()

    def replace_with_frame(self, table: str, df: pd.DataFrame, schema: str | None = None) -> int:
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
        float64 numpy arrays of about ``chunk_rows`` values (NULL as NaN), in no particular order.

        On PostgreSQL each chunk is one range of the table's pages (``ctid``), aggregated by the
        server into one binary ``float8[]`` that numpy reads without a Python object per value:
        ``COPY ... TO STDOUT (FORMAT binary)`` sends one message per row, which psycopg hands over
        one by one (4.7 s for 3M rows against 1.6-2.1 s this way). Elsewhere, and for PostgreSQL
        views, a streaming cursor with ``fetchmany``.

        :param conn: a DB-API connection of :attr:`db_hook`; the reads share its transaction.
        :param table: the quoted table name (:meth:`SqlDialect.table`).
        :param value: SQL expression of the values, from quoted identifiers only.
        :param where: SQL condition on the rows, with placeholders for ``parameters``.
        :param parameters: values bound to the placeholders of ``where`` (``value`` has none).
        :param chunk_rows: about how many values per array.
        """
        import itertools

        import numpy as np

        ph = self.dialect.placeholder
        cur = conn.cursor()
        blocks = None
        if self.dialect.name == "postgresql":
            # Rows per page from the statistics; at most 291 fit in an 8 kB page (never analysed: -1).
            cur.execute(
                "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::bigint, "
                "CASE WHEN relpages > 0 AND reltuples > 0 THEN LEAST(reltuples / relpages, 291) ELSE 291 END "
                f"FROM pg_class WHERE oid = CAST({ph} AS regclass)",
                [table],
            )
            kind, size, per_block = cur.fetchone()
            if kind in ("r", "m"):  # a table or materialised view has pages to range over
                blocks, step = int(size), max(1, int(chunk_rows / max(float(per_block), 1.0)))
        if blocks is not None:
            # NaN for NULL keeps every element 12 bytes (4 length + 8 big-endian float8) after the
            # 20-byte header of a one-dimensional array.
            sql = (
                f"SELECT array_send(array_agg(COALESCE(CAST({value} AS DOUBLE PRECISION), 'NaN'))) "
                f"FROM {table} WHERE ctid >= CAST({ph} AS tid) AND ctid < CAST({ph} AS tid) AND ({where})"
            )
            element = np.dtype([("length", ">i4"), ("value", ">f8")])
            binary = {"binary": True} if hasattr(conn, "pgconn") else {}  # psycopg 3; psycopg2 decodes hex
            try:
                # The last range is open-ended: pages added since the size was read are in the snapshot.
                for start in range(0, blocks + 1, step):
                    end = f"({start + step},0)" if start + step <= blocks else f"({2**32 - 1},0)"
                    cur.execute(sql, [f"({start},0)", end, *parameters], **binary)
                    (data,) = cur.fetchone()
                    if data is not None:
                        yield np.frombuffer(data, element, offset=20)["value"].astype(np.float64)
            finally:
                cur.close()
            return
        cur.close()
        cur = self.stream_cursor(conn)
        try:
            cur.execute(f"SELECT {value} FROM {table} WHERE {where}", list(parameters))
            while rows := cur.fetchmany(chunk_rows):
                try:
                    yield np.fromiter(itertools.chain.from_iterable(rows), np.float64, len(rows))
                except TypeError:  # a NULL: the slower conversion turns it into NaN
                    yield np.array([r[0] for r in rows], dtype=np.float64)
        finally:
            cur.close()

    def sqlite_range_query(
        self,
        table: str,
        schema: str | None,
        sql: Callable[[str], str],
        parameters: Sequence[Any] = (),
        max_rows: int = 1 << 16,
        range_rows: int = 1 << 20,
        workers: int | None = None,
    ) -> Iterator[list[tuple[Any, ...]]]:
        """
        Run one query over ranges of a SQLite table's rowids, on several connections in threads
        (SQLite leaves Python's lock while it works), and yield each range's rows as it ends.

        For queries whose work is in SQLite, such as a ``GROUP BY`` that sorts every row: two
        threads on 1M-row ranges grouped 10M rows in 2.8 s, one query over all of them took 6.1 s
        (see docs/benchmarks.md). Every range reads the same snapshot: the calling connection
        holds a read lock from before the first range starts until after the last one ends, and a
        rollback-journal database cannot commit while a reader holds one. Range connections are
        read-only and never wait for a lock.

        Raises :class:`RangesUnavailable`, possibly after some ranges were yielded, when the table
        cannot be read this way: not SQLite, a view or table without rowids, an in-memory or
        attached database, WAL mode (each connection would see its own snapshot), a writer
        waiting to commit, or a range with more than ``max_rows`` rows. The caller then reads the
        table another way; any other error is raised as it is.

        :param table: the table, ``table`` or ``schema.table``.
        :param schema: schema of ``table`` when not qualified.
        :param sql: the query, given the SQL condition on the rowid range; the range's two bounds
            are bound after ``parameters``, so the condition must follow every other placeholder.
        :param parameters: values bound to the query's own placeholders.
        :param max_rows: most rows a range may return.
        :param range_rows: most rowids per range (1M: smaller sorts than the whole table, few ranges).
        :param workers: threads; default the usable cores, at most 4.
        """
        import os
        import queue
        import sqlite3
        import threading
        import urllib.parse

        schema, table = split_table_name(table, schema)
        if not self.sqlite_rowids_readable(table, schema) or schema not in (None, "main"):
            raise RangesUnavailable(f"{table} is not a SQLite table with rowids in the main database")
        name = self.dialect.table(table, schema)
        if not workers:  # the cores this process may use (Linux), else all of them (macOS)
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            workers = min(cores, 4)
        with self.read_snapshot() as conn:
            files = {row[1]: row[2] for row in conn.execute("PRAGMA database_list")}
            (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
            if not files.get("main") or str(mode).lower() == "wal":
                raise RangesUnavailable(f"journal mode {mode}, file {files.get('main')!r}")
            # Takes the read lock, kept until the snapshot ends: no commit until every range ends.
            # Two subqueries: SQLite reads min() or max() of the rowid from the b-tree's ends only
            # when it is a query's one aggregate; both in one SELECT scan every row (0.5 s at 10M).
            first, last = conn.execute(
                f"SELECT (SELECT min(rowid) FROM {name}), (SELECT max(rowid) FROM {name})"
            ).fetchone()
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

            threads = [
                threading.Thread(target=work, name=f"automl-sqlite-range-{i}", daemon=True) for i in range(workers)
            ]
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


def _sqlite_variable_limit(cur: Any) -> int:
    """How many values one SQLite statement may bind (999 before SQLite 3.32)."""
    import sqlite3

    try:
        return int(cur.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error):  # Python < 3.11
        return 999


def _copy_out_blocks(conn: Any, copy: Any, rows: int) -> Iterator[list[bytes]]:
    """
    The rows of a psycopg 3 ``COPY ... TO STDOUT``, ``rows`` at a time, taken straight from libpq
    while they are buffered: psycopg's own per-row read (a wait generator per row) took 11 s of a
    1M-row read. Only when libpq has nothing buffered does ``copy.read()`` wait for more.
    """
    from psycopg import pq

    pgconn = conn.pgconn
    get = pgconn.get_copy_data
    block: list[bytes] = []
    while True:
        nbytes, data = get(1)  # 1: do not block; 0 bytes means nothing buffered yet
        if nbytes > 0:
            block.append(bytes(data))
            if len(block) >= rows:
                yield block
                block = []
            continue
        if nbytes == 0:
            row = copy.read()  # waits for the server; b"" once psycopg has read the end of the COPY
            if row:
                block.append(bytes(row))
                continue
        else:  # -1: all rows read; take the COPY's final result so the connection is free again
            while (result := pgconn.get_result()) is not None:
                if result.status != pq.ExecStatus.COMMAND_OK:
                    import psycopg

                    raise psycopg.DatabaseError((result.error_message or b"COPY failed").decode(errors="replace"))
        if block:
            yield block
        return


def frame_csv(df: pd.DataFrame) -> bytes:
    """
    A DataFrame as the body of PostgreSQL's ``COPY ... FROM STDIN WITH (FORMAT csv)``.

    Arrow writes the text column by column in C++, where a Python loop over the values took most
    of a large prediction's time. Its CSV matches COPY's: NULL is an unquoted empty field, every
    string is quoted (so ``""`` stays the empty string), floats are written to round-trip
    exactly. Columns Arrow cannot type (mixed Python objects) take the row-by-row path.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return "".join(_copy_line(row) for row in frame_rows(df)).encode()
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _copy_field(value: Any) -> str:
    # Unquoted empty is NULL in COPY's CSV, quoted "" the empty string: keep them apart.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return '"' + text.replace('"', '""') + '"'


def _copy_line(row: Sequence[Any]) -> str:
    """One row of COPY ... WITH (FORMAT csv)."""
    return ",".join(_copy_field(v) for v in row) + "\n"


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Give columns read through DB-API their natural dtypes (Decimal to float, object ints to int)."""
    import decimal

    import pandas as pd

    for name in df.columns:
        col = df[name]
        if col.dtype == object:
            sample = col.iloc[:1000].dropna()  # the first values tell a DECIMAL column
            if len(sample) == 0:
                sample = col.dropna()
            if len(sample) and all(isinstance(v, decimal.Decimal) for v in sample.iloc[:100]):
                df[name] = pd.to_numeric(col.astype(float))
    return df.infer_objects()


def _as_datetime(value: Any) -> Any:
    """A datetime (aware, UTC when naive) from a datetime or ISO 8601 text."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise ValueError(f"Invalid time {value!r}: expected a datetime or ISO 8601 text.")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time_kind(value: Any, dialect: str) -> str | None:
    """How one stored value holds time (see :class:`TimeWindow`), or None when it does not."""
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
        return "timestamp" if dialect == "sqlite" else "text"
    return None
