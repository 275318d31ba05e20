"""
Prediction table to table: ``AutoGluonPredictOperator`` against bare ``predict_proba`` in memory.

One AutoGluon model is trained once with ``AutoGluonTrainOperator`` on the 32,561 rows of UCI Adult
``adult.data`` into a temporary model store: by default (``--model gbm``)
``hyperparameters={"GBM": {}}``, LightGBM only, for speed; with ``--model experiment`` the
experiment DAG's defaults (``presets="medium_quality"``, ``time_limit=180``: every model type
AutoGluon fits here and their weighted ensemble, the kind of model the issue's reference figure
was measured with). The input tables are the Adult rows repeated to ``--sizes`` rows with a ``row_id`` column
(0, 1, ...; row ``i`` is Adult row ``i % 32561``), written to SQLite with ``executemany`` and to
PostgreSQL (a schema of its own, dropped at the end) with COPY. Ways, each in a fresh child process
(time and peak memory of the work only; imports and connecting excluded):

* ``memory``: ``predictor.predict_proba`` on the same rows already in a DataFrame (model loaded
  before the clock starts; its load time is reported apart);
* ``operator``: ``AutoGluonPredictOperator(...).execute(context={})`` table to table as the
  experiment DAG runs it (all input columns kept, default ``chunk_rows``), model load included.
  Its paths: prediction in a worker thread overlapping the reads and writes; PostgreSQL reads by
  ``COPY ... TO STDOUT`` parsed by Arrow and writes by ``COPY ... FROM STDIN`` written by Arrow;
  SQLite reads only the features (with ``rowid``) and copies the kept columns itself.

Run it with the same OpenMP settings for every way (``OMP_WAIT_POLICY`` is recorded in the JSON):
LightGBM predicts with OpenMP threads, whose spinning slows whatever else runs.

Overhead = operator seconds / memory seconds - 1: what reading and writing add to the model's own
time. After each operator run the worker reads ``row_id, predicted_proba`` back and compares them
with the model's in-memory predictions of the same Adult rows; the memory worker checks that its
predictions of the repeated rows equal those of the 32,561 distinct rows (rows are predicted
independently). The operator's progress log lines are kept in the JSON.

    .venv/bin/python benchmarks/predict_tables.py [--sizes 1000000 10000000] [--repeats 3] [--big-repeats 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

SCRIPT = Path(__file__).resolve()
RESULTS = c.RESULTS / "predict_tables.json"
MODEL = "adult_gbm"


def adult_rows(n: int):
    """Adult rows repeated to ``n`` rows, with ``row_id`` first."""
    import numpy as np
    import pandas as pd

    from automl_demo import load_uci_adult

    base = load_uci_adult(str(c.ADULT / "adult.data"))
    idx = np.arange(n) % len(base)
    df = base.iloc[idx].reset_index(drop=True)
    df.insert(0, "row_id", np.arange(n, dtype=np.int64))
    return base, pd.DataFrame(df)


def sql_types(df, db: str) -> dict[str, str]:
    out = {}
    for name, dtype in df.dtypes.items():
        if dtype.kind in "iu":
            out[name] = "INTEGER" if db == "sqlite" else "bigint"
        elif dtype.kind == "f":
            out[name] = "REAL" if db == "sqlite" else "double precision"
        else:
            out[name] = "TEXT" if db == "sqlite" else "text"
    return out


def table_name(n: int) -> str:
    return f"adult_{n // 1_000_000}m" if n % 1_000_000 == 0 else f"adult_{n}"


# -- workers ----------------------------------------------------------------------------------------
def worker(way: str, db: str, n: int, target: str, store: str, chunk_rows: int) -> None:
    import numpy as np

    from airflow_automl_provider.hooks.model_store import ModelStoreHook

    if way == "memory":
        import autogluon.tabular  # noqa: F401  (imported before the clock: the load time is the model's own)

        base, df = adult_rows(n)
        started = time.perf_counter()
        predictor, manifest = ModelStoreHook(base_uri=store).load(MODEL, None)
        load_seconds = time.perf_counter() - started
        x = df[manifest["features"]]
        del df
        out = c.measure(lambda: predictor.predict_proba(x))
        proba = out.pop("result")[predictor.positive_class].to_numpy()
        expected = predictor.predict_proba(base[manifest["features"]])[predictor.positive_class].to_numpy()
        out["result"] = {
            "rows": n,
            "model_load_seconds": load_seconds,
            "max_abs_diff_vs_distinct_rows": float(np.max(np.abs(proba - expected[np.arange(n) % len(base)]))),
        }
        c.emit(out)
        return

    import autogluon.tabular  # noqa: F401  (imported before the clock, as in a warm worker)
    import pandas  # noqa: F401

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator

    conn_id = f"bench_{db}"
    c.set_conn(conn_id, c.sqlite_uri(Path(target)) if db == "sqlite" else c.PG_DSN)
    hook = TrackingHook(conn_id=conn_id)
    hook.dialect  # noqa: B018  (resolves the connection before the timed work)
    schema = None if db == "sqlite" else target
    op = AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name=MODEL,
        input_table=table_name(n),
        input_schema=schema,
        output_table=table_name(n) + "_predicted",
        output_schema=schema,
        model_store=store,
        chunk_rows=chunk_rows,
    )
    out = c.measure(lambda: op.execute(context={}))
    result = out.pop("result")
    out["result"] = {"rows": result["rows"], "operator_seconds": result["seconds"]}
    out["result"].update(check_predictions(hook, schema, n, store))
    c.emit(out)


def check_predictions(hook, schema: str | None, n: int, store: str) -> dict:
    """Max |stored - in-memory| of predicted_proba over every row read back from the output table."""
    import contextlib

    import numpy as np

    from airflow_automl_provider.hooks.model_store import ModelStoreHook
    from automl_demo import load_uci_adult

    predictor, manifest = ModelStoreHook(base_uri=store).load(MODEL, None)
    base = load_uci_adult(str(c.ADULT / "adult.data"))
    expected = predictor.predict_proba(base[manifest["features"]])[predictor.positive_class].to_numpy()
    worst, seen, ids = 0.0, 0, 0
    conn = hook.db_hook.get_conn()
    try:
        with contextlib.closing(
            hook.iter_chunks(conn, table_name(n) + "_predicted", schema, ["row_id", "predicted_proba"], 500_000)
        ) as chunks:
            for chunk in chunks:
                rid = chunk["row_id"].to_numpy()
                got = chunk["predicted_proba"].to_numpy(dtype=float)
                worst = max(worst, float(np.max(np.abs(got - expected[rid % len(base)]))))
                seen += len(chunk)
                ids += int(rid.sum() % (1 << 62))
    finally:
        conn.close()
    return {
        "rows_read_back": seen,
        "row_ids_complete": seen == n and ids == (n * (n - 1) // 2) % (1 << 62),
        "max_abs_diff_vs_memory": worst,
    }


# -- the parent -------------------------------------------------------------------------------------
# The models --model trains: the fast LightGBM-only one, or the experiment DAG's own defaults
# (dags/automl_experiment.py: presets medium_quality, fit_time_limit 180 s, every model type AutoGluon
# can fit here, then a weighted ensemble of them).
MODELS = {
    "gbm": {"time_limit": 300, "hyperparameters": {"GBM": {}}},
    "experiment": {"time_limit": 180, "presets": "medium_quality"},
}


def train(tmp: Path, store: str, model: str = "gbm") -> dict:
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.operators.autogluon import AutoGluonTrainOperator
    from automl_demo import load_uci_adult

    c.set_conn("bench_train", c.sqlite_uri(tmp / "train.db"))
    TrackingHook(conn_id="bench_train").replace_with_frame("adult_train", load_uci_adult(str(c.ADULT / "adult.data")))
    started = time.perf_counter()
    out = AutoGluonTrainOperator(
        task_id="train",
        conn_id="bench_train",
        input_table="adult_train",
        target_column="class",
        model_name=MODEL,
        model_store=store,
        **MODELS[model],
    ).execute(context={})
    return {
        "kind": model,
        **MODELS[model],
        "seconds": round(time.perf_counter() - started, 1),
        "best_model": out["best_model"],
        "score_val": out["score_val"],
        "eval_metric": out["eval_metric"],
        "positive_class": out["positive_class"],
        "train_rows": out["num_rows_train"],
    }


def load_tables(n: int, dbs: list[str], sqlite_path: Path, schema: str | None) -> dict:
    _, df = adult_rows(n)
    seconds = {}
    if "sqlite" in dbs:
        started = time.perf_counter()
        c.sqlite_insert_frame(sqlite_path, table_name(n), df, sql_types(df, "sqlite"))
        seconds["sqlite_write"] = round(time.perf_counter() - started, 1)
    if schema:
        started = time.perf_counter()
        c.pg_copy_frame(schema, table_name(n), df, sql_types(df, "postgres"))
        seconds["postgres_copy"] = round(time.perf_counter() - started, 1)
    print(f"  {n:,} input rows loaded: {seconds}", flush=True)
    return seconds


def drop_tables(n: int, dbs: list[str], sqlite_path: Path, schema: str | None) -> None:
    import sqlite3

    import psycopg2

    if "sqlite" in dbs:
        conn = sqlite3.connect(str(sqlite_path))
        for t in (table_name(n), table_name(n) + "_predicted"):
            conn.execute(f'DROP TABLE IF EXISTS "{t}"')
        conn.commit()
        conn.execute("VACUUM")
        conn.close()
    if schema:
        conn = psycopg2.connect(c.PG_DSN)
        conn.autocommit = True
        for t in (table_name(n), table_name(n) + "_predicted"):
            conn.cursor().execute(f'DROP TABLE IF EXISTS "{schema}"."{t}"')
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dbs", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--repeats", type=int, default=3, help="runs per way under 5M rows")
    parser.add_argument("--big-repeats", type=int, default=1, help="runs per way from 5M rows")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="the operator's chunk_rows")
    parser.add_argument("--quiet-load", type=float, default=1.0)
    parser.add_argument("--max-wait", type=float, default=180.0)
    parser.add_argument("--model", choices=sorted(MODELS), default="gbm", help="which model to train and predict with")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", nargs=6, metavar=("WAY", "DB", "ROWS", "TARGET", "STORE", "CHUNK"))
    args = parser.parse_args()
    if args.worker:
        way, db, n, target, store, chunk = args.worker
        worker(way, db, int(n), target, store, int(chunk))
        return

    tmp = Path(tempfile.mkdtemp(prefix="automl_bench_predict_"))
    os.environ["AIRFLOW_HOME"] = str(tmp / "airflow")
    store = f"file://{tmp}/models"
    sqlite_path = tmp / "predict.db"
    schema = c.new_pg_schema("automl_bench") if "postgres" in args.dbs else None
    report = {
        "command": c.command_line(),
        "machine": c.machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "disk_free_gb_at_start": round(shutil.disk_usage(tmp).free / 1e9, 1),
        "chunk_rows": args.chunk_rows,
        # Every way runs with the same OpenMP settings (LightGBM predicts with OpenMP threads).
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
        "results": [],
        "input_load_seconds": {},
    }
    try:
        report["model"] = train(tmp, store, args.model)
        print(f"  model: {report['model']}", flush=True)
        for n in args.sizes:
            report["input_load_seconds"][str(n)] = load_tables(n, args.dbs, sqlite_path, schema)
            big = n >= 5_000_000
            quiet = c.wait_for_quiet(args.quiet_load, args.max_wait) if big else None
            repeats = args.big_repeats if big else args.repeats
            for way, db in [("memory", "none"), *(("operator", db) for db in args.dbs)]:
                target = str(sqlite_path) if db == "sqlite" else (schema or "none")
                load = [round(x, 2) for x in os.getloadavg()]
                r = c.repeat(SCRIPT, [way, db, str(n), target, store, str(args.chunk_rows)], repeats)
                row = {
                    "rows": n,
                    "way": way,
                    "db": db,
                    "seconds": round(r["seconds"], 2),
                    "rows_per_second": round(n / r["seconds"]),
                    "peak_added_mb": r["peak_added_mb"],
                    "peak_mb": r["peak_mb"],
                    "rss_before_mb": r["rss_before_mb"],
                    "repeats": repeats,
                    "load_at_start": load,
                    "quiet_wait": quiet,
                    "result": r["result"],
                    "progress_log": _progress(r["runs"][-1].get("log_lines") or []),
                    "runs": [{k: v for k, v in x.items() if k != "log_lines"} for x in r["runs"]],
                }
                report["results"].append(row)
                print(
                    f"  {n:>10,} {way:<9} {db:<9} {row['seconds']:>8.2f} s {row['rows_per_second']:>9,} rows/s "
                    f"{row['peak_added_mb']:>8.1f} MB added {row['peak_mb']:>8.1f} MB peak  {r['result']}"
                    f"  (load {load[0]})",
                    flush=True,
                )
            drop_tables(n, args.dbs, sqlite_path, schema)
    finally:
        if schema:
            c.drop_pg_schema(schema)
        shutil.rmtree(tmp, ignore_errors=True)

    summarise(report)
    print_table(report)
    c.write_json(args.output, report)


def _progress(lines: list[str]) -> list[str]:
    """The operator's first three and last two progress lines, without the logger's decoration."""
    import re

    msgs = [re.sub(r"^\S+\s+\[\w+\s*\]\s+", "", line).split(" [airflow")[0] for line in lines]
    return msgs[:3] + msgs[-2:] if len(msgs) > 5 else msgs


def summarise(report: dict) -> None:
    by = {(r["rows"], r["db"], r["way"]): r for r in report["results"]}
    report["summary"] = [
        {
            "rows": n,
            "db": db,
            "operator_seconds": r["seconds"],
            "memory_seconds": by[(n, "none", "memory")]["seconds"],
            "overhead_vs_memory": round(r["seconds"] / by[(n, "none", "memory")]["seconds"] - 1, 3),
            "peak_added_mb": r["peak_added_mb"],
            "max_abs_diff_vs_memory": r["result"]["max_abs_diff_vs_memory"],
            "row_ids_complete": r["result"]["row_ids_complete"],
        }
        for (n, db, way), r in by.items()
        if way == "operator" and (n, "none", "memory") in by
    ]


def print_table(report: dict) -> None:
    print(f"\n{'rows':>11} {'way':<9} {'database':<9} {'seconds':>9} {'rows/s':>9} {'+MB':>8} {'peak MB':>8}")
    for r in report["results"]:
        print(
            f"{r['rows']:>11,} {r['way']:<9} {r['db']:<9} {r['seconds']:>9.2f} {r['rows_per_second']:>9,}"
            f" {r['peak_added_mb']:>8.1f} {r['peak_mb']:>8.1f}"
        )
    print(f"\n{'rows':>11} {'database':<9} {'overhead':>9} {'max |db - memory|':>18}")
    for s in report["summary"]:
        print(
            f"{s['rows']:>11,} {s['db']:<9} {100 * s['overhead_vs_memory']:>8.0f}% {s['max_abs_diff_vs_memory']:>18.2e}"
        )


if __name__ == "__main__":
    main()
