"""
Drift speed on UCI Adult: ``airflow_automl_provider.monitoring.statistics`` against Evidently's DataDriftPreset.

Reference = ``adult.data`` (32,561 rows), batch = ``adult.test`` (16,281 rows) and a shifted copy of
it (age + 10, hours_per_week * 1.3, workclass "Private" relabelled "Private-sector"); the 14 feature
columns. Times (median of ``--repeats``):

* ours: ``build_reference_profile`` (once, at training) and ``compute_feature_drift`` (each day);
* plain: Evidently's statistics computed directly on the raw rows with numpy/scipy (normed
  Wasserstein for numeric columns, Jensen-Shannon of value shares without missing values for
  categorical ones), the floor for any implementation that re-reads the training rows;
* Evidently 0.7.x ``Report([DataDriftPreset()])`` at its defaults, ``Dataset.from_pandas``
  included, run by another interpreter (``--evidently-python``, a separate venv) so that this
  project's pinned environment is not touched; skipped without that option.

Our categorical distances count missing values as a category ``__missing__``; Evidently and the
plain statistics drop them, so workclass, occupation and native_country (the columns with
missing values) differ slightly in value. Prints tables and writes
``benchmarks/results/drift_speed.json``.

    .venv/bin/python benchmarks/drift_speed.py [--evidently-python /tmp/evidently-venv/bin/python]
"""

from __future__ import annotations

# Standard library only at the top: the same file runs as the Evidently worker in the other venv.
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared")) / "datasets" / "adult"
RESULTS = ROOT / "benchmarks" / "results" / "drift_speed.json"
SHIFTED_FEATURES = ["age", "hours_per_week", "workclass"]


def load_frames():
    """Adult train and test without the label, and the shifted test."""
    sys.path.insert(0, str(ROOT))  # the Evidently venv does not have this package installed
    from automl_demo import load_uci_adult

    reference = load_uci_adult(str(ADULT / "adult.data")).drop(columns=["class"])
    batch = load_uci_adult(str(ADULT / "adult.test")).drop(columns=["class"])
    shifted = batch.copy()
    shifted["age"] = shifted["age"] + 10
    shifted["hours_per_week"] = shifted["hours_per_week"] * 1.3
    shifted["workclass"] = shifted["workclass"].replace({"Private": "Private-sector"})
    return reference, {"real": batch, "shifted": shifted}


def timed(fn, repeats: int):
    """(median seconds, last result) of ``repeats`` calls."""
    seconds = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def plain_statistics(reference, batch) -> dict:
    """Evidently's large-data statistics straight on the raw rows (its NaN/inf dropping included)."""
    import numpy as np
    from pandas.api import types
    from scipy import stats
    from scipy.spatial import distance

    out = {}
    for name in reference.columns:
        ref = reference[name].replace([np.inf, -np.inf], np.nan).dropna()
        cur = batch[name].replace([np.inf, -np.inf], np.nan).dropna()
        if types.is_numeric_dtype(ref.dtype) and _nunique(ref, cur) > 5:
            value = stats.wasserstein_distance(ref, cur) / max(float(np.std(ref)), 0.001)
            out[name] = {"method": "wasserstein_normed", "value": float(value)}
        else:
            keys = sorted(set(ref.unique()) | set(cur.unique()), key=str)
            p = ref.value_counts().reindex(keys, fill_value=0).to_numpy(float)
            q = cur.value_counts().reindex(keys, fill_value=0).to_numpy(float)
            out[name] = {"method": "jensen_shannon", "value": float(distance.jensenshannon(p, q))}
        out[name]["drifted"] = out[name]["value"] >= 0.1
    return out


def _nunique(ref, cur) -> int:
    import pandas as pd

    return int(pd.concat([ref, cur]).nunique())


def run_ours(reference, batches: dict, repeats: int) -> dict:
    from airflow_automl_provider.monitoring import statistics as drift

    features = list(reference.columns)
    build_s, profile = timed(lambda: drift.build_reference_profile(reference, features), repeats)
    profile = json.loads(json.dumps(profile))  # as stored with the model and read back
    out = {"build_seconds": build_s, "profile_bytes": len(json.dumps(profile)), "batches": {}}
    for label, batch in batches.items():
        compute_s, results = timed(lambda b=batch: drift.compute_feature_drift(profile, b), repeats)
        plain_s, plain = timed(lambda b=batch: plain_statistics(reference, b), repeats)
        out["batches"][label] = {
            "compute_seconds": compute_s,
            "plain_seconds": plain_s,
            "features": {
                # Evidently's statistic is our distance (the deciding test's effect is another measure).
                r["feature"]: {
                    **{k: r[k] for k in ("kind", "drifted", "psi", "p_value")},
                    "statistic": r.get("distance_statistic", r["statistic"]),
                    "value": r.get("distance", r["value"]),
                    "test": r.get("test"),
                }
                for r in results
            },
            "plain": plain,
        }
    return out


