"""The PostgreSQL dialect: its SQL, and COPY's CSV (the database-backed paths run in tests/integration)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from airflow_automl_provider.dialects import postgres as pg
from airflow_automl_provider.sql import TableRef

pytestmark = pytest.mark.unit

D = pg.PostgresDialect("postgresql", "%s")


def test_sql_text():
    assert D.type("timestamp") == "TIMESTAMP WITH TIME ZONE" and D.quote("x") == '"x"'
    assert D.text_as_time('"t"').startswith("""(CASE WHEN "t" ~ '^""")
    aware = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert D.bind_timestamp(aware) is aware
    assert D.transactional_ddl and not D.has_rowids and D.stream_chunk_rows == 1 << 18


def test_copy_csv_keeps_null_apart_from_the_empty_string():
    frame = pd.DataFrame({"s": ["", None, 'q"'], "x": [1.5, None, 1 / 3]})
    assert pg.frame_csv(frame).decode().splitlines() == ['"",1.5', ",", f'"q""",{1 / 3!r}']
    assert pg.copy_line([None, "", True, 2, dt.date(2026, 1, 2)]) == ',"",true,2,"2026-01-02"\n'


class _Cursor:
    def __init__(self):
        self.sql = []

    def execute(self, sql, params=None):
        self.sql.append(sql)


def test_the_swap_takes_the_tables_advisory_lock_first():
    cur = _Cursor()
    D.swap_in(cur, TableRef("s", "t__new_00000000"), TableRef("s", "t"))
    assert cur.sql == [
        "SELECT pg_advisory_xact_lock(hashtext(%s))",
        'DROP TABLE IF EXISTS "s"."t"',
        'ALTER TABLE "s"."t__new_00000000" RENAME TO "t"',
    ]
