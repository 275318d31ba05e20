"""The one place where SQL identifiers are checked and quoted, and where dialects differ.

Values never go through here: they are always bound as parameters (``SqlDialect.placeholder``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

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


# Column types are written once, as abstract names; each dialect maps them to its own.
_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "text": "TEXT",
        "key": "TEXT",
        "integer": "INTEGER",
        "float": "REAL",
        "boolean": "INTEGER",
        "timestamp": "TEXT",
    },
    "postgresql": {
        "text": "TEXT",
        "key": "VARCHAR(250)",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
    },
    "mysql": {
        "text": "TEXT",
        "key": "VARCHAR(250)",
        "integer": "BIGINT",
        "float": "DOUBLE",
        "boolean": "BOOLEAN",
        "timestamp": "DATETIME(6)",
    },
}
_QUOTES = {"sqlite": '"', "postgresql": '"', "mysql": "`"}
_DIALECT_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}


@dataclass(frozen=True)
class SqlDialect:
    """What differs between databases: quoting, placeholders, types, casts."""

    name: str
    placeholder: str = "?"

    @classmethod
    def for_hook(cls, hook: Any) -> SqlDialect:
        """Dialect of a common-sql ``DbApiHook``."""
        conn_type = getattr(getattr(hook, "connection", None), "conn_type", None) or ""
        name = _DIALECT_ALIASES.get(conn_type, conn_type)
        if name not in _TYPES:
            name = _DIALECT_ALIASES.get(hook.dialect_name, hook.dialect_name)
        if name not in _TYPES:
            raise ValueError(
                f"Unsupported database {name!r} for connection {hook.get_conn_id()!r}: "
                f"expected one of {sorted(_TYPES)}."
            )
        return cls(name=name, placeholder=hook.placeholder)

    @property
    def quote_char(self) -> str:
        return _QUOTES[self.name]

    def quote(self, name: str) -> str:
        """Quote one validated column name."""
        validate_column(name)
        return f"{self.quote_char}{name}{self.quote_char}"

    def table(self, table: str, schema: str | None = None) -> str:
        """Validated, quoted and optionally schema-qualified table name."""
        schema, table = split_table_name(table, schema)
        q = self.quote_char
        return f"{q}{schema}{q}.{q}{table}{q}" if schema else f"{q}{table}{q}"

    def type(self, abstract: str) -> str:
        return _TYPES[self.name][abstract]

    def as_text(self, expr: str) -> str:
        """
        An SQL expression as text, to compare labels of any type with a string value.

        On MySQL as bytes: its default collations ignore case and trailing spaces, and labels
        must match exactly (``' >50K'`` is not ``'>50k'``).
        """
        return f"CAST({expr} AS BINARY)" if self.name == "mysql" else f"CAST({expr} AS VARCHAR)"

    @property
    def text_placeholder(self) -> str:
        """A bound text value comparable with :meth:`as_text`."""
        return f"CAST({self.placeholder} AS BINARY)" if self.name == "mysql" else self.placeholder

    def as_float(self, expr: str) -> str:
        if self.name == "mysql":
            return f"CAST({expr} AS DOUBLE)"
        return f"CAST({expr} AS {self.type('float')})"

    def as_time(self, expr: str) -> str:
        """A timestamp expression comparable across storage formats (SQLite keeps text in several forms)."""
        return f"datetime({expr})" if self.name == "sqlite" else expr

    def placeholders(self, n: int) -> str:
        return ", ".join([self.placeholder] * n)

    def create_table_sql(
        self,
        table: str,
        columns: Sequence[tuple[str, str]],
        schema: str | None = None,
        *,
        if_not_exists: bool,
        primary_key: str | None = None,
    ) -> str:
        cols = ", ".join(
            f"{self.quote(name)} {self.type(kind)}{' PRIMARY KEY' if name == primary_key else ''}"
            for name, kind in columns
        )
        exists = "IF NOT EXISTS " if if_not_exists else ""
        return f"CREATE TABLE {exists}{self.table(table, schema)} ({cols})"

    def rename_table_sql(self, old: str, new: str, schema: str | None = None) -> str:
        validate_name(new)
        if self.name == "mysql":
            return f"RENAME TABLE {self.table(old, schema)} TO {self.table(new, schema)}"
        return f"ALTER TABLE {self.table(old, schema)} RENAME TO {self.quote(new)}"


def sqlite_affinity(declared_type: str | None) -> str:
    """
    SQLite's affinity of a column declared with ``declared_type``: ``integer``, ``text``, ``blob``,
    ``real`` or ``numeric``, by SQLite's own rules in their order (https://sqlite.org/datatype3.html).
    """
    t = (declared_type or "").upper()
    if "INT" in t:
        return "integer"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "text"
    if "BLOB" in t or not t:
        return "blob"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "real"
    return "numeric"


def timestamp_value(dialect: SqlDialect, value: Any) -> Any:
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
    value = value.astimezone(UTC)
    if dialect.name == "sqlite":
        return value.isoformat()
    if dialect.name == "mysql":
        return value.replace(tzinfo=None)
    return value
