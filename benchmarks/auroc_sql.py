"""
AUROC of a prediction table: our in-database evaluator against ``pd.read_sql`` + ``roc_auc_score``.

Synthetic prediction tables of ``--sizes`` rows (labels Bernoulli(0.3) as integers 0/1, scores
``sigmoid(1.2 * (2 * label - 1) + N(0, 1.5))``), each with two score columns: ``score_full``
(full float64 precision, nearly all distinct) and ``score_round`` (rounded to 4 decimals, so at
most 10,001 distinct values and many ties). Written to SQLite with ``executemany`` in batches and
to PostgreSQL (a schema of its own, dropped at the end) with COPY. Ways, each in a fresh child
process (time and peak memory of the work only, imports and connecting excluded):

* ``ours``: ``evaluate_auroc(TrackingHook(conn_id), ...)`` with ``method="auto"`` (the default:
  the grouped SQL query when a sample of the scores has many ties, else the streaming pass);
* ``ours_sql`` / ``ours_stream``: the same with ``method="sql"`` (the evaluator before the
  streaming pass: column checks and one grouped SQL query) or ``method="stream"`` forced;
* ``plain SQL``: the smallest grouped query (GROUP BY score, one window sum), for reference;
* ``read_sql + sklearn``: ``pd.read_sql`` of the label and score columns, then ``roc_auc_score``;
* ``sklearn in memory``: ``roc_auc_score`` on the arrays already in memory (the floor of any
  Python path; no database).

Prints a table and writes ``benchmarks/results/auroc_sql.json``.

    .venv/bin/python benchmarks/auroc_sql.py [--sizes 1000000 10000000] [--repeats 3] [--ways ours read_sql]
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
RESULTS = c.RESULTS / "auroc_sql.json"
SCORES = {"full": "score_full", "rounded": "score_round"}
OURS = {"ours": "auto", "ours_sql": "sql", "ours_stream": "stream"}
WAYS = ["ours", "ours_sql", "ours_stream", "plain_sql", "read_sql"]


def generate(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.int64)
    score = 1.0 / (1.0 + np.exp(-(1.2 * (2 * label - 1) + rng.normal(0.0, 1.5, n))))
    return label, score, np.round(score, 4)


def table_name(n: int) -> str:
    return f"auroc_{n // 1_000_000}m" if n % 1_000_000 == 0 else f"auroc_{n}"


# -- workers ----------------------------------------------------------------------------------------
def worker(way: str, db: str, n: int, precision: str, target: str) -> None:
    """Runs in a child: ``target`` is the SQLite path or the PostgreSQL schema."""
    score = SCORES[precision]
    table = table_name(n)
    if way == "memory":
        from sklearn.metrics import roc_auc_score

        label, full, rounded = generate(n)
        s = full if precision == "full" else rounded
        del full, rounded
        out = c.measure(lambda: {"auc": float(roc_auc_score(label == 1, s))})
    elif way in OURS:
        from airflow_automl_provider.evaluation.auroc import evaluate_auroc
        from airflow_automl_provider.hooks.tracking import TrackingHook

        conn_id = f"bench_{db}"
        c.set_conn(conn_id, c.sqlite_uri(Path(target)) if db == "sqlite" else c.PG_DSN)
        hook = TrackingHook(conn_id=conn_id)
        hook.dialect  # noqa: B018  (resolves the connection and its hook before the timed work)
        schema = None if db == "sqlite" else target
        out = c.measure(lambda: evaluate_auroc(hook, table, "label", "1", score, schema, method=OURS[way]))
        out["result"] = {"auc": out["result"]["auc"], "rows": out["result"]["rows"]}
    elif way == "plain_sql":
        conn = _dbapi(db, target)
        name = table if db == "sqlite" else f'"{target}"."{table}"'
        sql = f"""
