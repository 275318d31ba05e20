"""Faults while writing: a killed task or a restarted database leaves the old output table, and the retry works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from airflow_automl_provider.hooks.tracking import TrackingHook
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator

pytestmark = pytest.mark.integration

# Runs the real predict operator in a child process and says when each chunk has been predicted,
# so the test can strike in the middle of writing.
CHILD = r"""
import sys
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator as Op

real = Op._predict_chunk
done = [0]

def traced(*args, **kwargs):
    out = real(*args, **kwargs)
    done[0] += 1
    print(f"CHUNK {done[0]}", flush=True)
    return out

Op._predict_chunk = staticmethod(traced)
conn_id, schema, model, store = sys.argv[1:5]
Op(task_id="predict", conn_id=conn_id, model_name=model, input_table="fault_in", output_table="fault_out",
   input_schema=schema or None, output_schema=schema or None, chunk_rows=1000, model_store=store).execute(context={})
print("DONE", flush=True)
"""


def _prepare(db, adult_frames, rows: int) -> tuple[TrackingHook, str, str | None]:
    conn_id, schema = db
    _, test = adult_frames
    big = pd.concat([test] * (rows // len(test) + 1), ignore_index=True).head(rows)
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("fault_in", big, schema)
    hook.replace_with_frame("fault_out", pd.DataFrame({"old": [1, 2, 3]}), schema)
    return hook, conn_id, schema


def _start_child(conn_id, schema, model, store) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, conn_id, schema or "", model, store],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )


def _wait_for_chunk(child: subprocess.Popen, n: int) -> None:
    for line in child.stdout:
        if line.strip() == f"CHUNK {n}":
            return
    raise AssertionError(f"the child ended before chunk {n} (exit {child.wait()})")


def _retry(conn_id, schema, model, store) -> dict:
    return AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name=model,
        input_table="fault_in",
        output_table="fault_out",
        input_schema=schema,
        output_schema=schema,
        model_store=store,
    ).execute(context={})


@pytest.mark.dialect_specific("sqlite")  # Python's sqlite3 commits DDL at once unless the dialect begins
def test_sigkill_mid_write_leaves_the_old_table_and_the_retry_succeeds(db, adult_frames, adult_model, model_store):
    hook, conn_id, schema = _prepare(db, adult_frames, 40_000)
    before = hook.table_names(schema)
    child = _start_child(conn_id, schema, adult_model["model_name"], model_store)
    _wait_for_chunk(child, 3)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert hook.read_frame("fault_out", schema)["old"].tolist() == [1, 2, 3]
    left = hook.table_names(schema) - before
    # SQLite and PostgreSQL roll the whole write back; MySQL had committed its staging table.
    assert left == set() or (hook.dialect.name == "mysql" and all("__new_" in t for t in left))

    assert _retry(conn_id, schema, adult_model["model_name"], model_store)["rows"] == 40_000
    assert len(hook.read_frame("fault_out", schema, ["predicted_proba"])) == 40_000
    assert hook.table_names(schema) == before  # the retry also removed what the killed write left


def test_postgres_restart_mid_write_fails_cleanly_and_the_retry_succeeds(
    postgres_schema, adult_frames, adult_model, model_store
):
    hook, conn_id, schema = _prepare(("automl_pg", postgres_schema), adult_frames, 100_000)
    before = hook.table_names(schema)
    child = _start_child(conn_id, schema, adult_model["model_name"], model_store)
    _wait_for_chunk(child, 3)
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    output = child.stdout.read()
    assert child.wait() != 0, output[-2000:]
    assert "DONE" not in output
    assert "server closed the connection" in output or "terminating connection" in output, output[-2000:]
    for _ in range(60):  # until the server takes connections again
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
            break
        time.sleep(0.5)
    assert hook.read_frame("fault_out", schema)["old"].tolist() == [1, 2, 3]
    assert hook.table_names(schema) == before
    assert _retry(conn_id, schema, adult_model["model_name"], model_store)["rows"] == 100_000
