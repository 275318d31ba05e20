"""
Drift alert quality on UCI Adult: false alarms, detections and days to detection of this package's
rules, side by side with Evidently's DataDriftPreset and NannyML, on the same seeded batches.

Setup (all seeded, ``--seed``):

* reference = ``adult.data`` (32,561 rows, 14 features); a ``HistGradientBoostingClassifier``
  (categoricals as pandas ``category``, ``categorical_features="from_dtype"``) trained on 80% of it,
  its validation AUROC on the other 20%;
* ``adult.test`` split in two halves: half A is the experiment's test table (the baseline AUROC and
  its positives and negatives), daily batches are drawn from half B with replacement;
* performance, stable: sequences of days (the rules carry state from day to day) at 200, 500,
  1,000, 5,000 and 50,000 rows a day, alerts per 100 days;
* performance, drops: the scores of a random fraction f of a batch's rows are shuffled among those
  rows, f found by bisection on the whole of half B so that the expected AUROC drops by exactly
  0.03 or 0.07; each trial is 7 stable days, then drop days; share detected within 1, 2 and 3 days
  of the drop's start and median days to detection;
* data drift: ``drift.build_reference_profile(adult.data)``; stable batches at each size, and
  batches at 1,000 rows with one feature shifted (age + 2 years; the dominant workclass 10 points
  rarer, its rows moved to the other categories in their reference shares; capital_gain's non-zero
  values x 3; 5% of hours_per_week missing; 20% of hours_per_week zero): per size the stable alert
  rate, per shift the share of batches alerted and the share in which the shifted feature is flagged.

Every rule set is a named row. Evidently (``--evidently-python``) and NannyML (``--nannyml-python``)
run in their own virtualenvs (``bash benchmarks/comparison_envs.sh``) as workers of this same file:
they rebuild the same batches from the same seeds and report a digest of every random draw, which
must equal this process's. Prints markdown tables and writes ``benchmarks/results/drift_quality.json``.

    .venv/bin/python benchmarks/drift_quality.py [--quick] \\
        [--evidently-python /tmp/automl-bench-envs/evidently/bin/python] \\
        [--nannyml-python /tmp/automl-bench-envs/nannyml/bin/python]
"""

from __future__ import annotations

# Standard library only at the top: the same file runs as the Evidently and NannyML workers.
import argparse
import hashlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared")) / "datasets" / "adult"
RESULTS = ROOT / "benchmarks" / "results" / "drift_quality.json"
LABEL = "class"
POSITIVE = ">50K"
SIZES = (200, 500, 1000, 5000, 50000)
SHIFT_SIZE = 1000
SHIFTS = {
    # name: (shifted feature, description)
    "age_plus_2": ("age", "age + 2 years"),
    "workclass_top_minus_10pts": ("workclass", "dominant workclass 10 points rarer, moved to the others"),
    "capital_gain_nonzero_x3": ("capital_gain", "non-zero capital_gain x 3"),
    "hours_5pct_missing": ("hours_per_week", "5% of hours_per_week missing"),
    "hours_20pct_zero": ("hours_per_week", "20% of hours_per_week zero"),
}
DROPS = (0.03, 0.07)
# (AUROC drop, rows a day); the first two are the goals.
DROP_CASES = ((0.03, 1000), (0.07, 500), (0.03, 500), (0.07, 1000), (0.03, 5000))
PRE_DROP_DAYS = 7
# The DAG's min_rows default: a batch with fewer rows, or fewer in either class, is not judged.
DAG_MIN_ROWS = 100
DELONG_CONFIDENCE = 0.95
Z_95 = 1.959963984540054

FULL = {
    "perf_sequences": 10,
    "perf_days": 100,
    "drop_trials": 200,
    "drop_days": 10,
    "drift_stable": 200,
    "drift_shifted": 100,
    "evidently_stable": 40,
    "evidently_stable_50000": 20,
    "evidently_shifted": 40,
    "calibration_reps": 40,
}
QUICK = {
    "perf_sequences": 2,
    "perf_days": 50,
    "drop_trials": 30,
    "drop_days": 10,
    "drift_stable": 30,
    "drift_shifted": 20,
    "evidently_stable": 5,
    "evidently_stable_50000": 3,
    "evidently_shifted": 5,
    "calibration_reps": 10,
}


# -- the batches, shared by every interpreter ------------------------------------------------------
def _code(part: Any) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode())
    if isinstance(part, float):
        return round(part * 100_000)
    return int(part)


def rng_for(seed: int, *key: Any):
    """A numpy Generator seeded from the benchmark's seed and a key naming the draw."""
    import numpy as np

    return np.random.default_rng([seed, *(_code(k) for k in key)])


def digest(arrays) -> str:
    """What a batch's random draws were, comparable across interpreters and numpy versions."""
    import numpy as np

    h = hashlib.sha1()
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a), dtype="<i8").tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def combine(digests) -> str:
    return hashlib.sha1("".join(digests).encode()).hexdigest()[:16]


def use_package(path: Path) -> None:
    """Import ``airflow_automl_provider`` from ``path`` (a checkout, or a revision exported by --package-rev)."""
    if "airflow_automl_provider" in sys.modules:
        raise RuntimeError("airflow_automl_provider was imported before its path was chosen")
    sys.path.insert(0, str(path))


def provider_modules():
    """
    The package's drift statistics and rules as ``(drift, monitoring)``, in either layout: since issue 18
    ``monitoring.statistics``, ``evaluation.delong`` and ``monitoring.rules`` (``drift`` is then a namespace
    of the first two with ``consecutive_below``); before it, the modules ``drift`` and ``monitoring``.
    """
    from types import SimpleNamespace

    try:
        from airflow_automl_provider.evaluation import delong
        from airflow_automl_provider.monitoring import rules, statistics
    except ImportError:  # a revision before issue 18 (--package-rev)
        from airflow_automl_provider import drift, monitoring

        return drift, monitoring
    names = {k: getattr(mod, k) for mod in (statistics, delong) for k in dir(mod) if not k.startswith("__")}
    return SimpleNamespace(**names, consecutive_below=rules.consecutive_below), rules


def load_adult():
    """``adult.data`` and ``adult.test`` as the package's demo loader reads them."""
    from automl_demo import load_uci_adult

    return load_uci_adult(str(ADULT / "adult.data")), load_uci_adult(str(ADULT / "adult.test"))