WITH g AS (SELECT {score} AS s, SUM(label) AS pos, COUNT(*) AS n FROM {name} GROUP BY {score}),
r AS (SELECT pos, n - pos AS neg,
             COALESCE(SUM(n - pos) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS below
      FROM g)
SELECT SUM(pos), SUM(neg), SUM(pos * (2 * below + neg)) FROM r"""

        def run():
            cur = conn.cursor()
            cur.execute(sql)
            pos, neg, num = cur.fetchone()
            return {"auc": int(num) / (2.0 * int(pos) * int(neg))}

        out = c.measure(run)
    elif way == "read_sql":
        import pandas as pd
        from sklearn.metrics import roc_auc_score

        if db == "sqlite":
            conn = _dbapi(db, target)
            sql = f"SELECT label, {score} FROM {table}"
        else:
            import sqlalchemy

            conn = sqlalchemy.create_engine(c.PG_DSN.replace("postgresql://", "postgresql+psycopg2://")).connect()
            sql = f'SELECT label, {score} FROM "{target}"."{table}"'

        def run():
            df = pd.read_sql(sql, conn)
            return {"auc": float(roc_auc_score(df["label"] == 1, df[score]))}

        out = c.measure(run)
    else:
        raise ValueError(way)
    c.emit(out)


def _dbapi(db: str, target: str):
    if db == "sqlite":
        import sqlite3

        return sqlite3.connect(target)
    import psycopg2

    conn = psycopg2.connect(c.PG_DSN)
    conn.autocommit = True
    return conn


# -- the parent -------------------------------------------------------------------------------------
def load_tables(n: int, sqlite_path: Path | None, pg_schema: str | None) -> dict:
    import pandas as pd

    label, full, rounded = generate(n)
    df = pd.DataFrame({"label": label, "score_full": full, "score_round": rounded})
    seconds = {}
    if sqlite_path is not None:
        started = time.perf_counter()
        c.sqlite_insert_frame(
            sqlite_path, table_name(n), df, {"label": "INTEGER", "score_full": "REAL", "score_round": "REAL"}
        )
        seconds["sqlite_write"] = round(time.perf_counter() - started, 1)
    if pg_schema is not None:
        started = time.perf_counter()
        c.pg_copy_frame(
            pg_schema,
            table_name(n),
            df,
            {"label": "integer", "score_full": "double precision", "score_round": "double precision"},
        )
        seconds["postgres_copy"] = round(time.perf_counter() - started, 1)
    info = {
        "rows": n,
        "positives": int(label.sum()),
        "distinct_full": int(pd.Series(full).nunique()),
        "distinct_rounded": int(pd.Series(rounded).nunique()),
        "load_seconds": seconds,
    }
    print(f"  {n:,} rows loaded: {info}", flush=True)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--dbs", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quiet-load", type=float, default=1.0, help="wait for a 1-minute load under this")
    parser.add_argument("--max-wait", type=float, default=180.0, help="seconds to wait for that load at most")
    parser.add_argument("--ways", nargs="+", default=WAYS, choices=WAYS, help="besides sklearn in memory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", nargs=5, metavar=("WAY", "DB", "ROWS", "PRECISION", "TARGET"))
    args = parser.parse_args()
    if args.worker:
        way, db, n, precision, target = args.worker
        worker(way, db, int(n), precision, target)
        return

    tmp = Path(tempfile.mkdtemp(prefix="automl_bench_auroc_"))
    sqlite_path = tmp / "auroc.db" if "sqlite" in args.dbs else None
    schema = c.new_pg_schema("automl_bench") if "postgres" in args.dbs else None
    report = {
        "command": c.command_line(),
        "machine": c.machine(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "disk_free_gb_at_start": round(shutil.disk_usage(tmp).free / 1e9, 1),
        "data": {},
        "results": [],
    }
    try:
        for n in args.sizes:
            report["data"][str(n)] = load_tables(n, sqlite_path, schema)
            quiet = c.wait_for_quiet(args.quiet_load, args.max_wait) if n >= 5_000_000 else None
            for precision in SCORES:
                ways = [("memory", "none")] + [(w, db) for db in args.dbs for w in args.ways]
                for way, db in ways:
                    target = str(sqlite_path) if db == "sqlite" else (schema or "none")
                    load = [round(x, 2) for x in os.getloadavg()]
                    r = c.repeat(SCRIPT, [way, db, str(n), precision, target], args.repeats)
                    row = {
                        "rows": n,
                        "precision": precision,
                        "db": db,
                        "way": way,
                        "seconds": round(r["seconds"], 3),
                        "peak_added_mb": r["peak_added_mb"],
                        "peak_mb": r["peak_mb"],
                        "rss_before_mb": r["rss_before_mb"],
                        "auc": r["result"]["auc"],
                        "load_at_start": load,
                        "quiet_wait": quiet,
                        "runs": r["runs"],
                    }
                    report["results"].append(row)
                    print(
                        f"  {n:>10,} {precision:<8} {db:<9} {way:<10} {row['seconds']:>8.3f} s "
                        f"{row['peak_added_mb']:>8.1f} MB added {row['peak_mb']:>8.1f} MB peak  auc {row['auc']:.12f}"
                        f"  (load {load[0]})",
                        flush=True,
                    )
    finally:
        if schema:
            c.drop_pg_schema(schema)
        shutil.rmtree(tmp, ignore_errors=True)

    summarise(report)
    print_table(report)
    c.write_json(args.output, report)


def summarise(report: dict) -> None:
    """Speed-ups against read_sql + sklearn, and agreement with sklearn, per size, precision, database, way."""
    by = {(r["rows"], r["precision"], r["db"], r["way"]): r for r in report["results"]}
    summary = []
    for (n, precision, db, way), r in by.items():
        if way not in OURS:
            continue
        base = by.get((n, precision, db, "read_sql"))
        memory = by.get((n, precision, "none", "memory"))
        summary.append(
            {
                "rows": n,
                "precision": precision,
                "db": db,
                "way": way,
                "ours_seconds": r["seconds"],
                "read_sql_seconds": base["seconds"] if base else None,
                "speedup_vs_read_sql": round(base["seconds"] / r["seconds"], 2) if base else None,
                "ours_peak_added_mb": r["peak_added_mb"],
                "read_sql_peak_added_mb": base["peak_added_mb"] if base else None,
                "abs_diff_vs_read_sql_sklearn": abs(r["auc"] - base["auc"]) if base else None,
                "abs_diff_vs_memory_sklearn": abs(r["auc"] - memory["auc"]) if memory else None,
            }
        )
    report["summary"] = summary


def print_table(report: dict) -> None:
    print(f"\n{'rows':>11} {'scores':<8} {'database':<9} {'way':<10} {'seconds':>9} {'+MB':>8} {'peak MB':>8}  AUROC")
    for r in report["results"]:
        print(
            f"{r['rows']:>11,} {r['precision']:<8} {r['db']:<9} {r['way']:<10} {r['seconds']:>9.3f}"
            f" {r['peak_added_mb']:>8.1f} {r['peak_mb']:>8.1f}  {r['auc']:.12f}"
        )
    print(f"\n{'rows':>11} {'scores':<8} {'database':<9} {'way':<12} {'speed-up':>9} {'|ours - sklearn|':>17}")
    for s in report["summary"]:
        if s["speedup_vs_read_sql"] is None:
            continue
        print(
            f"{s['rows']:>11,} {s['precision']:<8} {s['db']:<9} {s['way']:<12} {s['speedup_vs_read_sql']:>8.2f}x"
            f" {s['abs_diff_vs_read_sql_sklearn']:>17.2e}"
        )


if __name__ == "__main__":
    main()
