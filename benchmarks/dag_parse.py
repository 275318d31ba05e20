"""
DAG parsing: how long each file in ``dags/`` takes to parse, and what its imports cost.

Each DAG file is copied alone into a temporary folder and measured three ways, each in fresh
interpreters (``--repeats`` times, medians):

1. ``DagBag(folder)`` as the DAG processor runs it, with Airflow already imported: the file's own
   duration from ``DagBag.dagbag_stats`` (the figure the target is about; wall time, so it grows
   when other processes compete for the CPU), the CPU time of the whole ``DagBag(...)`` call (less
   sensitive to load), import errors, DAG ids, and which heavy modules (autogluon, sklearn, pandas,
   numpy, scipy) and slow provider modules are in ``sys.modules`` afterwards. Fresh
   ``AIRFLOW_HOME``, no metadata database.
2. ``airflow dags report -o json`` with that folder as ``[core] dags_folder``: the same per-file
   duration as the CLI prints it, and the command's wall time. It needs a metadata database, so it
   runs in a temporary ``AIRFLOW_HOME`` where ``airflow db migrate`` ran first (SQLite).
3. ``python -X importtime``: ``import airflow.sdk`` alone against ``import airflow.sdk`` followed by
   the file's own top-level imports; the modules only the second imports are what the file adds,
   split into this package's modules and the rest.

Each way runs in two bytecode modes:

* ``cached``: ``.pyc`` files written to and read from a temporary ``PYTHONPYCACHEPREFIX``, after one
  untimed warm-up parse. This is how a deployment runs: pip compiles installed packages, and Python
  (and the DAG processor's loader) caches the DAG file and the package after their first import.
* ``none``: ``PYTHONDONTWRITEBYTECODE=1``. In this project's ``.venv`` (uv installs without
  compiling) nothing is cached, so every process compiles Airflow, the providers, this package and
  the DAG file from source; the figures in docs/benchmarks.md before 2026-11-27 19:40 were measured
  this way, because the machines' environment sets ``PYTHONDONTWRITEBYTECODE=1``.

``automl_drift_monitor`` reads its schedule's timezone at parse time, so it is also parsed (cached
mode) with the timezone set: ``AIRFLOW__AUTOML__DRIFT_TIMEZONE`` and, for older versions of the
file that read an Airflow Variable, ``AIRFLOW_VAR_AUTOML_DRIFT_TIMEZONE``. Every file is also parsed
(cached mode) as the DAG processor parses it, case ``dag processor``: its ``[dag_processor]
parsing_pre_import_modules`` (on by default) imports the ``airflow.*`` modules a file imports in the
processor's own process before it starts the file's parse, so the parse does not pay for them (this
package's modules are not ``airflow.*`` and are still imported by the parse).

``--files`` measures other copies of the DAG files (for example an older version, from
``git show``) instead of ``dags/*.py``. Waits up to ``--max-wait`` seconds for the 1-minute load
average to fall under ``--quiet-load`` first, and records the load before and after each
measurement. Prints tables and writes ``benchmarks/results/dag_parse.json``.

    .venv/bin/python benchmarks/dag_parse.py [--repeats 5] [--files a.py b.py] [--output x.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

DAGS = c.ROOT / "dags"
RESULTS = c.RESULTS / "dag_parse.json"
HEAVY = ["autogluon", "sklearn", "pandas", "numpy", "scipy"]
# Provider modules that once made automl_drift_monitor.py slow to parse (see docs/benchmarks.md).
SLOW = [
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.standard.operators.python",
    "airflow.providers.smtp.operators.smtp",
    "aiosmtplib",
]
TARGET_SECONDS = 0.05
# The case parsed after the file's airflow.* imports were made ahead, as the DAG processor does.
PRE_IMPORT_CASE = "dag processor"
AIRFLOW = Path(sys.executable).with_name("airflow")
TIMEZONE_SET = {"AIRFLOW__AUTOML__DRIFT_TIMEZONE": "Europe/Paris", "AIRFLOW_VAR_AUTOML_DRIFT_TIMEZONE": "Europe/Paris"}

PARSE = """
import json, os, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
if os.environ.get("AUTOML_BENCH_PRE_IMPORT"):
    # As the DAG processor does before each parse ([dag_processor] parsing_pre_import_modules, on by
    # default): the airflow.* modules the file imports are imported ahead, in the parent process.
    import logging, pathlib
    from airflow.dag_processing.processor import _pre_import_airflow_modules
    for dag_file in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
        _pre_import_airflow_modules(str(dag_file), logging.getLogger("pre_import"))
