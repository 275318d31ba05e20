"""
The generic (ANSI) dialect: what every ``common-sql`` database can do with plain DB-API calls.

The database-specific dialects (:mod:`.sqlite`, :mod:`.postgres`, :mod:`.mysql`) subclass
:class:`Dialect` and override its plain ways with their fast paths; any other connection (Trino,
MSSQL, ...) uses it as it is. Values never go through here as text: they are bound as parameters
(:attr:`Dialect.placeholder`); identifiers go through :meth:`Dialect.quote` and :meth:`Dialect.table`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_automl_provider.sql import TableRef, validate_column

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from datetime import datetime

    import pandas as pd

log = logging.getLogger(__name__)

#: Rows per chunk of the plain streaming read of one column (:meth:`Dialect.stream_float_column`).
STREAM_CHUNK_ROWS = 1 << 16


class RangesUnavailable(RuntimeError):
    """A table that cannot be read in parallel ranges (:meth:`Dialect.range_query`): read it another way."""


class Dialect:
    """
    What differs between databases, in its generic form: quoting, types, placeholders, casts, the
    catalog, and the ways to read, write and replace a table.

    Methods that run SQL take a DB-API connection (or cursor) of the database; the hook that opened
    it stays above. The catalog lookups go through SQLAlchemy's inspector of :attr:`hook`, as
    common-sql's own ``Dialect`` does, where plain SQL has no portable form.

    :param name: the database's name as SQLAlchemy gives it (``sqlite``, ``postgresql``, ``trino``, ...):
        for messages only; no code chooses by it.
    :param placeholder: the DB-API placeholder of the driver (``?`` or ``%s``).
    :param hook: the connection's ``DbApiHook``, for the catalog lookups (may be None in pure SQL use).
    """

    #: Abstract column types (``text``, ``key``, ...) as this database writes them.
    TYPES: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "key": "VARCHAR(250)",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
    }
    quote_char: ClassVar[str] = '"'
    #: What an "other schema" is called in messages.
    schema_word: ClassVar[str] = "schema"
    #: Whether CREATE, DROP and RENAME TABLE wait for the transaction's commit. When not (or not known),
    #: a table is filled and committed under another name first, then swapped in.
    transactional_ddl: ClassVar[bool] = False
    #: Whether tables have ``rowid`` (SQLite): rowid joins and parallel range reads.
    has_rowids: ClassVar[bool] = False
    #: Whether a read may share the connection a write is using (else it takes a connection of its own):
    #: DB-API lets several cursors share one, and on SQLite a second connection's read would block the
    #: writer's commits.
    reads_beside_writes: ClassVar[bool] = True
    #: Whether the numeric check of a column (:meth:`non_numeric`) is a cheap catalog lookup.
    cheap_numeric_check: ClassVar[bool] = True
    #: Whether AUROC should always take the one grouped query (the streaming pass would read row by row).
    auroc_grouped_only: ClassVar[bool] = False
    #: How a time stored as ISO 8601 text is compared (see ``hooks.tracking.TimeWindow``).
    text_time_kind: ClassVar[str] = "text"
    #: Values per chunk of :meth:`stream_float_column`.
    stream_chunk_rows: ClassVar[int] = STREAM_CHUNK_ROWS

    def __init__(self, name: str = "generic", placeholder: str = "?", hook: Any = None) -> None:
        self.name = name
        self.placeholder = placeholder
        self.hook = hook

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, placeholder={self.placeholder!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other) and (self.name, self.placeholder) == (other.name, other.placeholder)  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.placeholder))

    # -- names, types, expressions ----------------------------------------------------------------------
    def quote(self, name: str) -> str:
        """Quote one validated column name."""
        validate_column(name)
        return f"{self.quote_char}{name}{self.quote_char}"

    def table(self, table: str | TableRef, schema: str | None = None) -> str:
        """
        Validated, quoted and optionally schema-qualified table name (a :class:`..sql.TableRef` is valid
        already; plain names, ``table`` or ``schema.table`` and ``schema``, are parsed into one).
        """
        ref = TableRef.parse(table, schema)
        schema, table = ref.schema, ref.name
        q = self.quote_char
        return f"{q}{schema}{q}.{q}{table}{q}" if schema else f"{q}{table}{q}"

    def type(self, abstract: str) -> str:
        return self.TYPES[abstract]

    def as_text(self, expr: str) -> str:
        """An SQL expression as text, to compare labels of any type with a string value."""
        return f"CAST({expr} AS VARCHAR)"

    @property
    def text_placeholder(self) -> str:
        """A bound text value comparable with :meth:`as_text`."""
        return self.placeholder

    def as_float(self, expr: str) -> str:
        return f"CAST({expr} AS {self.type('float')})"

    def numbers_only(self, expr: str) -> str:
        """``expr`` as a float where it holds a number; NULL (or an error) where it does not."""
        return self.as_float(expr)

    def as_time(self, expr: str) -> str:
        """A timestamp expression comparable across storage formats."""
        return expr

    def text_as_time(self, expr: str) -> str:
        """A text column's ISO 8601 value as a timestamp; NULL where the database can tell it is none."""
        return f"CAST({expr} AS TIMESTAMP)"

    def placeholders(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def create_table_sql(
        self,
        table: TableRef,
        columns: Sequence[tuple[str, str]],
        *,
        if_not_exists: bool,
        primary_key: str | None = None,
    ) -> str:
        cols = ", ".join(
            f"{self.quote(name)} {self.type(kind)}{' PRIMARY KEY' if name == primary_key else ''}"
            for name, kind in columns
        )
        exists = "IF NOT EXISTS " if if_not_exists else ""
        return f"CREATE TABLE {exists}{self.table(table)} ({cols})"

    def rename_table_sql(self, old: TableRef, new: TableRef) -> str:
        """Rename ``old`` to ``new``, a table in the same schema (``old.sibling(name)``)."""
        return f"ALTER TABLE {self.table(old)} RENAME TO {self.quote(new.name)}"

    def bind_timestamp(self, value: datetime) -> Any:
        """A UTC-aware datetime as this database binds it: naive UTC for a plain ``TIMESTAMP``."""
        return value.replace(tzinfo=None)

    # -- sessions -------------------------------------------------------------------------------------
    def set_lock_timeout(self, conn: Any, seconds: float) -> None:
        """Make ``conn`` wait at most ``seconds`` for a lock; the generic dialect has no portable way."""

    def begin(self, conn: Any) -> None:
        """Start the transaction that DDL and DML share (DB-API drivers start one implicitly)."""

    def begin_snapshot(self, conn: Any) -> None:
        """Start a read-only transaction whose reads see the same rows; generic: the driver's own."""

    # -- catalog --------------------------------------------------------------------------------------
    def _inspect(self, what: str, *args: Any) -> Any:
        """One call of SQLAlchemy's inspector of :attr:`hook`, on an engine disposed of afterwards."""
        from sqlalchemy import inspect

        engine = self.hook.get_sqlalchemy_engine()
        try:
            found = getattr(inspect(engine), what)
            return found(*args) if callable(found) else found
        finally:
            engine.dispose()

    def schema_exists(self, conn: Any, schema: str) -> bool:
        return bool(self._inspect("has_schema", schema))

    def table_names(self, conn: Any, schema: str | None) -> set[str]:
        """Tables and views of ``schema`` (the connection's default when None)."""
        return set(self._inspect("get_table_names", schema)) | set(self._inspect("get_view_names", schema))

    def table_identity(self, conn: Any, ref: TableRef) -> tuple[str, str]:
        """``(schema, table)`` as the database resolves them: quoted names keep their case (ANSI)."""
        return ref.schema or str(self._inspect("default_schema_name") or ""), ref.name

    def non_numeric(self, conn: Any, ref: TableRef, column: str) -> str | None:
        """Why ``column`` does not hold numbers (``"its type is ..."``), or None when it does or cannot tell."""
        from sqlalchemy import types

        found = [c["type"] for c in self._inspect("get_columns", ref.name, ref.schema) if c["name"] == column]
        if not found or isinstance(found[0], types.NullType | types.Numeric | types.Float | types.Integer):
            return None
        return f"its type is {found[0]}"

    # -- reading --------------------------------------------------------------------------------------
    def stream_cursor(self, conn: Any) -> Any:
        """A cursor that fetches rows as they are read, not all at once, where the driver can."""
        return conn.cursor()

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
        """
        The rows of ``sql`` (a ``SELECT`` of ``columns`` of the table, filtered by ``where``) as DataFrames of
        at most ``chunk_rows`` rows: ``fetchmany`` on a streaming cursor.
        """
        yield from self.cursor_chunks(conn, sql, params, chunk_rows)

    def cursor_chunks(self, conn: Any, sql: str, params: list[Any], chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pandas as pd

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
                yield self.typed_frame(pd.DataFrame(rows, columns=names))
        finally:
            cur.close()

    def typed_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A frame of DB-API values with its natural dtypes (DECIMAL values as floats)."""
        return normalise(frame)

    def rowids_readable(self, conn: Any, ref: TableRef) -> bool:
        """Whether the table's rows can be named by a ``rowid`` (only SQLite has them)."""
        return False

    def stream_float_column(
        self, conn: Any, table: str, value: str, where: str, parameters: Sequence[Any], chunk_rows: int
    ) -> Iterator[Any]:
        """
        The values of ``value`` over the rows of ``table`` that match ``where``, as float64 numpy arrays
        of about ``chunk_rows`` values (NULL as NaN), in no particular order: a streaming cursor.
        """
        import itertools

        import numpy as np

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

    def integer_labels(self, conn: Any, table: str, target: str) -> bool:
        """Whether the driver reports ``target`` as an integer column (only asked where that is exact)."""
        return False

    def range_query(self, conn: Any, ref: TableRef, sql: Any, **kwargs: Any) -> Iterator[Any]:
        """One query over ranges of the table in parallel; only SQLite has them (see its dialect)."""
        raise RangesUnavailable(f"{self.name} tables are not read in parallel ranges")
        yield  # a generator, as the SQLite one

    # -- writing --------------------------------------------------------------------------------------
    def replace_table(
        self,
        conn: Any,
        table: TableRef,
        columns: Sequence[tuple[str, str]],
        frames: Iterable[pd.DataFrame],
        join: Any = None,
    ) -> int:
        """
        Replace ``table`` with the rows of ``frames`` inside the caller's transaction on ``conn``: the rows
        go to a new table, which then takes the old one's place, so readers never see a partial table.

        Where DDL waits for the commit (:attr:`transactional_ddl`) the whole swap is the caller's one
        transaction. Elsewhere the new table is filled and committed first, then swapped in; a failure
        drops it, and a staging table left by a killed writer is dropped by the next writer of the table.

        :param join: a ``RowidJoin`` (SQLite only): build the output from source columns by rowid.
        :returns: the rows written.
        """
        for name, _ in columns:
            validate_column(name)
        staging = table.sibling(f"{table.name[:40]}__new_{uuid.uuid4().hex[:8]}")
        cur = conn.cursor()
        if not self.transactional_ddl:
            self.drop_stale_staging(conn, cur, table)
        try:
            if join is not None:
                written = self.write_joined(cur, staging, columns, frames, join)
            else:
                cur.execute(self.create_table_sql(staging, columns, if_not_exists=False))
                written = 0
                for frame in frames:
                    if len(frame):
                        self.insert_frame(cur, self.table(staging), [n for n, _ in columns], frame)
                        written += len(frame)
            if not self.transactional_ddl:
                conn.commit()
            self.swap_in(cur, staging, table)
        except BaseException:
            if not self.transactional_ddl:  # the new table was committed: nothing else removes it
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.cursor().execute(f"DROP TABLE IF EXISTS {self.table(staging)}")
            raise
        return written

    def swap_in(self, cur: Any, staging: TableRef, table: TableRef) -> None:
        """Put the filled table ``staging`` (in ``table``'s schema) in the place of ``table``."""
        cur.execute(f"DROP TABLE IF EXISTS {self.table(table)}")
        cur.execute(self.rename_table_sql(staging, table))

    def drop_stale_staging(self, conn: Any, cur: Any, ref: TableRef) -> None:
        """Drop the staging tables (``<table>__new_<8 hex>``) that a writer killed mid-write left behind."""
        stale = re.compile(re.escape(ref.name[:40]) + r"__new_[0-9a-f]{8}")
        for name in sorted(self.table_names(conn, ref.schema)):
            if stale.fullmatch(name):
                log.warning("Dropping %s, left behind by an interrupted write", name)
                cur.execute(f"DROP TABLE IF EXISTS {self.table(ref.sibling(name))}")

    def write_joined(
        self,
        cur: Any,
        table: TableRef,
        columns: Sequence[tuple[str, str]],
        frames: Iterable[pd.DataFrame],
        join: Any,
    ) -> int:
        raise NotImplementedError(f"{self.name}: rowid joins are SQLite's")

    def insert_frame(self, cur: Any, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
        """Insert a DataFrame's rows into the quoted table ``target``: one-row ``executemany``."""
        rows = frame_rows(frame)
        if rows:
            cols = ", ".join(self.quote(n) for n in names)
            cur.executemany(f"INSERT INTO {target} ({cols}) VALUES ({self.placeholders(len(names))})", rows)


def fetch_rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql, list(params))
        return [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def information_schema_non_numeric(conn: Any, d: Dialect, ref: TableRef, column: str, current: str) -> str | None:
    """Why a column is not numeric by its type in ``information_schema`` (PostgreSQL, MySQL), or None."""
    ph = d.placeholder
    rows = fetch_rows(
        conn,
        f"SELECT data_type FROM information_schema.columns WHERE table_schema = COALESCE({ph}, {current}) "
        f"AND table_name = {ph} AND column_name = {ph}",
        [ref.schema, ref.name, column],
    )
    numeric = {"smallint", "integer", "int", "bigint", "numeric", "decimal", "real", "double precision"}
    numeric |= {"double", "float", "tinyint", "mediumint"}
    if rows and str(rows[0][0]).lower() not in numeric:
        return f"its type is {rows[0][0]}"
    return None


# -- DataFrames and DB-API rows -------------------------------------------------------------------------
def frame_sql_types(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Abstract SQL types (see :attr:`Dialect.TYPES`) for the columns of a DataFrame."""
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


def normalise(df: pd.DataFrame) -> pd.DataFrame:
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