def drift_batch(pool, size: int, kind: str, k: int, spec: dict):
    """Batch ``k`` of ``kind`` ("stable" or a shift) drawn from half B's features; and its draws' digest."""
    import numpy as np

    rng = rng_for(spec["seed"], "drift", kind, size, k)
    idx = rng.integers(0, len(pool), size)
    batch = pool.iloc[idx].reset_index(drop=True)
    drawn = [idx]
    if kind == "age_plus_2":
        batch["age"] = batch["age"] + 2
    elif kind == "workclass_top_minus_10pts":
        shift = spec["workclass_shift"]
        column = batch["workclass"].to_numpy(dtype=object).copy()
        rows = np.flatnonzero(column == shift["top"])
        move = min(len(rows), round(0.10 * size))
        chosen = rng.choice(rows, move, replace=False)
        new = rng.choice(len(shift["others"]), move, p=shift["shares"])
        column[chosen] = np.asarray(shift["others"], dtype=object)[new]
        batch["workclass"] = column
        drawn += [chosen, new]
    elif kind == "capital_gain_nonzero_x3":
        gain = batch["capital_gain"]
        batch["capital_gain"] = gain.where(gain == 0, gain * 3)
    elif kind in ("hours_5pct_missing", "hours_20pct_zero"):
        share, value = (0.05, np.nan) if kind == "hours_5pct_missing" else (0.20, 0.0)
        chosen = rng.choice(size, round(share * size), replace=False)
        column = batch["hours_per_week"].to_numpy(dtype="float64").copy()
        column[chosen] = value
        batch["hours_per_week"] = column
        drawn.append(chosen)
    elif kind != "stable":
        raise ValueError(f"unknown batch kind {kind!r}")
    return batch, digest(drawn)


def perf_day(seed: int, key: tuple, pool_rows: int, size: int, fraction: float | None):
    """Rows of half B for one day, and for a drop day which rows' scores are shuffled, how."""
    rng = rng_for(seed, *key)
    idx = rng.integers(0, pool_rows, size)
    if not fraction:
        return idx, None, None, digest([idx])
    chosen = rng.choice(size, round(fraction * size), replace=False)
    perm = rng.permutation(len(chosen))
    return idx, chosen, perm, digest([idx, chosen, perm])


def day_scores(scores, labels, idx, chosen, perm):
    s = scores[idx]
    if chosen is not None:
        s = s.copy()
        s[chosen] = s[chosen][perm]
    return labels[idx], s


def stable_day_key(size: int, seq: int, day: int) -> tuple:
    return ("perf-stable", size, seq, day)


def drop_day_key(drop: float, size: int, trial: int, day: int) -> tuple:
    return ("perf-drop", drop, size, trial, day)


def half_b_features(test, spec: dict):
    features = spec["features"]
    return test.iloc[spec["half_b_index"]][features].reset_index(drop=True)


# -- Evidently worker (its own venv) ---------------------------------------------------------------
def evidently_worker(spec: dict) -> dict:
    import evidently
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset

    train, test = load_adult()
    features = spec["features"]
    reference = Dataset.from_pandas(train[features])
    pool = half_b_features(test, spec)
    counts = spec["counts"]

    def judge(batch) -> dict:
        snapshot = Report([DataDriftPreset()]).run(current_data=Dataset.from_pandas(batch), reference_data=reference)
        columns, count, share, drift_share = {}, None, None, 0.5
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if config["type"].endswith("ValueDrift"):
                # The preset's methods here (reference > 1,000 rows) are distances: drift when value >= threshold.
                columns[config["column"]] = float(metric["value"]) >= config["threshold"]
            elif config["type"].endswith("DriftedColumnsCount"):
                count, share = metric["value"]["count"], metric["value"]["share"]
                drift_share = config.get("drift_share", 0.5)
        if count is not None and int(count) != sum(columns.values()):
            raise RuntimeError(f"Evidently's count {count} is not the sum of its column decisions {columns}")
        return {"dataset_drift": share is not None and share >= drift_share, "columns": columns}

    def run(size: int, kind: str, n: int) -> dict:
        out = {"batches": n, "dataset_drift": 0, "any_column": 0, "flagged": dict.fromkeys(features, 0), "digests": []}
        started = time.perf_counter()
        for k in range(n):
            batch, d = drift_batch(pool, size, kind, k, spec)
            result = judge(batch)
            out["digests"].append(d)
            out["dataset_drift"] += result["dataset_drift"]
            out["any_column"] += any(result["columns"].values())
            for name, drifted in result["columns"].items():
                out["flagged"][name] += drifted
        out["seconds_per_batch"] = (time.perf_counter() - started) / max(n, 1)
        out["digest"] = combine(out.pop("digests"))
        return out

    stable = {}
    for size in spec["sizes"]:
        n = counts["evidently_stable_50000"] if size >= 50000 else counts["evidently_stable"]
        stable[str(size)] = run(size, "stable", n)
        print(f"evidently stable {size}: {stable[str(size)]}", file=sys.stderr, flush=True)
    shifted = {kind: run(SHIFT_SIZE, kind, counts["evidently_shifted"]) for kind in spec["shifts"]}
    return {"version": evidently.__version__, "versions": versions(), "stable": stable, "shifted": shifted}


