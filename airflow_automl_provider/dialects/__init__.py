"""
Database dialects, one class per database, as common-sql keeps its own: what is special about
SQLite (:mod:`.sqlite`), PostgreSQL (:mod:`.postgres`) and MySQL/MariaDB (:mod:`.mysql`), and the
generic ANSI :class:`.base.Dialect` for every other ``common-sql`` connection.

:func:`dialect_for` chooses one once from the connection; code above it never asks which database
it talks to.
"""

from __future__ import annotations

from typing import Any

from airflow_automl_provider.dialects.base import Dialect, RangesUnavailable
from airflow_automl_provider.dialects.mysql import MySqlDialect
from airflow_automl_provider.dialects.postgres import PostgresDialect
from airflow_automl_provider.dialects.sqlite import SqliteDialect

__all__ = ["Dialect", "MySqlDialect", "PostgresDialect", "RangesUnavailable", "SqliteDialect", "dialect_for"]

#: The dialect class of each database, by SQLAlchemy's name for it (or the connection type).
DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SqliteDialect,
    "postgresql": PostgresDialect,
    "mysql": MySqlDialect,
}
_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}


def database_name(name: str) -> str:
    """SQLAlchemy's name for a database from a connection type or a dialect name (``postgres``: ``postgresql``)."""
    return _ALIASES.get(name, name)


def dialect_class(name: str) -> type[Dialect]:
    """The dialect class of a database (:class:`.base.Dialect` for any without one of its own)."""
    return DIALECTS.get(database_name(name), Dialect)


def dialect_for(hook: Any) -> Dialect:
    """
    The dialect of a common-sql ``DbApiHook``'s connection: its database's own, or the generic one for
    a database without one, or for a connection that ``[automl] generic_dialect_conn_ids`` names.
    """
    from airflow_automl_provider.config import uses_generic_dialect

    conn_type = getattr(getattr(hook, "connection", None), "conn_type", None) or ""
    name = database_name(conn_type)
    if name not in DIALECTS:
        name = database_name(hook.dialect_name)
    cls = Dialect if uses_generic_dialect(hook.get_conn_id()) else dialect_class(name)
    return cls(name=name, placeholder=hook.placeholder, hook=hook)
