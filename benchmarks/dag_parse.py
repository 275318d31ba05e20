"""
DAG parsing: how long each file in ``dags/`` takes to parse, and what its imports cost.

For each DAG file, alone in a temporary folder, in a fresh interpreter (``--repeats`` times,
medians): ``DagBag(folder)`` as the DAG processor runs it, with Airflow already imported; the
file's own duration from ``DagBag.dagbag_stats``, import errors, DAG ids, and which heavy modules
(autogluon, sklearn, pandas, numpy, scipy) are in ``sys.modules`` afterwards. The Airflow home is a
fresh temporary folder (no metadata database); ``automl_drift_monitor`` reads the Variable
``automl_drift_timezone`` at parse time, so it is parsed twice: without the Variable (default
UTC) and with it set through ``AIRFLOW_VAR_AUTOML_DRIFT_TIMEZONE``.

Then ``python -X importtime``: ``import airflow.sdk`` alone, against ``import airflow.sdk``
followed by the DAG file's own top-level imports; the modules only the second imports are what the
file adds, split into this package's modules and the rest (Airflow providers, ...).

Prints tables and writes ``benchmarks/results/dag_parse.json``.

    .venv/bin/python benchmarks/dag_parse.py [--repeats 3]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402

DAGS = c.ROOT / "dags"
RESULTS = c.RESULTS / "dag_parse.json"
HEAVY = ["autogluon", "sklearn", "pandas", "numpy", "scipy"]
TARGET_SECONDS = 0.05

PARSE = """
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
stats = [{"file": s.file, "duration": s.duration.total_seconds(), "dags": s.dag_num, "tasks": s.task_num}
         for s in bag.dagbag_stats]
print(json.dumps({
    "airflow_import_seconds": t1 - t0,
    "dagbag_seconds": t2 - t1,
    "stats": stats,
    "dag_ids": sorted(bag.dag_ids),
    "import_errors": {k: v[-500:] for k, v in bag.import_errors.items()},
    "heavy_modules": sorted(m for m in HEAVY if m in sys.modules),
    "package_modules": sorted(m for m in sys.modules if m.startswith("airflow_automl_provider")),
}))
"""


def env_for(home: Path, folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_VAR_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
            **(extra or {}),
        }
    )
    return env


def parse_once(folder: Path, env: dict[str, str]) -> dict:
    code = f"HEAVY = {HEAVY!r}\n" + PARSE
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
        "added_by_package_modules_seconds": statistics.median(ours) / 1e6,
        "added_modules": len(new),
        "heavy_modules_added": heavy[-1],
        "largest_added_cumulative": [{"module": k, "cumulative_seconds": v["cumulative"] / 1e6} for k, v in biggest],
        "import_lines": lines.splitlines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    load = [round(x, 2) for x in os.getloadavg()]
    tmp = Path(tempfile.mkdtemp(prefix="automl_bench_dags_"))
    report = {
        "command": c.command_line(),
        "machine": c.machine(),
        "load_at_start": load,
        "target_seconds": TARGET_SECONDS,
        "files": [],
    }
    try:
        for path in sorted(DAGS.glob("*.py")):
            cases = [("", {})]
            if "automl_drift_timezone" in path.read_text():
                cases.append(("Variable set", {"AIRFLOW_VAR_AUTOML_DRIFT_TIMEZONE": "Europe/Paris"}))
            for label, extra in cases:
                folder = tmp / f"{path.stem}{'_var' if extra else ''}"
                folder.mkdir()
                shutil.copy(path, folder / path.name)
                home = tmp / f"home_{folder.name}"
                home.mkdir()
                env = env_for(home, folder, extra)
                runs = [parse_once(folder, env) for _ in range(args.repeats)]
                durations = [r["stats"][0]["duration"] if r["stats"] else None for r in runs]
                last = runs[-1]
                row = {
                    "file": path.name,
                    "case": label or "default",
                    "parse_seconds": statistics.median(d for d in durations if d is not None),
                    "parse_seconds_runs": durations,
                    "dagbag_seconds": statistics.median(r["dagbag_seconds"] for r in runs),
                    "airflow_import_seconds": statistics.median(r["airflow_import_seconds"] for r in runs),
                    "dag_ids": last["dag_ids"],
                    "tasks": last["stats"][0]["tasks"] if last["stats"] else None,
                    "import_errors": last["import_errors"],
                    "heavy_modules_after_parse": last["heavy_modules"],
                    "package_modules_after_parse": last["package_modules"],
                }
                row["meets_target"] = row["parse_seconds"] < TARGET_SECONDS and not row["heavy_modules_after_parse"]
                if not extra:
                    row["imports"] = import_costs(path, env, args.repeats)
                report["files"].append(row)
                print(f"  {path.name} {label}: {row['parse_seconds']:.3f} s, heavy {row['heavy_modules_after_parse']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{'file':<26} {'case':<13} {'parse s':>8} {'DagBag s':>9} {'tasks':>6}  heavy modules  errors")
    for r in report["files"]:
        print(
            f"{r['file']:<26} {r['case']:<13} {r['parse_seconds']:>8.3f} {r['dagbag_seconds']:>9.3f} {r['tasks']!s:>6}"
            f"  {','.join(r['heavy_modules_after_parse']) or 'none':<13}  {len(r['import_errors'])}"
        )
    print(f"\n{'file':<26} {'airflow.sdk s':>13} {'added s':>8} {'ours s':>7} {'modules':>8}  largest additions")
    for r in report["files"]:
        if "imports" not in r:
            continue
        i = r["imports"]
        top = ", ".join(f"{m['module']} {m['cumulative_seconds']:.3f}" for m in i["largest_added_cumulative"][:3])
        print(
            f"{r['file']:<26} {i['airflow_sdk_seconds']:>13.3f} {i['added_seconds']:>8.3f}"
            f" {i['added_by_package_modules_seconds']:>7.3f} {i['added_modules']:>8}  {top}"
        )
    c.write_json(args.output, report)


if __name__ == "__main__":
    main()
