"""dialect_for: one dialect per connection, chosen once from its type; the generic one where asked."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_automl_provider.dialects import Dialect, MySqlDialect, PostgresDialect, SqliteDialect, dialect_for

pytestmark = pytest.mark.unit


class _Hook:
    def __init__(self, conn_id: str, conn_type: str, dialect_name: str, placeholder: str = "%s"):
        self.connection = SimpleNamespace(conn_type=conn_type)
        self.dialect_name, self.placeholder, self._conn_id = dialect_name, placeholder, conn_id

    def get_conn_id(self) -> str:
        return self._conn_id


@pytest.mark.parametrize(
    ("conn_type", "dialect_name", "cls", "name"),
    [
        ("sqlite", "sqlite", SqliteDialect, "sqlite"),
        ("postgres", "postgresql", PostgresDialect, "postgresql"),
        ("mysql", "mysql", MySqlDialect, "mysql"),
        ("mariadb", "mysql", MySqlDialect, "mysql"),
        ("trino", "trino", Dialect, "trino"),
        ("generic", "mssql", Dialect, "mssql"),  # a type without a dialect: SQLAlchemy's name for it
    ],
)
def test_each_database_gets_its_own_dialect_or_the_generic_one(conn_type, dialect_name, cls, name):
    d = dialect_for(_Hook("automl_x", conn_type, dialect_name))
    assert type(d) is cls and d.name == name and d.placeholder == "%s"


def test_named_connections_are_forced_to_the_generic_dialect(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOML__GENERIC_DIALECT_CONN_IDS", "automl_generic_*, other")
    forced = dialect_for(_Hook("automl_generic_pg", "postgres", "postgresql"))
    assert type(forced) is Dialect and forced.name == "postgresql"
    assert type(dialect_for(_Hook("automl_pg", "postgres", "postgresql"))) is PostgresDialect