# -- NannyML worker (its own venv) -----------------------------------------------------------------
def nannyml_worker(spec: dict) -> dict:
    import warnings

    import nannyml
    import numpy as np
    import pandas as pd

    warnings.filterwarnings("ignore")
    train, test = load_adult()
    features = spec["features"]
    pool = half_b_features(test, spec)
    counts = spec["counts"]
    seed = spec["seed"]
    max_group_rows = 1_000_000

    def chunk_rows(result) -> pd.DataFrame:
        return result.filter(period="analysis").to_df()

    def drift_run(size: int, kind: str, n: int) -> dict:
        calc = nannyml.UnivariateDriftCalculator(column_names=features, chunk_size=size).fit(train[features])
        method_thresholds = {}
        out = {"batches": n, "any_column": 0, "flagged": dict.fromkeys(features, 0), "digests": []}
        per_group = max(1, max_group_rows // size)
        started = time.perf_counter()
        for start in range(0, n, per_group):
            frames = []
            for k in range(start, min(n, start + per_group)):
                batch, d = drift_batch(pool, size, kind, k, spec)
                frames.append(batch)
                out["digests"].append(d)
            df = chunk_rows(calc.calculate(pd.concat(frames, ignore_index=True)))
            if len(df) != len(frames):
                raise RuntimeError(f"NannyML made {len(df)} chunks of {len(frames)} batches of {size} rows")
            alerts = {}
            for name in features:
                cols = [c for c in df.columns if c[0] == name and c[-1] == "alert"]
                alerts[name] = df[cols].fillna(False).astype(bool).any(axis=1).to_numpy()
                for c in df.columns:
                    if c[0] == name and c[-1] == "upper_threshold":
                        method_thresholds[f"{name}/{c[1]}"] = _float(df[c].iloc[0])
                out["flagged"][name] += int(alerts[name].sum())
            out["any_column"] += int(np.column_stack(list(alerts.values())).any(axis=1).sum())
        out["seconds"] = time.perf_counter() - started
        out["digest"] = combine(out.pop("digests"))
        out["reference_chunks"] = math.ceil(len(train) / size)
        out["upper_thresholds"] = method_thresholds
        return out

    drift_stable = {}
    for size in spec["sizes"]:
        drift_stable[str(size)] = drift_run(size, "stable", counts["drift_stable"])
        print(f"nannyml drift {size}: any {drift_stable[str(size)]['any_column']}", file=sys.stderr, flush=True)
    drift_shifted = {kind: drift_run(SHIFT_SIZE, kind, counts["drift_shifted"]) for kind in spec["shifts"]}

    # Performance: realized ROC AUC per chunk, reference = half A chunked at the batch size.
    labels_b = np.asarray(spec["labels_b"], dtype=bool)
    scores_b = np.asarray(spec["scores_b"], dtype="float64")
    reference = pd.DataFrame({"y": np.asarray(spec["labels_a"], dtype=int), "score": spec["scores_a"]})

    def perf_calculator(size: int):
        return nannyml.PerformanceCalculator(
            metrics=["roc_auc"],
            y_true="y",
            y_pred_proba="score",
            problem_type="classification_binary",
            chunk_size=size,
        ).fit(reference)

    def perf_alerts(calc, days) -> tuple[list[bool], list[str], dict]:
        """days: (key, size, fraction) in order; returns the alert of each day."""
        alerts, digests, thresholds = [], [], {}
        size = days[0][1] if days else 1
        per_group = max(1, max_group_rows // size)
        for start in range(0, len(days), per_group):
            ys, ss = [], []
            for key, n, fraction in days[start : start + per_group]:
                idx, chosen, perm, d = perf_day(seed, key, len(scores_b), n, fraction)
                y, s = day_scores(scores_b, labels_b, idx, chosen, perm)
                ys.append(y)
                ss.append(s)
                digests.append(d)
            frame = pd.DataFrame({"y": np.concatenate(ys).astype(int), "score": np.concatenate(ss)})
            df = chunk_rows(calc.calculate(frame))
            if len(df) != len(ys):
                raise RuntimeError(f"NannyML made {len(df)} chunks of {len(ys)} days")
            cols = [c for c in df.columns if c[0] == "roc_auc" and c[-1] == "alert"]
            alerts.extend(bool(a) for a in df[cols[0]].fillna(False))
            for c in df.columns:
                if c[0] == "roc_auc" and c[-1] in ("lower_threshold", "upper_threshold"):
                    thresholds[c[-1]] = _float(df[c].iloc[0])
        return alerts, digests, thresholds

    perf_stable, perf_drops = {}, {}
    reference_rows = len(reference)
    for size in spec["sizes"]:
        if reference_rows < 2 * size:
            perf_stable[str(size)] = {
                "applicable": False,
                "why": f"half A ({reference_rows} rows) holds fewer than two chunks of {size} rows",
            }
            continue
        calc = perf_calculator(size)
        days = [
            (stable_day_key(size, seq, day), size, None)
            for seq in range(counts["perf_sequences"])
            for day in range(counts["perf_days"])
        ]
        alerts, digests, thresholds = perf_alerts(calc, days)
        perf_stable[str(size)] = {
            "applicable": True,
            "days": len(alerts),
            "alerts": sum(alerts),
            "digest": combine(digests),
            "reference_chunks": math.ceil(reference_rows / size),
            "thresholds": thresholds,
        }
    for drop, size in DROP_CASES:
        if reference_rows < 2 * size:
            perf_drops[f"{drop}@{size}"] = {"applicable": False}
            continue
        calc = perf_calculator(size)
        fraction = spec["drop_fractions"][str(drop)]
        trials, cap = counts["drop_trials"], counts["drop_days"]
        days = [
            (drop_day_key(drop, size, trial, PRE_DROP_DAYS + day), size, fraction)
            for trial in range(trials)
            for day in range(cap)
        ]
        alerts, digests, thresholds = perf_alerts(calc, days)
        first = []
        for trial in range(trials):
            hits = [d + 1 for d in range(cap) if alerts[trial * cap + d]]
            first.append(hits[0] if hits else None)
        perf_drops[f"{drop}@{size}"] = {
            "applicable": True,
            "first_alert_day": first,
            "digest": combine(digests),
            "thresholds": thresholds,
        }
    return {
        "version": nannyml.__version__,
        "versions": versions(),
        "drift_stable": drift_stable,
        "drift_shifted": drift_shifted,
        "perf_stable": perf_stable,
        "perf_drops": perf_drops,
    }


def _float(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def versions() -> dict:
    import numpy
    import pandas
    import scipy

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pandas.__version__,
    }


def run_worker(python: str, mode: str, spec_path: Path) -> dict:
    started = time.perf_counter()
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [python, __file__, "--worker", mode, "--spec", str(spec_path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"The {mode} worker failed:\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["worker_wall_seconds"] = round(time.perf_counter() - started, 1)
    return out


# -- this package ----------------------------------------------------------------------------------
def auc_only(labels, scores) -> float:
    from scipy.stats import rankdata

    m = int(labels.sum())
    n = len(labels) - m
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - m * (m + 1) / 2) / (m * n))


def calibrate_fraction(labels, scores, drop: float, seed: int, reps: int) -> dict:
    """The fraction f of rows whose scores, shuffled among themselves, lowers the mean AUROC by ``drop``."""
    import numpy as np

    n = len(scores)
    base = auc_only(labels, scores)
    # Common random numbers: each repetition has one order of the rows and one key per row, so the
    # shuffled set grows with f and the mean AUROC is a smooth, decreasing function of f.
    plans = []
    for rep in range(reps):
        rng = rng_for(seed, "calibrate", rep)
        plans.append((rng.permutation(n), rng.random(n)))

    def mean_auc(f: float) -> tuple[float, float]:
        values = []
        for order, keys in plans:
            chosen = order[: round(f * n)]
            s = scores.copy()
            s[chosen] = scores[chosen][np.argsort(keys[chosen])]
            values.append(auc_only(labels, s))
        return float(np.mean(values)), float(np.std(values))

    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2
        if base - mean_auc(mid)[0] < drop:
            low = mid
        else:
            high = mid
    f = (low + high) / 2
    mean, std = mean_auc(f)
    return {"fraction": f, "half_b_auc": base, "mean_auc_after": mean, "achieved_drop": base - mean, "std": std}


class PerfRow:
    """
    One performance rule set, stepped day by day as the monitor DAG's ``performance`` task and
    ``decide`` would (the sequential rule reads the last judged days back; a fixed threshold with
    ``consecutive_runs`` reads the AUROC history).
    """

    def __init__(self, name: str, rules: Any, baseline: float, baseline_source: str, setup, components=None):
        self.name, self.rules, self.setup = name, rules, setup
        self.baseline, self.baseline_source = baseline, baseline_source
        # The DeLong components the null variance comes from: the baseline table's unless given.
        self.components = components
        self.significance = getattr(rules, "significance", "none")
        self.reset()

    def reset(self) -> None:
        self.history: list[float | None] = []
        self.days: list[list[float]] = []

    def judged(self, day: dict) -> bool:
        """The operator's gate: ``min_rows`` rows in all and enough of each class (old code: in each class)."""
        monitoring = self.setup["monitoring"]
        per_class = getattr(monitoring, "MIN_CLASS_ROWS", None)
        need = per_class.get(self.significance, 1) if per_class else DAG_MIN_ROWS
        return day["rows"] >= DAG_MIN_ROWS and min(day["positives"], day["negatives"]) >= need

    def step(self, day: dict) -> str:
        """'alert', 'ok' or 'not_judged' for this day."""
        monitoring, drift = self.setup["monitoring"], self.setup["drift"]
        if not self.judged(day):
            performance = {"status": "insufficient_data", "reason": "batch too small"}
            decision = monitoring.decide(performance, None, self.rules)
            self.history.append(None)
            return "alert" if decision.alert else "not_judged"
        threshold = self.rules.auc_threshold
        run = drift.consecutive_below([*self.history, day["auc"]], threshold) if threshold is not None else 0
        performance = {
            "status": "ok",
            "auc": day["auc"],
            "rows": day["rows"],
            "positives": day["positives"],
            "baseline": self.baseline,
            "baseline_source": self.baseline_source,
            "auc_low": day["auc_low"],
            "auc_high": day["auc_high"],
            "confidence": DELONG_CONFIDENCE,
            "auc_variance": day["variance"],
            "consecutive_below": run,
        }
        if self.significance == "sequential":
            # As PerformanceDriftOperator._sequential: the day's variance under "nothing changed" (the
            # baseline table's DeLong components over the day's class counts), the baseline's own
            # variance, and the last window_days - 1 judged days.
            components = self.components or self.setup["baseline_components"]
            if components is not None and self.baseline_source == "test AUROC":
                _, s10, s01, pb, nb = components
                null_variance = s10 / day["positives"] + s01 / day["negatives"]
                performance["baseline_variance"] = s10 / pb + s01 / nb
            else:
                null_variance = day["variance"]
                performance["baseline_variance"] = None
            window = max(int(getattr(self.rules, "window_days", 1) or 1), 1)
            past = self.days[-(window - 1) :] if window > 1 else []
            performance["auc_null_variance"] = null_variance
            performance["days"] = [*past, [day["auc"], null_variance]]
            self.days.append([day["auc"], null_variance])
        self.history.append(day["auc"])
        return "alert" if monitoring.decide(performance, None, self.rules).alert else "ok"


def day_stats(drift, labels, scores) -> dict:
    positives = int(labels.sum())
    stats = {"rows": len(labels), "positives": positives, "negatives": len(labels) - positives}
    if positives < 2 or stats["negatives"] < 2:
        return {**stats, "auc": float("nan"), "variance": float("nan"), "auc_low": 0.0, "auc_high": 1.0}
    auc, variance = drift.delong_auc_variance(labels, scores)
    half = Z_95 * math.sqrt(max(variance, 0.0))
    return {
        **stats,
        "auc": auc,
        "variance": variance,
        "auc_low": max(0.0, auc - half),
        "auc_high": min(1.0, auc + half),
    }


def performance_rows(setup) -> list[PerfRow]:
    """The rule sets: today's (before issue 17) as named rows, and the package's defaults when it has them."""
    rules = setup["monitoring"].DriftRules
    validation, test = (setup["validation_auc"], "validation AUROC"), (setup["baseline_auc"], "test AUROC")
    rows = [
        PerfRow(
            "old DAG defaults: AUROC < 0.93 or > 0.05 under the validation AUROC",
            rules(auc_threshold=0.93, max_auc_drop=0.05, significance="none", max_drifted_share=None),
            *validation,
            setup,
        ),
        PerfRow(
            "DeLong 95% upper bound < 0.93 or > 0.05 under the validation AUROC",
            rules(auc_threshold=0.93, max_auc_drop=0.05, significance="delong", max_drifted_share=None),
            *validation,
            setup,
        ),
        # auc_threshold=0.0 never fires: the drop rule alone, expressible before None was allowed.
        PerfRow(
            "> 0.05 under the validation AUROC only (auc_threshold=0)",
            rules(auc_threshold=0.0, max_auc_drop=0.05, significance="none", max_drifted_share=None),
            *validation,
            setup,
        ),
        PerfRow(
            "DeLong 95% upper bound > 0.05 under the validation AUROC only (auc_threshold=0)",
            rules(auc_threshold=0.0, max_auc_drop=0.05, significance="delong", max_drifted_share=None),
            *validation,
            setup,
        ),
    ]
    if setup["after"]:
        defaults = rules()
        rows.append(PerfRow("new defaults: DriftRules() (baseline: half A's AUROC, its table)", defaults, *test, setup))
        # The same rules with a perfect baseline (what a test table of any size tends to): the monitored
        # pool's own AUROC, no baseline error or variance, the null variance from the pool's components.
        auc_b, s10, s01, _, _ = setup["pool_components"]
        exact = (auc_b, s10, s01, math.inf, math.inf)
        for name, limit_rules in (
            ("limit: DriftRules(), baseline half B's own AUROC known exactly", defaults),
            ("limit: DriftRules(max_auc_drop=0), baseline known exactly", rules(max_auc_drop=0.0)),
        ):
            rows.append(PerfRow(name, limit_rules, auc_b, "test AUROC", setup, components=exact))
        rows.append(
            PerfRow(
                "new defaults: DriftRules(), baseline the validation AUROC (no table: the day's own variance)",
                defaults,
                *validation,
                setup,
            )
        )
    return rows


def run_performance(setup, counts: dict) -> dict:
    drift = setup["drift"]
    labels, scores, seed = setup["labels_b"], setup["scores_b"], setup["seed"]
    rows = performance_rows(setup)
    out: dict[str, Any] = {
        "rows": [r.name for r in rows],
        "rules": {r.name: repr(r.rules) for r in rows},
        "baselines": {r.name: {"auc": r.baseline, "source": r.baseline_source} for r in rows},
        "stable": {},
        "drops": {},
    }
    for size in SIZES:
        started = time.perf_counter()
        tally = {r.name: {"days": 0, "alerts": 0, "not_judged": 0} for r in rows}
        digests = []
        for seq in range(counts["perf_sequences"]):
            for r in rows:
                r.reset()
            for day in range(counts["perf_days"]):
                idx, _, _, d = perf_day(seed, stable_day_key(size, seq, day), len(scores), size, None)
                digests.append(d)
                stats = day_stats(drift, *day_scores(scores, labels, idx, None, None))
                for r in rows:
                    result = r.step(stats)
                    t = tally[r.name]
                    t["days"] += 1
                    t["alerts"] += result == "alert"
                    t["not_judged"] += result == "not_judged"
        for t in tally.values():
            t["alerts_per_100_days"] = 100 * t["alerts"] / t["days"]
        out["stable"][str(size)] = {"rows": tally, "digest": combine(digests), "seconds": time.perf_counter() - started}
        print(f"  performance stable {size}: {time.perf_counter() - started:.1f} s", flush=True)
    cap = counts["drop_days"]
    for drop, size in DROP_CASES:
        started = time.perf_counter()
        fraction = setup["drop_fractions"][str(drop)]
        first: dict[str, list[int | None]] = {r.name: [] for r in rows}
        pre_alerts = dict.fromkeys(first, 0)
        digests = []
        for trial in range(counts["drop_trials"]):
            for r in rows:
                r.reset()
            hit: dict[str, int | None] = dict.fromkeys(first)
            for day in range(PRE_DROP_DAYS + cap):
                dropped = day >= PRE_DROP_DAYS
                idx, chosen, perm, d = perf_day(
                    seed, drop_day_key(drop, size, trial, day), len(scores), size, fraction if dropped else None
                )
                if dropped:
                    digests.append(d)
                stats = day_stats(drift, *day_scores(scores, labels, idx, chosen, perm))
                for r in rows:
                    alert = r.step(stats) == "alert"
                    if not dropped:
                        pre_alerts[r.name] += alert
                    elif alert and hit[r.name] is None:
                        hit[r.name] = day - PRE_DROP_DAYS + 1
            for name in first:
                first[name].append(hit[name])
        out["drops"][f"{drop}@{size}"] = {
            "drop": drop,
            "rows_a_day": size,
            "fraction": fraction,
            "digest": combine(digests),
            "rows": {
                name: {
                    **detection_summary(days, cap),
                    "pre_drop_alerts_per_100_days": 100 * pre_alerts[name] / (PRE_DROP_DAYS * counts["drop_trials"]),
                }
                for name, days in first.items()
            },
        }
        print(f"  performance drop {drop} at {size}: {time.perf_counter() - started:.1f} s", flush=True)
    return out


def detection_summary(first: list[int | None], cap: int) -> dict:
    n = len(first)
    days = [math.inf if d is None else d for d in first]
    median = statistics.median(days) if days else math.inf
    return {
        "trials": n,
        "within_1": sum(d <= 1 for d in days) / n,
        "within_2": sum(d <= 2 for d in days) / n,
        "within_3": sum(d <= 3 for d in days) / n,
        "detected_within_cap": sum(d <= cap for d in days) / n,
        "cap_days": cap,
        "median_days": None if math.isinf(median) else median,
        "first_alert_day": first,
    }


def data_rows(setup) -> list[dict]:
    monitoring = setup["monitoring"]
    rules = monitoring.DriftRules
    rows = [
        {"name": "distance >= 0.1 (Evidently's statistics), any feature", "method": "distance", "rules": None},
        {
            "name": "old DAG defaults: distance, > 50% of features drifted (max_drifted_share=0.5)",
            "method": "distance",
            "rules": rules(max_drifted_share=0.5),
        },
    ]
    if setup["tests_method"]:
        rows.append({"name": "tests (method='tests'), any feature flagged", "method": "tests", "rules": None})
    if setup["after"]:
        rows.insert(-1, {"name": "new defaults: tests, DriftRules()", "method": "tests", "rules": rules()})
    return rows


def judge_batch(setup, rows: list[dict], batch, timing: dict) -> dict:
    """Per row: (day alerted, flagged features) for one batch; each method computed once."""
    drift, monitoring = setup["drift"], setup["monitoring"]
    per_method = {}
    for method in {r["method"] for r in rows}:
        started = time.perf_counter()
        if setup["tests_method"]:
            results = drift.compute_feature_drift(setup["profile"], batch, method=method)
        else:  # the code before method=: its only rule is the distance
            results = drift.compute_feature_drift(setup["profile"], batch)
        timing.setdefault(method, []).append(time.perf_counter() - started)
        per_method[method] = results
    out = {}
    for r in rows:
        results = per_method[r["method"]]
        drifted = [x for x in results if x["drifted"]]
        if r["rules"] is None:
            alert = bool(drifted)
        else:
            data_drift = {"drifted": drifted, "drifted_share": drift.drifted_share(results)}
            insufficient = {"status": "insufficient_data", "reason": "x"}
            alert = monitoring.decide(insufficient, data_drift, r["rules"]).alert
        out[r["name"]] = (alert, {x["feature"] for x in drifted})
    return out


def run_data_drift(setup, counts: dict) -> dict:
    rows = data_rows(setup)
    pool, features, spec = setup["pool"], setup["features"], setup["spec"]
    out: dict[str, Any] = {
        "rows": [r["name"] for r in rows],
        "rules": {
            r["name"]: {"method": r["method"], "decide": repr(r["rules"]) if r["rules"] else "any feature"}
            for r in rows
        },
        "stable": {},
        "shifted": {},
        "seconds_per_batch": {},
    }

    def run(size: int, kind: str, n: int) -> dict:
        tally = {r["name"]: {"batches": n, "alerts": 0, "flagged": dict.fromkeys(features, 0)} for r in rows}
        digests, timing = [], {}
        for k in range(n):
            batch, d = drift_batch(pool, size, kind, k, spec)
            digests.append(d)
            for name, (alert, flagged) in judge_batch(setup, rows, batch, timing).items():
                tally[name]["alerts"] += alert
                for f in flagged:
                    tally[name]["flagged"][f] += 1
        out["seconds_per_batch"][f"{kind}@{size}"] = {m: statistics.median(v) for m, v in timing.items()}
        return {"rows": tally, "digests": digests, "digest": combine(digests)}

    for size in SIZES:
        started = time.perf_counter()
        out["stable"][str(size)] = run(size, "stable", counts["drift_stable"])
        print(f"  data drift stable {size}: {time.perf_counter() - started:.1f} s", flush=True)
    for kind in SHIFTS:
        out["shifted"][kind] = run(SHIFT_SIZE, kind, counts["drift_shifted"])
    return out


def train_model(train, test, features: list[str], seed: int) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]

    def encode(df):
        x = df[features].copy()
        for c in categorical:
            x[c] = pd.Categorical(x[c], categories=sorted(train[c].dropna().unique()))
        return x

    y = (train[LABEL] == POSITIVE).to_numpy()
    fit_idx, val_idx = train_test_split(np.arange(len(train)), test_size=0.2, random_state=seed, stratify=y)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    x = encode(train)
    started = time.perf_counter()
    model.fit(x.iloc[fit_idx], y[fit_idx])
    fit_seconds = time.perf_counter() - started
    validation_auc = auc_only(y[val_idx], model.predict_proba(x.iloc[val_idx])[:, 1])
    order = np.random.default_rng(seed).permutation(len(test))
    half = len(test) // 2
    half_a, half_b = np.sort(order[:half]), np.sort(order[half:])
    test_scores = model.predict_proba(encode(test))[:, 1]
    test_labels = (test[LABEL] == POSITIVE).to_numpy()
    return {
        "fit_seconds": fit_seconds,
        "validation_auc": validation_auc,
        "validation_rows": len(val_idx),
        "half_a_index": half_a,
        "half_b_index": half_b,
        "scores_a": test_scores[half_a],
        "labels_a": test_labels[half_a],
        "scores_b": test_scores[half_b],
        "labels_b": test_labels[half_b],
    }


# -- tables and goals ------------------------------------------------------------------------------
def fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def collect(report: dict) -> dict:
    """All rows, ours and the other tools', in one shape for the tables and the goals."""
    perf_stable: dict[str, dict[str, float | None]] = {}
    perf_drop: dict[str, dict[str, dict]] = {}
    data_stable: dict[str, dict[str, float | None]] = {}
    data_shift: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    ours_p, ours_d = report["performance"], report["data_drift"]
    for name in ours_p["rows"]:
        perf_stable[name] = {s: v["rows"][name]["alerts_per_100_days"] for s, v in ours_p["stable"].items()}
        perf_drop[name] = {case: v["rows"][name] for case, v in ours_p["drops"].items()}
    for name in ours_d["rows"]:
        data_stable[name] = {
            s: 100 * v["rows"][name]["alerts"] / v["rows"][name]["batches"] for s, v in ours_d["stable"].items()
        }
        data_shift[name] = {}
        for kind, v in ours_d["shifted"].items():
            t = v["rows"][name]
            feature = SHIFTS[kind][0]
            data_shift[name][kind] = (t["alerts"] / t["batches"], t["flagged"][feature] / t["batches"])
    ev = report.get("evidently")
    if ev:
        tag = f"Evidently {ev['version']} DataDriftPreset"
        for label, key in (("dataset drift (share >= 0.5)", "dataset_drift"), ("any column drifted", "any_column")):
            name = f"{tag}: {label}"
            data_stable[name] = {s: 100 * v[key] / v["batches"] for s, v in ev["stable"].items()}
            data_shift[name] = {
                kind: (v[key] / v["batches"], v["flagged"][SHIFTS[kind][0]] / v["batches"])
                for kind, v in ev["shifted"].items()
            }
    nm = report.get("nannyml")
    if nm:
        name = f"NannyML {nm['version']} UnivariateDriftCalculator: any column alert"
        data_stable[name] = {s: 100 * v["any_column"] / v["batches"] for s, v in nm["drift_stable"].items()}
        data_shift[name] = {
            kind: (v["any_column"] / v["batches"], v["flagged"][SHIFTS[kind][0]] / v["batches"])
            for kind, v in nm["drift_shifted"].items()
        }
        name = f"NannyML {nm['version']} PerformanceCalculator roc_auc (reference: half A)"
        perf_stable[name] = {
            s: (100 * v["alerts"] / v["days"] if v["applicable"] else None) for s, v in nm["perf_stable"].items()
        }
        perf_drop[name] = {
            case: (detection_summary(v["first_alert_day"], report["counts"]["drop_days"]) if v["applicable"] else None)
            for case, v in nm["perf_drops"].items()
        }
    return {"perf_stable": perf_stable, "perf_drop": perf_drop, "data_stable": data_stable, "data_shift": data_shift}


def goals(rows: dict) -> dict:
    """Each goal of issue 17, per row: met or missed, with the numbers."""
    out: dict[str, dict] = {}
    for name, per_size in rows["perf_stable"].items():
        values = [v for v in per_size.values() if v is not None]
        out.setdefault(name, {})["performance stable <= 1 / 100 days at every size"] = {
            "met": bool(values) and len(values) == len(per_size) and max(values) <= 1.0,
            "worst": max(values) if values else None,
            "not_applicable_at": [s for s, v in per_size.items() if v is None],
        }
    for name, cases in rows["perf_drop"].items():
        c1, c2 = cases.get("0.03@1000"), cases.get("0.07@500")
        out.setdefault(name, {})["drop 0.03 at 1,000 rows alerted within 3 days in >= 95%"] = {
            "met": bool(c1) and c1["within_3"] >= 0.95,
            "value": c1 and c1["within_3"],
        }
        out[name]["drop 0.07 at 500 rows alerted on day 1 (judged against >= 95%)"] = {
            "met": bool(c2) and c2["within_1"] >= 0.95,
            "value": c2 and c2["within_1"],
        }
    for name, per_size in rows["data_stable"].items():
        worst = max(per_size.values())
        out.setdefault(name, {})["data stable <= 5 / 100 days at every size"] = {"met": worst <= 5.0, "worst": worst}
    for name, shifts in rows["data_shift"].items():
        for kind, (alerted, flagged) in shifts.items():
            out.setdefault(name, {})[f"{kind} at 1,000 rows: alerted and feature flagged in >= 90%"] = {
                "met": alerted >= 0.9 and flagged >= 0.9,
                "alerted": alerted,
                "flagged": flagged,
            }
    return out


def print_tables(report: dict) -> str:
    rows = collect(report)
    counts = report["counts"]
    parts = []
    sizes = [str(s) for s in SIZES]
    parts.append(
        f"### Performance rule, stable days: alerts per 100 days ({counts['perf_sequences']} sequences x "
        f"{counts['perf_days']} days per size; goal <= 1)\n"
    )
    parts.append(
        table(
            ["rule", *[f"{int(s):,} rows" for s in sizes]],
            [[name, *[perf_cell(report, name, v, s) for s in sizes]] for name, v in rows["perf_stable"].items()],
        )
    )
    stable = report["performance"]["stable"]
    first = report["performance"]["rows"][0]
    shares = [stable[s]["rows"][first]["not_judged"] / stable[s]["rows"][first]["days"] for s in sizes]
    parts.append(
        f"\nDays not judged by our rules ({report['gate']}): "
        + ", ".join(f"{pct(x)} at {int(s):,} rows" for x, s in zip(shares, sizes, strict=True))
    )
    cases = [f"{d}@{s}" for d, s in DROP_CASES]
    parts.append(
        f"\n### Performance rule, sustained AUROC drops: share alerted within 1 / 2 / 3 days, median days "
        f"({counts['drop_trials']} trials of {PRE_DROP_DAYS} stable days then up to {counts['drop_days']} drop days)\n"
    )
    fractions = report["drop_calibration"]
    parts.append(
        "Drop fractions (bisection on half B): "
        + ", ".join(f"{d}: f = {fractions[str(d)]['fraction']:.4f}" for d in DROPS)
        + "\n"
    )
    body = []
    for name, per_case in rows["perf_drop"].items():
        cells = []
        for case in cases:
            c = per_case.get(case)
            if not c:
                cells.append("n/a")
                continue
            median = fmt(c["median_days"], 0) if c["median_days"] is not None else f">{c['cap_days']}"
            cells.append(f"{pct(c['within_1'])} / {pct(c['within_2'])} / {pct(c['within_3'])}, {median}")
        body.append([name, *cells])
    header = [f"drop {d} at {int(s):,} rows" for d, s in DROP_CASES]
    parts.append(table(["rule", *header], body))
    parts.append(
        f"\n### Data drift, stable batches: alerts per 100 days ({counts['drift_stable']} batches per size; "
        f"Evidently {counts['evidently_stable']}, {counts['evidently_stable_50000']} at 50,000; goal <= 5)\n"
    )
    parts.append(
        table(
            ["rule", *[f"{int(s):,} rows" for s in sizes]],
            [[name, *[fmt(v.get(s)) for s in sizes]] for name, v in rows["data_stable"].items()],
        )
    )
    parts.append(
        f"\n### Data drift, one feature shifted, {SHIFT_SIZE:,} rows: day alerted / shifted feature flagged "
        f"({counts['drift_shifted']} batches per shift; Evidently {counts['evidently_shifted']}; goal >= 90%)\n"
    )
    parts.append(
        table(
            ["rule", *[SHIFTS[k][1] for k in SHIFTS]],
            [
                [name, *[f"{pct(v[k][0])} / {pct(v[k][1])}" if k in v else "n/a" for k in SHIFTS]]
                for name, v in rows["data_shift"].items()
            ],
        )
    )
    text = "\n".join(parts)
    print("\n" + text, flush=True)
    report["goals"] = goals(rows)
    print("\n### Goals missed", flush=True)
    for name, checks in report["goals"].items():
        missed = {k: v for k, v in checks.items() if not v["met"]}
        if missed:
            print(f"- {name}: " + "; ".join(f"{k} ({_short(v)})" for k, v in missed.items()))
    return text


def perf_cell(report: dict, name: str, values: dict, size: str) -> str:
    """Alerts per 100 days, with the share of days our rules could not judge (too few rows in a class)."""
    value = values.get(size)
    if value is None:
        return "n/a"
    tally = report["performance"]["stable"][size]["rows"].get(name)
    if not tally or not tally["not_judged"]:
        return fmt(value)
    if tally["not_judged"] == tally["days"]:
        return "not judged"
    return f"{fmt(value)} ({pct(tally['not_judged'] / tally['days'])} not judged)"


def _short(v: dict) -> str:
    return ", ".join(f"{k} {fmt(x, 3) if isinstance(x, float) else x}" for k, x in v.items() if k != "met")


def check_digests(report: dict) -> list[str]:
    """The other tools' workers must have judged exactly the batches ours did."""
    problems = []
    ours_d, ours_p = report["data_drift"], report["performance"]

    def same(label: str, ours_list: list[str], n: int, theirs: str) -> None:
        if combine(ours_list[:n]) != theirs:
            problems.append(label)

    ev = report.get("evidently")
    if ev:
        for s, v in ev["stable"].items():
            same(f"evidently stable {s}", ours_d["stable"][s]["digests"], v["batches"], v["digest"])
        for k, v in ev["shifted"].items():
            same(f"evidently {k}", ours_d["shifted"][k]["digests"], v["batches"], v["digest"])
    nm = report.get("nannyml")
    if nm:
        for s, v in nm["drift_stable"].items():
            same(f"nannyml stable {s}", ours_d["stable"][s]["digests"], v["batches"], v["digest"])
        for k, v in nm["drift_shifted"].items():
            same(f"nannyml {k}", ours_d["shifted"][k]["digests"], v["batches"], v["digest"])
        for s, v in nm["perf_stable"].items():
            if v["applicable"] and v["digest"] != ours_p["stable"][s]["digest"]:
                problems.append(f"nannyml performance stable {s}")
        for case, v in nm["perf_drops"].items():
            if v["applicable"] and v["digest"] != ours_p["drops"][case]["digest"]:
                problems.append(f"nannyml performance drop {case}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evidently-python", help="python of a venv with evidently 0.7.x (skipped if not given)")
    parser.add_argument("--nannyml-python", help="python of a venv with nannyml 0.13.x (skipped if not given)")
    parser.add_argument("--quick", action="store_true", help="fewer batches and days, for trying the harness")
    parser.add_argument(
        "--package-rev",
        help="judge with airflow_automl_provider as of this git revision (exported to a temporary folder), "
        "not the working tree's",
    )
    parser.add_argument(
        "--reuse-others",
        type=Path,
        help="take the Evidently and NannyML results from this earlier results file (same seed and counts; "
        "the batches' digests are checked) instead of running them again",
    )
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", choices=["evidently", "nannyml"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.spec.read_text())
        use_package(Path(spec["package_path"]))  # the comparison venvs do not have this package installed
        out = evidently_worker(spec) if args.worker == "evidently" else nannyml_worker(spec)
        print("\n" + json.dumps(out), flush=True)
        return

    with tempfile.TemporaryDirectory(prefix="drift_quality_") as tmp:
        run(args, Path(tmp))


def export_package(rev: str, dest: Path) -> tuple[Path, str]:
    """``airflow_automl_provider`` as of ``rev``, in ``dest``; and the revision's short hash."""
    short = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", rev, "airflow_automl_provider"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest, short


def run(args, tmp: Path) -> None:
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _common as c

    if args.package_rev:
        package_path, package_rev = export_package(args.package_rev, tmp / "package")
    else:
        package_path, package_rev = ROOT, c.git_head()
    use_package(package_path)
    drift, monitoring = provider_modules()
    import airflow_automl_provider

    print(f"airflow_automl_provider from {Path(airflow_automl_provider.__file__).parent} ({package_rev})", flush=True)

    started_wall = time.time()
    started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    counts = dict(QUICK if args.quick else FULL)
    train, test = load_adult()
    features = [col for col in train.columns if col != LABEL]
    model = train_model(train, test, features, args.seed)
    print(f"model: validation AUROC {model['validation_auc']:.4f} (fit {model['fit_seconds']:.1f} s)", flush=True)

    import inspect

    after = hasattr(monitoring, "performance_statistics") and hasattr(monitoring.DriftRules, "window_days")
    tests_method = "method" in inspect.signature(drift.compute_feature_drift).parameters
    labels_a, scores_a = model["labels_a"], model["scores_a"]
    baseline_auc = auc_only(labels_a, scores_a)
    positives_a = int(labels_a.sum())
    negatives_a = len(labels_a) - positives_a
    baseline_variance = (
        drift.hanley_mcneil_variance(baseline_auc, positives_a, negatives_a)
        if hasattr(drift, "hanley_mcneil_variance")
        else None
    )
    calibration = {
        str(d): calibrate_fraction(model["labels_b"], model["scores_b"], d, args.seed, counts["calibration_reps"])
        for d in DROPS
    }
    for d, cal in calibration.items():
        print(f"drop {d}: fraction {cal['fraction']:.4f}, achieved {cal['achieved_drop']:.4f}", flush=True)

    workclass = train["workclass"].value_counts(dropna=True)
    top = str(workclass.index[0])
    others = workclass.iloc[1:]
    spec = {
        "seed": args.seed,
        "sizes": list(SIZES),
        "shifts": list(SHIFTS),
        "features": features,
        "counts": counts,
        "half_a_index": model["half_a_index"].tolist(),
        "half_b_index": model["half_b_index"].tolist(),
        "labels_a": model["labels_a"].astype(int).tolist(),
        "scores_a": model["scores_a"].tolist(),
        "labels_b": model["labels_b"].astype(int).tolist(),
        "scores_b": model["scores_b"].tolist(),
        "drop_fractions": {d: cal["fraction"] for d, cal in calibration.items()},
        "workclass_shift": {
            "top": top,
            "others": [str(x) for x in others.index],
            "shares": (others / others.sum()).tolist(),
        },
    }
    profile = json.loads(json.dumps(drift.build_reference_profile(train, features)))
    setup = {
        "drift": drift,
        "monitoring": monitoring,
        "seed": args.seed,
        "after": after,
        "tests_method": tests_method,
        "validation_auc": model["validation_auc"],
        "baseline_auc": baseline_auc,
        "baseline_variance": baseline_variance,
        "baseline_components": (
            drift.delong_components(labels_a, scores_a) if hasattr(drift, "delong_components") else None
        ),
        "pool_components": (
            drift.delong_components(model["labels_b"], model["scores_b"])
            if hasattr(drift, "delong_components")
            else None
        ),
        "labels_b": np.asarray(model["labels_b"], dtype=bool),
        "scores_b": np.asarray(model["scores_b"], dtype="float64"),
        "drop_fractions": spec["drop_fractions"],
        "profile": profile,
        "pool": half_b_features(test, spec),
        "features": features,
        "spec": spec,
    }
    phase = {}
    t0 = time.perf_counter()
    print("our performance rules ...", flush=True)
    performance = run_performance(setup, counts)
    phase["ours_performance"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    print("our data drift rules ...", flush=True)
    data_drift = run_data_drift(setup, counts)
    phase["ours_data_drift"] = time.perf_counter() - t0

    spec_path = tmp / "spec.json"
    spec_path.write_text(json.dumps({**spec, "package_path": str(package_path)}))
    evidently = nannyml = None
    reused = None
    if args.reuse_others:
        earlier = json.loads(args.reuse_others.read_text())
        if earlier["seed"] != args.seed or earlier["counts"] != counts:
            raise SystemExit(f"{args.reuse_others} was run with another seed or other counts")
        evidently, nannyml = earlier.get("evidently"), earlier.get("nannyml")
        reused = {
            "file": str(args.reuse_others),
            "command": earlier.get("command"),
            "run_started_utc": earlier.get("run_started_utc"),
            "load_average_at_start": earlier.get("load_average_at_start"),
            "seconds": earlier.get("seconds"),
        }
        if earlier.get("others_reused_from"):
            reused = earlier["others_reused_from"]
    if args.evidently_python:
        print("Evidently worker ...", flush=True)
        t0 = time.perf_counter()
        evidently = run_worker(args.evidently_python, "evidently", spec_path)
        phase["evidently"] = time.perf_counter() - t0
    if args.nannyml_python:
        print("NannyML worker ...", flush=True)
        t0 = time.perf_counter()
        nannyml = run_worker(args.nannyml_python, "nannyml", spec_path)
        phase["nannyml"] = time.perf_counter() - t0

    report = {
        "command": c.command_line(),
        "run_started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started_wall)),
        "machine": c.machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": None,
        "versions": versions(),
        "quick": args.quick,
        "seed": args.seed,
        "counts": counts,
        "package": {"revision": package_rev, "from": "git archive" if args.package_rev else "working tree"},
        "api": {"performance_statistics": after, "compute_feature_drift_method": tests_method},
        "model": {
            "kind": "HistGradientBoostingClassifier(categorical_features='from_dtype')",
            "fit_seconds": model["fit_seconds"],
            "validation_auc": model["validation_auc"],
            "validation_rows": model["validation_rows"],
            "half_a_rows": len(labels_a),
            "half_a_auc": baseline_auc,
            "half_a_positives": positives_a,
            "half_a_negatives": negatives_a,
            "half_a_hanley_mcneil_variance": baseline_variance,
            "half_b_rows": len(model["labels_b"]),
            "half_b_auc": auc_only(model["labels_b"], model["scores_b"]),
        },
        "drop_calibration": calibration,
        "min_rows": DAG_MIN_ROWS,
        "gate": (
            f"under min_rows = {DAG_MIN_ROWS} rows in all, or too few of a class for the AUROC"
            if hasattr(monitoring, "MIN_CLASS_ROWS")
            else f"fewer than min_rows = {DAG_MIN_ROWS} rows of a class"
        ),
        "shifts": {k: {"feature": f, "what": w} for k, (f, w) in SHIFTS.items()},
        "performance": performance,
        "data_drift": data_drift,
        "evidently": evidently,
        "nannyml": nannyml,
        "others_reused_from": reused,
    }
    report["digest_mismatches"] = check_digests(report)
    for section in (*data_drift["stable"].values(), *data_drift["shifted"].values()):
        section.pop("digests")  # compared above; the combined digest stays
    if report["digest_mismatches"]:
        print(f"WARNING: other tools judged other batches: {report['digest_mismatches']}", flush=True)
    report["tables_markdown"] = print_tables(report)
    phase["total"] = time.perf_counter() - started
    report["seconds"] = {k: round(v, 1) for k, v in phase.items()}
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"\ntime: {json.dumps(report['seconds'])}; load at start {load_at_start}, at end {report['load_average_at_end']}"
    )
    c.write_json(args.output, report)


if __name__ == "__main__":
    main()
