"""
MySQL and MariaDB: backtick quoting, binary label comparisons, unbuffered cursors, and the swap.

MySQL commits DDL at once, so a table is replaced as the generic dialect does (filled and committed
under another name first), then swapped in with one atomic ``RENAME TABLE`` under a named lock.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_automl_provider.dialects.base import Dialect, fetch_rows, information_schema_non_numeric, log

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_automl_provider.sql import TableRef


class MySqlDialect(Dialect):
    """MySQL and MariaDB through the mysql provider's hook (mysqlclient)."""

    TYPES: ClassVar[dict[str, str]] = {
        "text": "TEXT",
        "key": "VARCHAR(250)",
        "integer": "BIGINT",
        "float": "DOUBLE",
        "boolean": "BOOLEAN",
        "timestamp": "DATETIME(6)",
    }
    quote_char: ClassVar[str] = "`"
    # An unbuffered result holds its connection until the last row is read: reads take their own.
    reads_beside_writes: ClassVar[bool] = False
    # The streaming pass reads row by row here (not benchmarked): AUROC takes the grouped query.
    auroc_grouped_only: ClassVar[bool] = True

    def as_text(self, expr: str) -> str:
        # As bytes: the default collations ignore case and trailing spaces, and labels must match
        # exactly (' >50K' is not '>50k').
        return f"CAST({expr} AS BINARY)"

    @property
    def text_placeholder(self) -> str:
        return f"CAST({self.placeholder} AS BINARY)"

    def as_float(self, expr: str) -> str:
        return f"CAST({expr} AS DOUBLE)"

    def text_as_time(self, expr: str) -> str:
        return f"CAST({expr} AS DATETIME(6))"  # NULL (and a warning) where the text is not a datetime

    def rename_table_sql(self, old: TableRef, new: TableRef) -> str:
        return f"RENAME TABLE {self.table(old)} TO {self.table(new)}"

    def bind_timestamp(self, value: datetime) -> Any:
        return value.replace(tzinfo=None)

    def set_lock_timeout(self, conn: Any, seconds: float) -> None:
        cur = conn.cursor()
        cur.execute(f"SET SESSION lock_wait_timeout = {max(1, int(seconds))}")
        cur.execute(f"SET SESSION innodb_lock_wait_timeout = {max(1, int(seconds))}")

    def begin_snapshot(self, conn: Any) -> None:
        conn.cursor().execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")

    def schema_exists(self, conn: Any, schema: str) -> bool:
        return bool(fetch_rows(conn, "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema]))

    def table_names(self, conn: Any, schema: str | None) -> set[str]:
        rows = fetch_rows(
            conn,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE())",
            [schema or None],
        )
        return {r[0] for r in rows}

    def table_identity(self, conn: Any, ref: TableRef) -> tuple[str, str]:
        # Table names ignore case with lower_case_table_names.
        ((default, fold),) = fetch_rows(conn, "SELECT DATABASE(), @@lower_case_table_names", [])
        schema = ref.schema or default
        return (schema.lower(), ref.name.lower()) if int(fold or 0) else (schema, ref.name)

    def non_numeric(self, conn: Any, ref: TableRef, column: str) -> str | None:
        return information_schema_non_numeric(conn, self, ref, column, "DATABASE()")

    def stream_cursor(self, conn: Any) -> Any:
        from MySQLdb.cursors import SSCursor

        return conn.cursor(SSCursor)  # unbuffered: rows as they are read

    def swap_in(self, cur: Any, staging: TableRef, table: TableRef) -> None:
        swap(cur, self, staging, table)

    def drop_stale_staging(self, conn: Any, cur: Any, ref: TableRef) -> None:
        drop_stale_staging(cur, self, ref)


def swap(cur: Any, d: Dialect, staging: TableRef, table: TableRef) -> None:
    """Rename ``staging`` into ``table``'s place in one ``RENAME TABLE``; writers of a table take turns."""
    lock = f"automl:{d.table(table)}"[:64]
    cur.execute("SELECT GET_LOCK(%s, 600)", [lock])
    try:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE()) "
            "AND table_name = %s",
            [table.schema, table.name],
        )
        if cur.fetchone()[0]:
            old = table.sibling(f"{table.name[:40]}__old_{uuid.uuid4().hex[:8]}")
            cur.execute(f"RENAME TABLE {d.table(table)} TO {d.table(old)}, {d.table(staging)} TO {d.table(table)}")
            cur.execute(f"DROP TABLE {d.table(old)}")
        else:
            cur.execute(d.rename_table_sql(staging, table))
    finally:
        cur.execute("SELECT RELEASE_LOCK(%s)", [lock])


def drop_stale_staging(cur: Any, d: Dialect, ref: TableRef) -> None:
    """
    A writer killed mid-write (SIGKILL) leaves its committed staging table behind; the next writer
    of the same table removes it. Staging names are ``<table>__new_<8 hex>``.
    """
    prefix = ref.name[:40].replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    cur.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = COALESCE(%s, DATABASE()) "
        "AND table_name LIKE %s",
        [ref.schema, prefix + "\\_\\_new\\_%"],
    )
    for (name,) in cur.fetchall():
        if re.fullmatch(re.escape(ref.name[:40]) + r"__new_[0-9a-f]{8}", name):
            log.warning("Dropping %s, left behind by an interrupted write", name)
            cur.execute(f"DROP TABLE IF EXISTS {d.table(ref.sibling(name))}")
