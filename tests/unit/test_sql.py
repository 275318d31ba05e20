from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_automl_provider.sql import (
    InvalidIdentifierError,
    SqlDialect,
    TableRef,
    split_table_name,
    sqlite_affinity,
    timestamp_value,
    validate_column,
)

pytestmark = pytest.mark.unit

SQLITE, PG, MYSQL = SqlDialect("sqlite", "?"), SqlDialect("postgresql", "%s"), SqlDialect("mysql", "%s")


@pytest.mark.parametrize(
    "bad",
    ['t"; DROP TABLE x; --', "a b", "t;", "1abc", "", "a" * 64, "x'y", "tbl`", "a.b.c", "..", "é"],
)
def test_bad_table_names_are_refused_with_the_name(bad):
    with pytest.raises(InvalidIdentifierError) as err:
        SQLITE.table(bad)
    assert repr(bad.split(".")[0]) in str(err.value) or repr(bad) in str(err.value)


def test_qualified_names_are_split_validated_and_quoted():
    assert split_table_name("s.t") == ("s", "t")
    assert split_table_name("t", "s") == ("s", "t")
    assert split_table_name("t", "") == (None, "t")
    assert PG.table("s.t") == '"s"."t"'
    assert MYSQL.table("t", "s") == "`s`.`t`"
    with pytest.raises(InvalidIdentifierError, match="also given"):
        split_table_name("a.t", "b")


@pytest.mark.parametrize("good", ["education-num", "hours per week", "class", "_x1"])
def test_columns_allow_hyphens_and_inner_spaces(good):
    assert validate_column(good) == good
    assert PG.quote(good) == f'"{good}"'


@pytest.mark.parametrize("bad", ['a"b', "a;b", " lead", "trail ", "a\nb", "a`b"])
def test_bad_column_names_are_refused(bad):
    with pytest.raises(InvalidIdentifierError, match="Invalid column name"):
        validate_column(bad)


def test_create_table_uses_each_dialects_types():
    cols = [("k", "key"), ("v", "float"), ("t", "timestamp")]
    assert SQLITE.create_table_sql(TableRef(None, "x"), cols, if_not_exists=True) == (
        'CREATE TABLE IF NOT EXISTS "x" ("k" TEXT, "v" REAL, "t" TEXT)'
    )
    assert PG.create_table_sql(TableRef("s", "x"), cols, if_not_exists=False) == (
        'CREATE TABLE "s"."x" ("k" VARCHAR(250), "v" DOUBLE PRECISION, "t" TIMESTAMP WITH TIME ZONE)'
    )
    assert MYSQL.rename_table_sql(TableRef("s", "a"), TableRef("s", "b")) == "RENAME TABLE `s`.`a` TO `s`.`b`"
    assert PG.rename_table_sql(TableRef("s", "a"), TableRef("s", "b")) == 'ALTER TABLE "s"."a" RENAME TO "b"'


def test_timestamps_are_stored_in_utc():
    local = datetime(2026, 5, 18, 9, 19, 18, tzinfo=timezone(timedelta(hours=2)))
    assert timestamp_value(SQLITE, local) == "2026-05-18T07:19:18+00:00"
    assert timestamp_value(MYSQL, "2026-05-18T07:19:18") == datetime(2026, 5, 18, 7, 19, 18)
    assert timestamp_value(PG, None) is None
    with pytest.raises(ValueError, match="ISO 8601"):
        timestamp_value(PG, 12)


@pytest.mark.parametrize(
    ("declared", "affinity"),
    [
        ("INTEGER", "integer"),
        ("BIGINT", "integer"),
        ("POINT", "integer"),  # "INT" wins wherever it is, as in SQLite
        ("VARCHAR(20)", "text"),
        ("nchar", "text"),
        ("TEXT", "text"),
        ("CLOB", "text"),
        ("BLOB", "blob"),
        ("", "blob"),
        (None, "blob"),
        ("REAL", "real"),
        ("double precision", "real"),
        ("FLOATING POINT", "integer"),
        ("NUMERIC", "numeric"),
        ("DECIMAL(10,5)", "numeric"),
        ("DATETIME", "numeric"),
    ],
)
def test_sqlite_affinity_follows_sqlites_rules(declared, affinity):
    assert sqlite_affinity(declared) == affinity