t1, c1 = time.perf_counter(), time.process_time()
bag = DagBag(dag_folder=sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
stats = [{"file": s.file, "duration": s.duration.total_seconds(), "dags": s.dag_num, "tasks": s.task_num}
         for s in bag.dagbag_stats]
print(json.dumps({
    "airflow_import_seconds": t1 - t0,
    "dagbag_seconds": t2 - t1,
    "dagbag_cpu_seconds": c2 - c1,
    "stats": stats,
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {k: v[-500:] for k, v in bag.import_errors.items()},
    "heavy_modules": sorted(m for m in HEAVY if m in sys.modules),
    "slow_modules": sorted(m for m in SLOW if m in sys.modules),
    "package_modules": sorted(m for m in sys.modules if m.startswith("airflow_automl_provider")),
}))
"""


def env_for(home: Path, folder: Path, bytecode: str, pycache: Path, extra: dict[str, str] | None = None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW__", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            **(extra or {}),
        }
    )
    if bytecode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def parse_once(folder: Path, env: dict[str, str]) -> dict:
    code = f"HEAVY = {HEAVY!r}\nSLOW = {SLOW!r}\n" + PARSE
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _seconds(duration: str) -> float:
    """``0:00:00.032333`` (a printed timedelta) -> seconds."""
    hours, minutes, seconds = duration.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def dags_report_once(env: dict[str, str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([str(AIRFLOW), "dags", "report", "-o", "json"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"rows": rows, "duration": _seconds(rows[0]["duration"]) if rows else None, "wall_seconds": wall}


def migrate(env: dict[str, str]) -> None:
    proc = subprocess.run([str(AIRFLOW), "db", "migrate"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-3000:])


def import_lines(path: Path) -> str:
    """The file's top-level import statements, as source."""
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom) and n.module != "__future__"]
    return "\n".join(ast.unparse(n) for n in nodes)


