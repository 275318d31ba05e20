"""SQL storage for any ``common-sql`` connection: tracking tables, reading inputs, writing outputs."""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_automl_provider.schemas import TRACKING_TABLES, TableSchema
from airflow_automl_provider.sql import SqlDialect, split_table_name, timestamp_value, validate_column

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    import pandas as pd
    from airflow.providers.common.sql.hooks.sql import DbApiHook

DEFAULT_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class TimeWindow:
    """Rows whose ``column`` is in ``[start, end)``: a DAG run's data interval."""

    column: str
    start: Any
    end: Any


class TableNotFoundError(LookupError):
    """An input table that does not exist or cannot be read."""


class MissingColumnError(KeyError):
    """A column the task needs is not in the table."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


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
    default_conn_name = "automl_default"
    hook_name = "AutoML tracking"

    def __init__(self, conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @cached_property
    def db_hook(self) -> DbApiHook:
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        hook = self.get_connection(self.conn_id).get_hook()
        if not isinstance(hook, DbApiHook):
            raise TypeError(
                f"Connection {self.conn_id!r} gives a {type(hook).__name__}, which is not a common-sql DbApiHook: "
                "expected a SQL database connection (sqlite, postgres, mysql, ...)."
            )
        return hook

    @cached_property
    def dialect(self) -> SqlDialect:
        return SqlDialect.for_hook(self.db_hook)

    # -- transactions ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A DB-API connection in one transaction: committed on success, rolled back on any error."""
        conn = self.db_hook.get_conn()
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

    # -- tracking tables ------------------------------------------------------------------------------
    def create_tables(self, schema: str | None = None, tables: Sequence[TableSchema] = TRACKING_TABLES) -> list[str]:
        """Create every tracking table that is missing; return the qualified names."""
        d = self.dialect
        names = [d.table(table.name, schema) for table in tables]
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
        return names

    def upsert(
        self, table: TableSchema, rows: dict[str, Any] | Sequence[dict[str, Any]], schema: str | None = None
    ) -> None:
        """Replace the rows with the same natural keys in one transaction: a retried task never adds a second row."""
        rows = [rows] if isinstance(rows, dict) else list(rows)
        d = self.dialect
        name = d.table(table.name, schema)
        where = " AND ".join(f"{d.quote(k)} = {d.placeholder}" for k in table.key)
        with self.transaction() as conn:
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
        conn = self.db_hook.get_conn()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT * FROM {name} WHERE 1 = 0")
            return [col[0] for col in cur.description]
        except Exception as err:
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
        if window is None:
            return sql, []
        col = d.as_time(d.quote(window.column))
        return (
            f"{sql} WHERE {col} >= {d.as_time(d.placeholder)} AND {col} < {d.as_time(d.placeholder)}",
            [timestamp_value(d, window.start), timestamp_value(d, window.end)],
        )

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

        cur = self.stream_cursor(conn)
        try:
            cur.execute(*self._select(table, schema, columns, window))
            names = None
            while True:
                rows = cur.fetchmany(chunk_rows)
                if names is None:
                    names = [col[0] for col in cur.description]
                if not rows:
                    break
                yield _normalise(pd.DataFrame.from_records(rows, columns=names))
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
        conn = self.db_hook.get_conn()
        try:
            chunks = list(self.iter_chunks(conn, table, schema, columns, window=window))
        finally:
            conn.close()
        if not chunks:
            return pd.DataFrame(columns=list(columns or self.columns(table, schema)))
        return _normalise(pd.concat(chunks, ignore_index=True))

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read-only query with bound parameters."""
        conn = self.db_hook.get_conn()
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
        batches: Iterable[Sequence[Sequence[Any]]],
    ) -> int:
        """
        Replace ``table`` with the given rows, inside the caller's transaction on ``conn``.

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
        cur = conn.cursor()
        if d.name == "mysql":
            self._drop_stale_staging(cur, table, schema)
        cur.execute(d.create_table_sql(staging, columns, schema, if_not_exists=False))
        try:
            written = 0
            for rows in batches:
                if rows:
                    self._bulk_insert(cur, d.table(staging, schema), [n for n, _ in columns], rows)
                    written += len(rows)
            if d.name == "mysql":
                conn.commit()
                self._mysql_swap(cur, staging, table, schema)
            else:
                if d.name == "postgresql":
                    # Writers of the same table take turns for the swap (held until commit).
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [d.table(table, schema)])
                cur.execute(f"DROP TABLE IF EXISTS {d.table(table, schema)}")
                cur.execute(d.rename_table_sql(staging, table, schema))
        except BaseException:
            if d.name == "mysql":  # its CREATE TABLE committed already: nothing else removes it
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.cursor().execute(f"DROP TABLE IF EXISTS {d.table(staging, schema)}")
            raise
        return written

    def _bulk_insert(self, cur: Any, target: str, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """The database's bulk path: COPY on PostgreSQL (psycopg2), multi-row executemany elsewhere."""
        d = self.dialect
        cols = ", ".join(d.quote(n) for n in names)
        if d.name == "postgresql":
            copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)"
            data = "".join(_copy_line(row) for row in rows)
            if hasattr(cur, "copy"):  # psycopg 3 (the postgres provider's default driver)
                with cur.copy(copy_sql) as copy:
                    copy.write(data)
                return
            if hasattr(cur, "copy_expert"):  # psycopg2
                import io

                cur.copy_expert(copy_sql, io.StringIO(data))
                return
        cur.executemany(f"INSERT INTO {target} ({cols}) VALUES ({d.placeholders(len(names))})", rows)

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
        A connection to stream reads from while ``conn`` writes: ``conn`` itself, except on MySQL,
        whose unbuffered results block any other statement on the same connection.
        """
        if self.dialect.name != "mysql":
            yield conn
            return
        other = self.db_hook.get_conn()
        try:
            yield other
        finally:
            other.close()

    def replace_with_frame(self, table: str, df: pd.DataFrame, schema: str | None = None) -> int:
        """Replace ``table`` with a DataFrame, whole or not at all."""
        with self.transaction() as conn:
            return self.write_table(conn, table, schema, frame_sql_types(df), [frame_rows(df)])


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
            sample = col.dropna()
            if len(sample) and all(isinstance(v, decimal.Decimal) for v in sample.iloc[:100]):
                df[name] = pd.to_numeric(col.astype(float))
    return df.infer_objects()
