"""
Helpers shared by the benchmarks: child processes with peak memory, load average, databases.

Each way is timed in its own child process (``python <benchmark> --worker ...``) that prints one
JSON line: ``seconds`` of the timed work, ``rss_before_mb`` (after imports and connecting, right
before the work), ``peak_mb`` (the process's peak RSS during the work: the kernel's high-water mark
is reset to the current RSS right before it through ``/proc/self/clear_refs``) and
``peak_added_mb`` (peak minus RSS before). Standard library only at import time.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared"))
ADULT = SHARED / "datasets" / "adult"
RESULTS = ROOT / "benchmarks" / "results"
# Worker log lines kept in the results (the operators' progress messages).
LOG_KEYS = ("Predicted ", "Wrote ", "AUROC of ")
PG_DSN = os.environ.get("AUTOML_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# -- memory and time, inside a worker -------------------------------------------------------------
def _status(field: str) -> float:
    """A ``/proc/self/status`` field (VmRSS, VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def measure(work: Callable[[], Any]) -> dict[str, Any]:
    """Run ``work()`` once: seconds, RSS before, peak RSS during it (MB) and what it returned."""
    import gc

    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM (peak RSS) to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _status("VmRSS")
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    peak = _status("VmHWM")
    return {
        "seconds": seconds,
        "rss_before_mb": round(before, 1),
        "peak_mb": round(peak, 1),
        "peak_added_mb": round(peak - before, 1),
        "peak_reset": reset,
        "result": result,
    }


def emit(out: dict[str, Any]) -> None:
    """The worker's answer: the last line of its stdout."""
    sys.stdout.flush()
    print("\n" + json.dumps(out, default=str), flush=True)


# -- the parent -------------------------------------------------------------------------------------
def run_worker(script: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict:
    """Run ``script --worker args`` in a fresh interpreter and return its JSON answer."""
    proc = subprocess.run(
        [sys.executable, str(script), "--worker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["stderr_tail"] = proc.stderr[-6000:]
    # Airflow's loggers write to stdout or stderr depending on its logging setup: look at both.
    lines = (proc.stdout + "\n" + proc.stderr).splitlines()
    out["log_lines"] = [line for line in lines if any(k in line for k in LOG_KEYS)]
    return out


def repeat(script: Path, args: list[str], repeats: int, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Median seconds and memory over ``repeats`` fresh workers, with every run kept."""
    runs = []
    for _ in range(repeats):
        load = os.getloadavg()[0]
        out = run_worker(script, args, env)
        out["load_1min_at_start"] = round(load, 2)
        runs.append(out)
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_added_mb": statistics.median(r["peak_added_mb"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "rss_before_mb": statistics.median(r["rss_before_mb"] for r in runs),
        "repeats": repeats,
        "runs": [{k: v for k, v in r.items() if k != "stderr_tail"} for r in runs],
        "result": runs[-1].get("result"),
        "stderr_tail": runs[-1]["stderr_tail"],
    }


def wait_for_quiet(limit: float = 1.0, max_wait: float = 180.0, poll: float = 15.0) -> dict[str, Any]:
    """Wait (at most ``max_wait`` s) for the 1-minute load average to drop under ``limit``."""
    started = time.monotonic()
    while True:
        load = os.getloadavg()
        waited = time.monotonic() - started
        if load[0] < limit or waited >= max_wait:
            return {"load": [round(x, 2) for x in load], "waited_seconds": round(waited), "quiet": load[0] < limit}
        print(f"  load {load[0]:.2f} >= {limit}: waiting ({waited:.0f} s so far)", flush=True)
        time.sleep(poll)


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "git_head": git_head(),
    }


def git_head() -> str | None:
    """The checkout's commit, with ``+changes`` when the package's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "airflow_automl_provider", "dags"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def command_line() -> str:
    executable = sys.executable
    if Path(executable).is_relative_to(ROOT):
        executable = str(Path(executable).relative_to(ROOT))
    return " ".join([executable, *sys.argv])


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


# -- databases ------------------------------------------------------------------------------------
def set_conn(conn_id: str, uri: str) -> None:
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
    # The benchmarks' own connections, beside the configured ones ([automl] allowed_conn_ids).
    allowed = os.environ.get("AIRFLOW__AUTOML__ALLOWED_CONN_IDS", "automl_default")
    if conn_id not in allowed.split(","):
        os.environ["AIRFLOW__AUTOML__ALLOWED_CONN_IDS"] = f"{allowed},{conn_id}"


def sqlite_uri(path: Path) -> str:
    """An absolute path /a/b.db is written sqlite:///a/b.db."""
    return f"sqlite://{Path(path).resolve()}"


def new_pg_schema(prefix: str) -> str:
    import psycopg2

    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE SCHEMA "{schema}"')
    conn.close()
    return schema


def drop_pg_schema(schema: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_DSN)
    conn.autocommit = True
    conn.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


def pg_copy_frame(schema: str, table: str, df: Any, types: dict[str, str], chunk_rows: int = 1_000_000) -> None:
    """Create ``schema.table`` and fill it from a DataFrame with COPY (CSV written by pandas)."""
    import io

    import psycopg2

    conn = psycopg2.connect(PG_DSN)
    try:
        cur = conn.cursor()
        cols = ", ".join(f'"{c}" {types[c]}' for c in df.columns)
        cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
        cur.execute(f'CREATE TABLE "{schema}"."{table}" ({cols})')
        names = ", ".join(f'"{c}"' for c in df.columns)
        for start in range(0, len(df), chunk_rows):
            buf = io.StringIO()
            df.iloc[start : start + chunk_rows].to_csv(buf, index=False, header=False, float_format="%.17g")
            buf.seek(0)
            cur.copy_expert(f'COPY "{schema}"."{table}" ({names}) FROM STDIN WITH (FORMAT csv)', buf)
        cur.execute(f'ANALYZE "{schema}"."{table}"')
        conn.commit()
    finally:
        conn.close()


def sqlite_insert_frame(path: Path, table: str, df: Any, types: dict[str, str], batch_rows: int = 100_000) -> None:
    """Create ``table`` in a SQLite file and fill it with executemany in batches, one transaction."""
    import sqlite3

    conn = sqlite3.connect(str(path))
    try:
        cols = ", ".join(f'"{c}" {types[c]}' for c in df.columns)
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        conn.execute(f'CREATE TABLE "{table}" ({cols})')
        sql = f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(df.columns))})'
        for start in range(0, len(df), batch_rows):
            part = df.iloc[start : start + batch_rows]
            columns = [part[c].astype(object).where(part[c].notna(), None).tolist() for c in part.columns]
            conn.executemany(sql, zip(*columns, strict=True))
        conn.commit()
    finally:
        conn.close()
