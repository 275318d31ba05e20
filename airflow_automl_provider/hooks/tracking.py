"""
The package's own tables (experiments, evaluations, drift results, predictions): created, upserted and
queried here, for the operators, the UI plugin and the demo alike; no other module writes their SQL.

Generic table I/O is :class:`~airflow_automl_provider.hooks.table.TableHook`'s; its names are re-exported
here, where users have imported them from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_automl_provider.hooks.table import (
    EPOCH_MS_FROM,
    SOURCE_ROW,
    TIME_FORMATS,
    LabelNotFoundError,
    MissingColumnError,
    RangesUnavailable,
    RowidJoin,
    SchemaNotFoundError,
    TableHook,
    TableLockedError,
    TableNotFoundError,
    TimeWindow,
    frame_rows,
    frame_sql_types,
    is_lock_error,
    label_text,
)
from airflow_automl_provider.schemas import (
    EVAL_RESULTS,
    EXPERIMENTS,
    PREDICTIONS,
    TRACKING_TABLES,
    TableSchema,
)
from airflow_automl_provider.sql import TableRef, timestamp_value

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

__all__ = [
    "EPOCH_MS_FROM",
    "SOURCE_ROW",
    "TIME_FORMATS",
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
    "TrackingHook",
    "frame_rows",
    "frame_sql_types",
    "is_lock_error",
    "label_text",
]

#: What a filter of :meth:`TrackingHook.tracking_rows` may compare with.
_OPERATORS = ("=", "<>", ">=", "<", "in")


class TrackingHook(TableHook):
    """
    Create, write and query the package's tracking tables through any ``common-sql`` connection.

    Every method takes the schema of the tracking tables (empty or None: the connection's default).

    :param conn_id: the Airflow connection of the database.
    """

    hook_name = "AutoML tracking"

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
                    cur.execute(d.create_table_sql(TableRef(schema, table.name), table.columns, if_not_exists=True))
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

    def prediction_record(self, table: str | TableRef, schema: str | None = None) -> dict[str, Any] | None:
        """The row of ``automl_predictions`` saying which model wrote a prediction table, if one was recorded."""
        ref = TableRef.parse(table, schema)
        if PREDICTIONS.name not in self.table_names(ref.schema):
            return None
        d = self.dialect
        records = ref.sibling(PREDICTIONS.name)  # kept in the prediction table's own schema
        cols = [c for c in PREDICTIONS.column_names if c in set(self.columns(records))]
        rows = self.query(
            f"SELECT {', '.join(d.quote(c) for c in cols)} FROM {d.table(records)} "
            f"WHERE {d.quote('output_table')} = {d.placeholder}",
            [self.table_identity(ref)[1]],
        )
        return dict(zip(cols, rows[0], strict=True)) if rows else None

    # -- queries of the tracking tables -----------------------------------------------------------------
    def newest_model(self, schema: str | None = None) -> str | None:
        """The model of the newest experiment (by ``session_time``; rows without one are left out), or None."""
        d, q = self.dialect, self.dialect.quote
        # NULLs sort first in PostgreSQL's DESC order, last elsewhere: leave them out.
        rows = self.query(
            f"SELECT {q('model_name')} FROM {d.table(EXPERIMENTS.name, schema)} WHERE {q('session_time')} IS NOT NULL "
            f"ORDER BY {q('session_time')} DESC, {q('model_name')} DESC LIMIT 1"
        )
        return rows[0][0] if rows else None

    def experiment_evaluation(self, model_name: str, schema: str | None = None) -> dict[str, Any] | None:
        """
        The evaluation the model's own experiment recorded (its newest experiment's; the first test table
        by name): ``test_table``, ``auroc`` (a float or None), ``dag_id``, ``run_id`` and ``predictions``,
        the prediction table it was computed on when ``automl_predictions`` records it (else None).
        None when the tables or such an evaluation are missing.

        :param model_name: the model.
        :param schema: schema of the tracking tables.
        """
        tables = self.table_names(schema)
        if not {EXPERIMENTS.name, EVAL_RESULTS.name} <= tables:
            return None
        d, q = self.dialect, self.dialect.quote
        e, r = d.table(EXPERIMENTS.name, schema), d.table(EVAL_RESULTS.name, schema)
        rows = self.query(
            f"SELECT r.{q('test_table')}, r.{q('auroc')}, r.{q('dag_id')}, r.{q('run_id')} FROM {r} r "
            f"JOIN {e} e ON e.{q('dag_id')} = r.{q('dag_id')} AND e.{q('run_id')} = r.{q('run_id')} "
            f"AND e.{q('model_name')} = r.{q('model_name')} WHERE e.{q('model_name')} = {d.placeholder} "
            f"ORDER BY CASE WHEN e.{q('session_time')} IS NULL THEN 1 ELSE 0 END, e.{q('session_time')} DESC, "
            f"r.{q('test_table')} LIMIT 1",
            [model_name],
        )
        if not rows:
            return None
        test_table, auroc, dag_id, run_id = rows[0]
        predictions = None
        if PREDICTIONS.name in tables:
            found = self.query(
                f"SELECT {q('output_table')} FROM {d.table(PREDICTIONS.name, schema)} WHERE {q('dag_id')} = "
                f"{d.placeholder} AND {q('run_id')} = {d.placeholder} AND {q('model_name')} = {d.placeholder} "
                f"ORDER BY {q('output_table')} LIMIT 1",
                [dag_id, run_id, model_name],
            )
            predictions = found[0][0] if found else None
        return {
            "test_table": test_table,
            "auroc": None if auroc is None else float(auroc),
            "dag_id": dag_id,
            "run_id": run_id,
            "predictions": predictions,
        }

    def evaluation_history(
        self,
        model_name: str,
        test_table: str,
        column: str,
        *,
        before: datetime | str,
        other_than_run: str,
        limit: int,
        since: datetime | str | None = None,
        schema: str | None = None,
    ) -> list[Any]:
        """
        One column of the model's evaluations of ``test_table`` recorded before ``before`` by other runs,
        newest first (the days a monitor judged before this one).

        :param model_name: the model.
        :param test_table: the evaluated table, as recorded.
        :param column: the column of ``automl_eval_results`` to read (``auroc``, ``metrics_json``, ...).
        :param before: only evaluations whose ``session_time`` is earlier.
        :param other_than_run: leave out this run's own rows (a retried task's).
        :param limit: most values.
        :param since: only evaluations whose ``session_time`` is this or later (``None``: no bound).
        :param schema: schema of the tracking tables.
        """
        d, q, ph = self.dialect, self.dialect.quote, self.dialect.placeholder
        params = [model_name, test_table, other_than_run, timestamp_value(d, before)]
        after = ""
        if since is not None:
            after = f"AND {q('session_time')} >= {ph} "
            params.append(timestamp_value(d, since))
        rows = self.query(
            f"SELECT {q(column)} FROM {d.table(EVAL_RESULTS.name, schema)} WHERE {q('model_name')} = {ph} "
            f"AND {q('test_table')} = {ph} AND {q('run_id')} <> {ph} "
            f"AND {q('session_time')} < {ph} {after}ORDER BY {q('session_time')} DESC LIMIT {int(limit)}",
            params,
        )
        return [r[0] for r in rows]

    def _where(self, table: TableSchema, where: Sequence[tuple[str, str, Any]]) -> tuple[list[str], list[Any]] | None:
        """
        The conditions of ``where`` (``(column, operator, value)``; ``in``: a list of values) with their bound
        values; ``session_time`` compared as a time. None when an empty ``in`` list matches no row.
        """
        d = self.dialect
        clauses: list[str] = []
        params: list[Any] = []
        for column, op, value in where:
            if column not in table.column_names:
                raise ValueError(f"Unknown column {column!r} of table {table.name}")
            if op not in _OPERATORS:
                raise ValueError(f"Unsupported operator {op!r}")
            if op == "in":
                values = list(value)
                if not values:
                    return None
                clauses.append(f"{d.quote(column)} IN ({d.placeholders(len(values))})")
                params.extend(values)
            elif column == "session_time":
                clauses.append(f"{d.as_time(d.quote(column))} {op} {d.as_time(d.placeholder)}")
                params.append(timestamp_value(d, value))
            else:
                clauses.append(f"{d.quote(column)} {op} {d.placeholder}")
                params.append(value)
        return clauses, params

    def tracking_rows(
        self,
        table: TableSchema,
        columns: Sequence[str],
        where: Sequence[tuple[str, str, Any]] = (),
        *,
        schema: str | None = None,
        order_by: str = "session_time",
        descending: bool = False,
        limit: int = 1000,
    ) -> list[tuple[Any, ...]]:
        """
        Rows of a tracking table, as tuples of ``columns``.

        :param table: the tracking table (:mod:`..schemas`).
        :param columns: the columns to read, each one of the table's.
        :param where: conditions ``(column, operator, value)``, all of which a row meets; operators
            ``=``, ``<>``, ``>=``, ``<`` and ``in`` (a list of values); values are bound, ``session_time``
            compared as a time.
        :param schema: schema of the tracking tables.
        :param order_by: the column to sort on (``session_time`` as a time).
        :param descending: newest (largest) first.
        :param limit: most rows.
        """
        d = self.dialect
        for column in [*columns, order_by]:
            if column not in table.column_names:
                raise ValueError(f"Unknown column {column!r} of table {table.name}")
        found = self._where(table, where)
        if found is None:
            return []
        clauses, params = found
        sql = f"SELECT {', '.join(d.quote(c) for c in columns)} FROM {d.table(table.name, schema)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        key = d.as_time(d.quote(order_by)) if order_by == "session_time" else d.quote(order_by)
        sql += f" ORDER BY {key} {'DESC' if descending else 'ASC'} LIMIT {int(limit)}"
        return self.query(sql, params)

    def tracked_values(
        self,
        table: TableSchema,
        column: str,
        where: Sequence[tuple[str, str, Any]] = (),
        schema: str | None = None,
    ) -> list[Any]:
        """
        The distinct values of a tracking table's column (NULL left out), sorted.

        :param table: the tracking table (:mod:`..schemas`).
        :param column: one of its columns.
        :param where: conditions on the rows, as :meth:`tracking_rows` takes them.
        :param schema: schema of the tracking tables.
        """
        if column not in table.column_names:
            raise ValueError(f"Unknown column {column!r} of table {table.name}")
        found = self._where(table, where)
        if found is None:
            return []
        clauses, params = found
        d = self.dialect
        col = d.quote(column)
        condition = " AND ".join([f"{col} IS NOT NULL", *clauses])
        return [
            r[0]
            for r in self.query(
                f"SELECT DISTINCT {col} FROM {d.table(table.name, schema)} WHERE {condition} ORDER BY {col}", params
            )
        ]
