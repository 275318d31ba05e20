"""The one place where SQL identifiers are checked; what differs between databases is in :mod:`.dialects`.

Values never go through here: they are always bound as parameters (``Dialect.placeholder``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_automl_provider.dialects.base import Dialect

# Table and schema names: letters, digits and underscores only. Anything else (quotes, semicolons,
# spaces, dots inside a part) is refused before it reaches a database.
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Column names are quoted, so hyphens and inner spaces are allowed (as in UCI files); quotes,
# semicolons and control characters are not.
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\- ]{0,62}$")


class InvalidIdentifierError(ValueError):
    """A table, schema or column name that is not safe to use in SQL."""


def validate_name(name: Any, what: str = "table") -> str:
    """Return ``name`` if it is a safe table or schema name, else raise :class:`InvalidIdentifierError`."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidIdentifierError(
            f"Invalid {what} name {name!r}: expected letters, digits and underscores only, "
            "starting with a letter or underscore, at most 63 characters."
        )
    return name


def validate_column(name: Any) -> str:
    """Return ``name`` if it is a safe column name, else raise :class:`InvalidIdentifierError`."""
    if not isinstance(name, str) or not _COLUMN_RE.match(name) or name != name.strip():
        raise InvalidIdentifierError(
            f"Invalid column name {name!r}: expected letters, digits, underscores, hyphens or inner "
            "spaces, starting with a letter or underscore, at most 63 characters."
        )
    return name


def split_table_name(table: str, schema: str | None = None) -> tuple[str | None, str]:
    """
    Split ``schema.table`` (or ``table`` plus a separate ``schema``) into validated parts.

    An empty ``schema`` means the connection's default schema.
    """
    if not isinstance(table, str):
        raise InvalidIdentifierError(f"Invalid table name {table!r}: expected a string.")
    parts = table.split(".")
    if len(parts) == 2:
        if schema and schema != parts[0]:
            raise InvalidIdentifierError(
                f"Table {table!r} names schema {parts[0]!r} but schema {schema!r} was also given."
            )
        schema, table = parts
    elif len(parts) != 1:
        raise InvalidIdentifierError(f"Invalid table name {table!r}: expected 'table' or 'schema.table'.")
    validate_name(table, "table")
    if schema:
        from airflow_automl_provider.config import check_schema

        check_schema(validate_name(schema, "schema"))
    return (schema or None), table


@dataclass(frozen=True)
class TableRef:
    """
    A table named once and validated once: ``schema`` (None: the connection's default) and ``name``.

    Build it with :meth:`parse` from what users give (``table`` or ``schema.table``, and a separate
    ``schema``); the hooks and dialects then pass it on as one value and quote it with
    :meth:`..dialects.base.Dialect.table`, never splitting it again. Constructing one directly validates it
    too, so no unvalidated name travels as a ``TableRef``.

    :param schema: the schema (a MySQL database, an attached SQLite database); empty or None: the default.
    :param name: the table's name.
    """

    schema: str | None
    name: str

    def __post_init__(self) -> None:
        validate_name(self.name, "table")
        if self.schema:
            from airflow_automl_provider.config import check_schema

            check_schema(validate_name(self.schema, "schema"))
        else:  # "" and None both mean the connection's default schema
            object.__setattr__(self, "schema", None)

    @classmethod
    def parse(cls, table: str | TableRef, schema: str | None = None) -> TableRef:
        """
        The reference of ``table`` (``table`` or ``schema.table``) in ``schema``, with the rules of
        :func:`split_table_name`; a ``TableRef`` is returned as it is (a different ``schema`` is refused).

        :param table: the table, ``table`` or ``schema.table``, or a ``TableRef``.
        :param schema: schema of ``table`` when it is not qualified; empty: the connection's default.
        """
        if isinstance(table, TableRef):
            if schema and table.schema and schema != table.schema:
                raise InvalidIdentifierError(
                    f"Table {str(table)!r} names schema {table.schema!r} but schema {schema!r} was also given."
                )
            return table if table.schema or not schema else cls(schema, table.name)
        return cls(*split_table_name(table, schema))

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def sibling(self, name: str) -> TableRef:
        """Another table in the same schema (a tracking table beside a prediction table, say)."""
        return TableRef(self.schema, name)


def SqlDialect(name: str, placeholder: str = "?") -> Dialect:  # noqa: N802 (the name callers import)
    """The dialect of the database ``name`` (``sqlite``, ``postgresql``, ``mysql``; others: generic), for pure SQL."""
    from airflow_automl_provider.dialects import dialect_class

    return dialect_class(name)(name=name, placeholder=placeholder)


def sqlite_affinity(declared_type: str | None) -> str:
    """SQLite's affinity of a declared column type: see :func:`.dialects.sqlite.sqlite_affinity`."""
    from airflow_automl_provider.dialects.sqlite import sqlite_affinity

    return sqlite_affinity(declared_type)


def timestamp_value(dialect: Dialect, value: Any) -> Any:
    """A timestamp (datetime or ISO text) as each database binds it best; stored in UTC."""
    from datetime import datetime

    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"Invalid timestamp {value!r}: expected a datetime or an ISO 8601 string.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return dialect.bind_timestamp(value.astimezone(UTC))
