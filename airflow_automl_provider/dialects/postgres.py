"""
PostgreSQL: COPY in and out, page-range (``ctid``) float arrays, advisory locks for the swap.

Each fast path is a function of a DB-API (psycopg 3 or psycopg2) connection or cursor and the
dialect; :class:`PostgresDialect` calls them in place of the generic ways of :class:`.base.Dialect`.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_automl_provider.constants import DEFAULT_CHUNK_ROWS
from airflow_automl_provider.dialects.base import Dialect, fetch_rows, frame_rows, information_schema_non_numeric

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    import pandas as pd

    from airflow_automl_provider.sql import TableRef

#: Arrow types of the columns COPY's CSV can be read as, by PostgreSQL type oid.
CSV_TYPE_OIDS = {
    16: "bool",
    20: "int64",
    21: "int64",
    23: "int64",
    700: "float64",
    701: "float64",
    1700: "float64",  # numeric: as float, as the row-by-row path does with its Decimals
    25: "string",
    1043: "string",
    1042: "string",
    19: "string",
    1082: "date32",
    1114: "timestamp",
    1184: "timestamptz",
}
#: Type oids of int8, int2, int4.
INTEGER_OIDS = (20, 21, 23)


class PostgresDialect(Dialect):
    """PostgreSQL through the postgres provider's hook (psycopg 3 by default, or psycopg2)."""

    TYPES: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "key": "VARCHAR(250)",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
    }
    transactional_ddl: ClassVar[bool] = True
    # COPY holds its connection until the last row is read: reads take a connection of their own.
    reads_beside_writes: ClassVar[bool] = False
    # Values per chunk: 12 bytes each in PostgreSQL's arrays, about 90 as rows of Python objects.
    stream_chunk_rows: ClassVar[int] = 1 << 18

    def bind_timestamp(self, value: datetime) -> Any:
        return value

    def text_as_time(self, expr: str) -> str:
        # A cast of bad text would fail the whole query: only ISO-shaped text is cast.
        iso = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
        return f"(CASE WHEN {expr} ~ '{iso}' THEN CAST({expr} AS TIMESTAMPTZ) END)"

    def set_lock_timeout(self, conn: Any, seconds: float) -> None:
        cur = conn.cursor()
        cur.execute(f"SET lock_timeout = {int(seconds * 1000)}")
        conn.commit()  # a session setting, outside the transactions that follow

    def begin_snapshot(self, conn: Any) -> None:
        conn.cursor().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def schema_exists(self, conn: Any, schema: str) -> bool:
        return bool(fetch_rows(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]))

    def table_names(self, conn: Any, schema: str | None) -> set[str]:
        rows = fetch_rows(
            conn,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = COALESCE(%s, current_schema())",
            [schema or None],
        )
        return {r[0] for r in rows}

    def table_identity(self, conn: Any, ref: TableRef) -> tuple[str, str]:
        schema = ref.schema
        if schema is None:  # where the search path finds it, else where it would be created
            rows = fetch_rows(
                conn,
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.oid = to_regclass(%s)",
                [self.table(ref)],
            )
            schema = rows[0][0] if rows else fetch_rows(conn, "SELECT current_schema()", [])[0][0]
        return schema, ref.name

    def non_numeric(self, conn: Any, ref: TableRef, column: str) -> str | None:
        return information_schema_non_numeric(conn, self, ref, column, "current_schema()")

    def stream_cursor(self, conn: Any) -> Any:
        cur = conn.cursor(name=f"automl_{uuid.uuid4().hex[:12]}")  # server-side
        cur.itersize = DEFAULT_CHUNK_ROWS
        return cur

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
        if hasattr(conn, "pgconn"):  # psycopg 3: COPY through libpq
            csv_types = copy_csv_types(conn, sql, params)
            if csv_types is not None:
                yield from copy_chunks(conn, sql, params, chunk_rows, csv_types)
                return
        yield from self.cursor_chunks(conn, sql, params, chunk_rows)

    def stream_float_column(
        self, conn: Any, table: str, value: str, where: str, parameters: Sequence[Any], chunk_rows: int
    ) -> Iterator[Any]:
        arrays = page_range_arrays(conn, self, table, value, where, parameters, chunk_rows)
        if arrays is None:  # a view: no pages to range over
            yield from super().stream_float_column(conn, table, value, where, parameters, chunk_rows)
        else:
            yield from arrays

    def integer_labels(self, conn: Any, table: str, target: str) -> bool:
        cur = conn.cursor()
        cur.execute(f"SELECT {target} FROM {table} WHERE 1 = 0")
        return cur.description[0][1] in INTEGER_OIDS

    def swap_in(self, cur: Any, staging: TableRef, table: TableRef) -> None:
        # Writers of the same table take turns for the swap (held until commit).
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.table(table)])
        super().swap_in(cur, staging, table)

    def insert_frame(self, cur: Any, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
        if hasattr(cur, "copy") or hasattr(cur, "copy_expert"):
            copy_in(cur, self, target, names, frame)
        else:
            super().insert_frame(cur, target, names, frame)


def copy_csv_types(conn: Any, sql: str, params: list[Any]) -> dict[str, Any] | None:
    """Arrow types for reading ``sql``'s columns from COPY's CSV; None if one has a type we do not map."""
    import pyarrow as pa

    arrow = {
        "bool": pa.bool_(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "string": pa.string(),
        "date32": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
        described = [(col.name, col.type_code) for col in cur.description]
    finally:
        cur.close()
    if len({name for name, _ in described}) != len(described) or any(t not in CSV_TYPE_OIDS for _, t in described):
        return None
    return {name: arrow[CSV_TYPE_OIDS[oid]] for name, oid in described}


def copy_chunks(
    conn: Any, sql: str, params: list[Any], chunk_rows: int, csv_types: dict[str, Any]
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
            for block in copy_out_blocks(conn, copy, chunk_rows):
                yield frame(block)
    finally:
        cur.close()


def copy_out_blocks(conn: Any, copy: Any, rows: int) -> Iterator[list[bytes]]:
    """
    The rows of a psycopg 3 ``COPY ... TO STDOUT``, ``rows`` at a time, taken straight from libpq
    while they are buffered: psycopg's own per-row read (a wait generator per row) was the slow part
    of a large read. Only when libpq has nothing buffered does ``copy.read()`` wait for more.
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


def page_range_arrays(
    conn: Any, d: Dialect, table: str, value: str, where: str, parameters: Sequence[Any], chunk_rows: int
) -> Iterator[Any] | None:
    """
    The values of ``value`` over the rows matching ``where``, one range of the table's pages
    (``ctid``) at a time, each aggregated by the server into one binary ``float8[]`` that numpy reads
    without a Python object per value (``COPY ... (FORMAT binary)`` sends one message per row, which
    psycopg hands over one by one; timings in docs/benchmarks.md). None for a view, which has no pages.

    :param table: the quoted table name.
    """
    ph = d.placeholder
    cur = conn.cursor()
    # Rows per page from the statistics; at most 291 fit in an 8 kB page (never analysed: -1).
    cur.execute(
        "SELECT relkind, pg_relation_size(oid) / current_setting('block_size')::bigint, "
        "CASE WHEN relpages > 0 AND reltuples > 0 THEN LEAST(reltuples / relpages, 291) ELSE 291 END "
        f"FROM pg_class WHERE oid = CAST({ph} AS regclass)",
        [table],
    )
    kind, size, per_block = cur.fetchone()
    if kind not in ("r", "m"):  # only a table or materialised view has pages to range over
        cur.close()
        return None
    blocks, step = int(size), max(1, int(chunk_rows / max(float(per_block), 1.0)))
    return _page_range_arrays(conn, cur, table, value, where, parameters, ph, blocks, step)


def _page_range_arrays(
    conn: Any, cur: Any, table: str, value: str, where: str, parameters: Sequence[Any], ph: str, blocks: int, step: int
) -> Iterator[Any]:
    import numpy as np

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


def copy_in(cur: Any, d: Dialect, target: str, names: Sequence[str], frame: pd.DataFrame) -> None:
    """Rows into the quoted table ``target`` through ``COPY ... FROM STDIN`` as CSV (:func:`frame_csv`)."""
    cols = ", ".join(d.quote(n) for n in names)
    copy_sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv)"
    data = frame_csv(frame)
    if hasattr(cur, "copy"):  # psycopg 3 (the postgres provider's default driver)
        with cur.copy(copy_sql) as copy:
            copy.write(data)
    else:  # psycopg2
        import io

        cur.copy_expert(copy_sql, io.BytesIO(data))


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
        return "".join(copy_line(row) for row in frame_rows(df)).encode()
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def copy_field(value: Any) -> str:
    # Unquoted empty is NULL in COPY's CSV, quoted "" the empty string: keep them apart.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return '"' + text.replace('"', '""') + '"'


def copy_line(row: Sequence[Any]) -> str:
    """One row of COPY ... WITH (FORMAT csv)."""
    return ",".join(copy_field(v) for v in row) + "\n"