def evidently_worker(repeats: int) -> None:
    """Runs in the Evidently venv: prints its timings and per-column results as JSON."""
    import evidently
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, batches = load_frames()
    out = {"evidently_version": evidently.__version__, "versions": versions(), "batches": {}}
    for label, batch in batches.items():

        def run(b=batch):
            return Report([DataDriftPreset()]).run(
                current_data=Dataset.from_pandas(b), reference_data=Dataset.from_pandas(reference)
            )

        seconds, snapshot = timed(run, repeats)
        columns = {}
        count = None
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("ValueDrift"):
                # The preset's methods here are distances: drift when value >= threshold.
                value = float(metric["value"])
                columns[config["column"]] = {
                    "method": config["method"],
                    "value": value,
                    "threshold": config["threshold"],
                    "drifted": value >= config["threshold"],
                }
            elif config["type"].endswith("DriftedColumnsCount"):
                count = metric["value"]["count"]
        out["batches"][label] = {"seconds": seconds, "drifted_columns_count": count, "columns": columns}
    print(json.dumps(out))


def run_evidently(python: str, repeats: int) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(
        [python, __file__, "--evidently-worker", "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"The Evidently worker failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["worker_wall_seconds"] = time.perf_counter() - started
    return out


def versions() -> dict:
    """Versions of the numeric stack in this interpreter (the worker reports its own)."""
    import numpy
    import pandas
    import scipy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evidently-python", help="python of a venv with evidently 0.7.x (skipped if not given)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--evidently-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.evidently_worker:
        evidently_worker(args.repeats)
        return

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    executable = sys.executable
    if Path(executable).is_relative_to(ROOT):
        executable = str(Path(executable).relative_to(ROOT))
    reference, batches = load_frames()
    ours = run_ours(reference, batches, args.repeats)
    evidently = run_evidently(args.evidently_python, args.repeats) if args.evidently_python else None

    print(f"Adult: reference {len(reference)} rows, batch {len(batches['real'])} rows, {reference.shape[1]} features")
    print(f"profile: {ours['profile_bytes']} bytes of JSON, built in {ours['build_seconds']:.3f} s")
    print(f"\n{'timing (median of ' + str(args.repeats) + ')':<42}{'real':>10}{'shifted':>10}")
    rows = [
        ("ours: compute_feature_drift", [ours["batches"][b]["compute_seconds"] for b in batches]),
        (
            "ours: build profile + compute",
            [ours["build_seconds"] + ours["batches"][b]["compute_seconds"] for b in batches],
        ),
        ("plain numpy/scipy on raw rows", [ours["batches"][b]["plain_seconds"] for b in batches]),
    ]
    if evidently:
        rows.append(
            (
                f"Evidently {evidently['evidently_version']} DataDriftPreset",
                [evidently["batches"][b]["seconds"] for b in batches],
            )
        )
    for label, secs in rows:
        print(f"{label:<42}" + "".join(f"{s:>9.3f}s" for s in secs))

    comparison = {}
    for b in batches:
        feats = ours["batches"][b]["features"]
        plain = ours["batches"][b]["plain"]
        ev = evidently["batches"][b]["columns"] if evidently else {}
        print(f"\nbatch: {b}")
        print(f"{'feature':<16}{'statistic':<20}{'ours':>9}{'plain':>9}{'Evidently':>11}  drifted ours/plain/Evidently")
        for name, r in feats.items():
            e = ev.get(name)
            e_value = f"{e['value']:>11.4f}" if e else f"{'-':>11}"
            flags = "/".join(
                ["yes" if r["drifted"] else "no", "yes" if plain[name]["drifted"] else "no"]
                + (["yes" if e["drifted"] else "no"] if e else ["-"])
            )
            print(f"{name:<16}{r['statistic']:<20}{r['value']:>9.4f}{plain[name]['value']:>9.4f}{e_value}  {flags}")
        flagged = {
            "ours": sorted(n for n, r in feats.items() if r["drifted"]),
            "plain": sorted(n for n, r in plain.items() if r["drifted"]),
        }
        if evidently:
            flagged["evidently"] = sorted(n for n, r in ev.items() if r["drifted"])
            flagged["agree_with_evidently"] = flagged["ours"] == flagged["evidently"]
            flagged["max_abs_value_difference_vs_evidently"] = max(
                abs(feats[n]["value"] - ev[n]["value"]) for n in feats
            )
        comparison[b] = flagged
        print("flagged:", json.dumps(flagged))

    report = {
        "command": " ".join([executable, *sys.argv]),
        "cores": os.cpu_count(),
        # The machine is shared: other work running at the same time slows every row alike.
        "load_average_at_start": load_at_start,
        "machine": platform.machine(),
        "versions": versions(),
        "reference_rows": len(reference),
        "batch_rows": len(batches["real"]),
        "features": list(reference.columns),
        "shift": "age + 10, hours_per_week * 1.3, workclass 'Private' -> 'Private-sector'",
        "repeats": args.repeats,
        "ours": ours,
        "evidently": evidently,
        "flagged": comparison,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")


if __name__ == "__main__":
    main()