def importtime(code: str, env: dict[str, str]) -> dict[str, dict[str, int]]:
    """module -> {"self": us, "cumulative": us} from ``python -X importtime -c code``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    out = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = line[len("import time:") :].split("|")
        out[name.strip()] = {"self": int(self_us), "cumulative": int(cumulative)}
    return out


def import_costs(path: Path, env: dict[str, str], repeats: int) -> dict:
    base_runs, file_runs = [], []
    lines = import_lines(path)
    for _ in range(repeats):
        base_runs.append(importtime("import airflow.sdk", env))
        file_runs.append(importtime("import airflow.sdk\n" + lines, env))
    base_total = statistics.median(sum(m["self"] for m in r.values()) for r in base_runs)
    added, ours, heavy = [], [], []
    for base, full in zip(base_runs, file_runs, strict=True):
        new = {k: v for k, v in full.items() if k not in base}
        added.append(sum(v["self"] for v in new.values()))
        ours.append(sum(v["self"] for k, v in new.items() if k.startswith("airflow_automl_provider")))
        heavy.append(sorted({k.split(".")[0] for k in new if k.split(".")[0] in HEAVY}))
    full, base = file_runs[-1], base_runs[-1]
    new = {k: v for k, v in full.items() if k not in base}
    # The largest top-level additions (cumulative): what to look at first.
    biggest = sorted(new.items(), key=lambda kv: -kv[1]["cumulative"])[:12]
    return {
        "airflow_sdk_seconds": base_total / 1e6,
        "added_seconds": statistics.median(added) / 1e6,
        "added_seconds_runs": [a / 1e6 for a in added],
        "added_by_package_modules_seconds": statistics.median(ours) / 1e6,
        "added_modules": len(new),
        "heavy_modules_added": heavy[-1],
        "largest_added_cumulative": [{"module": k, "cumulative_seconds": v["cumulative"] / 1e6} for k, v in biggest],
        "import_lines": lines.splitlines(),
    }


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measure_file(path: Path, tmp: Path, bytecode: str, args: argparse.Namespace, report_home: Path) -> list[dict]:
    pycache = tmp / "pycache"
    cases = [("default", {})]
    if bytecode == "cached" and "drift_timezone" in path.read_text():
        cases.append(("timezone set", TIMEZONE_SET))
    if bytecode == "cached":
        cases.append((PRE_IMPORT_CASE, {"AUTOML_BENCH_PRE_IMPORT": "1"}))
    rows = []
    for label, extra in cases:
        folder = tmp / f"{bytecode}_{path.stem}{'_' + label.replace(' ', '_') if extra else ''}"
        folder.mkdir()
        shutil.copy(path, folder / path.name)
        home = tmp / f"home_{folder.name}"
        home.mkdir()
        env = env_for(home, folder, bytecode, pycache, extra)
        load_before = load()
        warm_up = parse_once(folder, env) if bytecode == "cached" else None
        runs = [parse_once(folder, env) for _ in range(args.repeats)]
        durations = [r["stats"][0]["duration"] if r["stats"] else None for r in runs]
        last = runs[-1]
        row = {
            "file": path.name,
            "case": label,
            "bytecode": bytecode,
            "parse_seconds": statistics.median(d for d in durations if d is not None),
            "parse_seconds_runs": durations,
            "warm_up_parse_seconds": warm_up["stats"][0]["duration"] if warm_up and warm_up["stats"] else None,
            "dagbag_seconds": statistics.median(r["dagbag_seconds"] for r in runs),
            "dagbag_cpu_seconds": statistics.median(r["dagbag_cpu_seconds"] for r in runs),
            "dagbag_cpu_seconds_runs": [r["dagbag_cpu_seconds"] for r in runs],
            "airflow_import_seconds": statistics.median(r["airflow_import_seconds"] for r in runs),
            "dag_ids": last["dag_ids"],
            "tasks": last["stats"][0]["tasks"] if last["stats"] else None,
            "import_errors": last["import_errors"],
            "heavy_modules_after_parse": last["heavy_modules"],
            "slow_provider_modules_after_parse": last["slow_modules"],
            "package_modules_after_parse": last["package_modules"],
        }
        if not extra:
            report_env = env_for(report_home, folder, bytecode, pycache)
            if bytecode == "cached":
                dags_report_once(report_env)  # warm-up: the CLI's own modules
            reports = [dags_report_once(report_env) for _ in range(args.repeats)]
            row["dags_report_seconds"] = statistics.median(r["duration"] for r in reports)
            row["dags_report_seconds_runs"] = [r["duration"] for r in reports]
            row["dags_report_wall_seconds"] = statistics.median(r["wall_seconds"] for r in reports)
            row["dags_report_rows"] = reports[-1]["rows"]
            row["imports"] = import_costs(path, env, args.import_repeats)
        row["load_1min_before_after"] = [load_before, load()]
        row["meets_target"] = row["parse_seconds"] < TARGET_SECONDS and not row["heavy_modules_after_parse"]
        rows.append(row)
        print(
            f"  {bytecode:<6} {path.name} {label}: parse {row['parse_seconds']:.3f} s"
            + (f", dags report {row['dags_report_seconds']:.3f} s" if "dags_report_seconds" in row else "")
            + f", heavy {row['heavy_modules_after_parse']}, load {row['load_1min_before_after']}",
            flush=True,
        )
    return rows


def venv_bytecode() -> int:
    """How many ``.pyc`` files the installed ``airflow.sdk`` package has (0: installed without compiling)."""
    import importlib.util

    spec = importlib.util.find_spec("airflow.sdk")
    root = Path(spec.origin).parent if spec and spec.origin else None
    return sum(1 for _ in root.rglob("*.pyc")) if root else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="parses and dags reports per file and mode")
    parser.add_argument("--import-repeats", type=int, default=3, help="python -X importtime runs per file and mode")
    parser.add_argument("--files", type=Path, nargs="+", help="DAG files to measure (default: dags/*.py)")
    parser.add_argument("--bytecode", choices=["cached", "none"], nargs="+", default=["cached", "none"])
    parser.add_argument("--quiet-load", type=float, default=1.5, help="wait for the 1-minute load to fall under it")
    parser.add_argument("--max-wait", type=float, default=180.0, help="seconds to wait for that load at most")
    parser.add_argument("--label", default="", help="free text kept in the results (what code was measured)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    files = sorted(args.files) if args.files else sorted(DAGS.glob("*.py"))
    quiet = c.wait_for_quiet(args.quiet_load, args.max_wait)
    report = {
        "command": c.command_line(),
        "label": args.label,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": c.machine(),
        "environment": {
            "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
            "airflow_sdk_pyc_files_installed": venv_bytecode(),
        },
        "quiet_wait": quiet,
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "target_seconds": TARGET_SECONDS,
        "files": [],
    }
    tmp = Path(tempfile.mkdtemp(prefix="automl_bench_dags_"))
    try:
        for bytecode in args.bytecode:
            report_home = tmp / f"report_home_{bytecode}"
            report_home.mkdir()
            migrate(env_for(report_home, tmp, bytecode, tmp / "pycache"))
            for path in files:
                report["files"].extend(measure_file(path.resolve(), tmp, bytecode, args, report_home))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    print(
        f"\n{'file':<26} {'case':<13} {'bytecode':<8} {'parse s':>8} {'min-max':>13} {'CPU s':>6}"
        f" {'dags report s':>13} {'tasks':>6}  heavy  errors  load"
    )
    for r in report["files"]:
        runs = [d for d in r["parse_seconds_runs"] if d is not None]
        rep = f"{r['dags_report_seconds']:.3f}" if "dags_report_seconds" in r else ""
        print(
            f"{r['file']:<26} {r['case']:<13} {r['bytecode']:<8} {r['parse_seconds']:>8.3f}"
            f" {min(runs):>6.3f}-{max(runs):.3f} {r['dagbag_cpu_seconds']:>6.3f} {rep:>13} {r['tasks']!s:>6}"
            f"  {','.join(r['heavy_modules_after_parse']) or 'none':<5}  {len(r['import_errors']):>6}"
            f"  {r['load_1min_before_after']}"
        )
    print(f"\n{'file':<26} {'bytecode':<8} {'airflow.sdk s':>13} {'added s':>8} {'ours s':>7} {'modules':>8}  largest")
    for r in report["files"]:
        if "imports" not in r:
            continue
        i = r["imports"]
        top = ", ".join(f"{m['module']} {m['cumulative_seconds']:.3f}" for m in i["largest_added_cumulative"][:3])
        print(
            f"{r['file']:<26} {r['bytecode']:<8} {i['airflow_sdk_seconds']:>13.3f} {i['added_seconds']:>8.3f}"
            f" {i['added_by_package_modules_seconds']:>7.3f} {i['added_modules']:>8}  {top}"
        )
    c.write_json(args.output, report)


if __name__ == "__main__":
    main()
