"""What the UI pages read: the tracking tables through a ``TrackingHook``, values always bound as parameters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.constants import DEFAULT_CONN_ID
from airflow_automl_provider.hooks.tracking import TableNotFoundError, TrackingHook
from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS, EXPERIMENTS, TableSchema
from airflow_automl_provider.sql import timestamp_value, validate_name

if TYPE_CHECKING:
    from collections.abc import Sequence

DEFAULT_THRESHOLD = 0.93
MAX_ROWS = 1000
_USER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")


class InvalidFilterError(ValueError):
    """A filter value from the query string that is not acceptable."""


@dataclass(frozen=True)
class Settings:
    """``[automl] ui_conn_id``, ``ui_schema`` and ``drift_auc_threshold``, read on every request."""

    conn_id: str = DEFAULT_CONN_ID
    schema: str | None = None
    threshold: float = DEFAULT_THRESHOLD

    @classmethod
    def from_config(cls) -> Settings:
        from airflow.configuration import conf

        schema = conf.get("automl", "ui_schema", fallback="") or None
        return cls(
            conn_id=conf.get("automl", "ui_conn_id", fallback="") or DEFAULT_CONN_ID,
            schema=validate_name(schema, "schema") if schema else None,
            threshold=float(conf.get("automl", "drift_auc_threshold", fallback="") or DEFAULT_THRESHOLD),
        )


def is_alerted(auroc: float | None, threshold: float, status: str | None, metrics: dict[str, Any]) -> bool:
    """
    Whether an evaluation counts as alerted on the monitoring chart.

    The rule: the AUROC is under ``threshold``, or the run's own decision (``status`` in ``metrics_json``) was
    ``drift``. A batch recorded as ``insufficient_data`` is never alerted on, as in the drift monitor.
    """
    if status == "insufficient_data" or metrics.get("status") == "insufficient_data":
        return False
    if metrics.get("status") == "drift":
        return True
    return auroc is not None and auroc < threshold


def as_datetime(value: Any) -> datetime | None:
    """A stored timestamp (ISO text on SQLite, naive UTC on MySQL, aware on PostgreSQL) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_date(text: str | None, what: str) -> date | None:
    """An optional ``YYYY-MM-DD`` filter; empty is no filter."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidFilterError(f"Invalid {what} {text!r}: expected a date YYYY-MM-DD.") from None


def parse_user(text: str | None) -> str | None:
    if not text:
        return None
    if not _USER_RE.match(text):
        raise InvalidFilterError("Invalid user: at most 256 printable characters.")
    return text


def parse_threshold(text: str | None, default: float) -> float:
    if not text:
        return default
    value = as_float(text)
    if value is None or not 0.0 <= value <= 1.0:
        raise InvalidFilterError(f"Invalid threshold {text!r}: expected a number between 0 and 1.")
    return value


class TrackingReader:
    """Read the tracking tables for the pages; a missing table reads as ``None`` (not an error)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hook = TrackingHook(conn_id=settings.conn_id)
        self._columns: dict[str, list[str] | None] = {}

    def columns(self, table: TableSchema) -> list[str] | None:
        """The table's columns this package knows, or ``None`` when the table is missing."""
        if table.name not in self._columns:
            try:
                existing = set(self.hook.columns(table.name, self.settings.schema))
            except TableNotFoundError:
                self._columns[table.name] = None
            else:
                self._columns[table.name] = [c for c in table.column_names if c in existing]
        return self._columns[table.name]

    def _select(
        self,
        table: TableSchema,
        where: Sequence[tuple[str, str, Any]] = (),
        order_desc: bool = False,
        limit: int = MAX_ROWS,
    ) -> list[dict[str, Any]] | None:
        """Rows as dicts; ``where`` holds ``(column, operator, value)`` with the value bound."""
        cols = self.columns(table)
        if cols is None:
            return None
        d = self.hook.dialect
        clauses, params = [], []
        for column, op, value in where:
            if op not in ("=", ">=", "<"):
                raise ValueError(f"Unsupported operator {op!r}")
            if column == "session_time":
                clauses.append(f"{d.as_time(d.quote(column))} {op} {d.as_time(d.placeholder)}")
                params.append(timestamp_value(d, value))
            else:
                clauses.append(f"{d.quote(column)} {op} {d.placeholder}")
                params.append(value)
        sql = f"SELECT {', '.join(d.quote(c) for c in cols)} FROM {d.table(table.name, self.settings.schema)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {d.as_time(d.quote('session_time'))} {'DESC' if order_desc else 'ASC'}"
        sql += f" LIMIT {int(limit)}"
        rows = self.hook.query(sql, params)
        known = set(cols)
        return [
            {**{c: None for c in table.column_names if c not in known}, **dict(zip(cols, r, strict=True))} for r in rows
        ]

    def distinct(self, table: TableSchema, column: str) -> list[str]:
        cols = self.columns(table)
        if cols is None or column not in cols:
            return []
        d = self.hook.dialect
        rows = self.hook.query(
            f"SELECT DISTINCT {d.quote(column)} FROM {d.table(table.name, self.settings.schema)} "
            f"WHERE {d.quote(column)} IS NOT NULL ORDER BY {d.quote(column)}"
        )
        return [str(r[0]) for r in rows]

    def experiments(
        self,
        model: str | None = None,
        user: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        limit: int = MAX_ROWS,
    ) -> list[dict[str, Any]] | None:
        """``automl_experiments`` rows, newest first; ``date_to`` is inclusive."""
        where: list[tuple[str, str, Any]] = []
        if model:
            where.append(("model_name", "=", model))
        if user:
            where.append(("user_id", "=", user))
        if date_from:
            where.append(("session_time", ">=", datetime(date_from.year, date_from.month, date_from.day, tzinfo=UTC)))
        if date_to:
            end = datetime(date_to.year, date_to.month, date_to.day, tzinfo=UTC) + timedelta(days=1)
            where.append(("session_time", "<", end))
        rows = self._select(EXPERIMENTS, where, order_desc=True, limit=limit)
        for row in rows or []:
            row["session_dt"] = as_datetime(row["session_time"])
            row["score_val"] = as_float(row["score_val"])
        return rows

    def evaluations(self, model: str | None = None, limit: int = 5 * MAX_ROWS) -> list[dict[str, Any]] | None:
        """``automl_eval_results`` rows, oldest first, each with ``alerted`` decided by :func:`is_alerted`."""
        rows = self._select(EVAL_RESULTS, [("model_name", "=", model)] if model else [], limit=limit)
        for row in rows or []:
            try:
                metrics = json.loads(row["metrics_json"]) if row["metrics_json"] else {}
            except ValueError:
                metrics = {}
            row["metrics"] = metrics if isinstance(metrics, dict) else {}
            row["session_dt"] = as_datetime(row["session_time"])
            row["auroc"] = as_float(row["auroc"])
            row["alerted"] = is_alerted(row["auroc"], self.settings.threshold, row["status"], row["metrics"])
        return rows

    def drift(self, model: str | None = None, limit: int = 20 * MAX_ROWS) -> list[dict[str, Any]] | None:
        """``automl_drift_results`` rows, oldest first."""
        rows = self._select(DRIFT_RESULTS, [("model_name", "=", model)] if model else [], limit=limit)
        for row in rows or []:
            row["session_dt"] = as_datetime(row["session_time"])
            for key in ("value", "threshold", "psi", "p_value"):
                row[key] = as_float(row[key])
            row["drifted"] = bool(row["drifted"]) if row["drifted"] is not None else False
        return rows
