"""The MySQL/MariaDB dialect: its SQL and its swap (the database-backed paths run in tests/integration)."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_automl_provider.dialects import mysql as my
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.unit

D = my.MySqlDialect("mysql", "%s")


def test_sql_text():
    assert D.table("t", "s") == "`s`.`t`" and D.type("timestamp") == "DATETIME(6)"
    assert D.as_text("`y`") == "CAST(`y` AS BINARY)" and D.text_placeholder == "CAST(%s AS BINARY)"
    assert D.as_float("`p`") == "CAST(`p` AS DOUBLE)" and D.text_as_time("`t`") == "CAST(`t` AS DATETIME(6))"
    assert D.rename_table_sql(TableRef("s", "a"), TableRef("s", "b")) == "RENAME TABLE `s`.`a` TO `s`.`b`"
    assert D.bind_timestamp(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) == dt.datetime(2026, 1, 2)
    assert not D.transactional_ddl and D.auroc_grouped_only


class _Cursor:
    def __init__(self, rows):
        self.rows, self.sql = rows, []

    def execute(self, sql, params=None):
        self.sql.append(sql)

    def fetchone(self):
        return self.rows.pop(0)

    def fetchall(self):
        return self.rows


def test_the_swap_renames_both_tables_in_one_statement_under_a_lock():
    cur = _Cursor([(1,)])
    my.swap(cur, D, TableRef("s", "t__new_00000000"), TableRef("s", "t"))
    assert cur.sql[0] == "SELECT GET_LOCK(%s, 600)" and cur.sql[-1] == "SELECT RELEASE_LOCK(%s)"
    assert (
        cur.sql[2].startswith("RENAME TABLE `s`.`t` TO `s`.`t__old_")
        and "`s`.`t__new_00000000` TO `s`.`t`" in cur.sql[2]
    )
    assert cur.sql[3].startswith("DROP TABLE `s`.`t__old_")


def test_only_this_tables_staging_leftovers_are_dropped():
    cur = _Cursor([("t__new_0123abcd",), ("t__new_other",)])
    my.drop_stale_staging(cur, D, TableRef(None, "t"))
    assert cur.sql[1:] == ["DROP TABLE IF EXISTS `t__new_0123abcd`"]
