"""
Demo data and loaders: ``python -m airflow_automl_provider.demo seed|show``.

``seed`` fills the ``automl_default`` database with a train and a test table, either generated
(deterministic, census-like: numeric and categorical columns, a binary ``class``) or read from the
user's own CSV files. ``show`` prints the tracking tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "class",
]


def load_uci_adult(path: str) -> pd.DataFrame:
    """Read a UCI Adult file (``adult.data`` or ``adult.test``): strip the ", " padding and the test labels' dots."""
    import pandas as pd

    df = pd.read_csv(
        path,
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        comment="|",
        na_values=["?"],
        skip_blank_lines=True,
    )
    df["class"] = df["class"].str.rstrip(".")
    return df


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    """A census-like table with a known signal: ``class`` is ``>50K`` or ``<=50K``."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    education = np.array(["HS-grad", "Some-college", "Bachelors", "Masters", "Doctorate", "11th"])
    edu_years = np.array([9, 10, 13, 14, 16, 7])
    edu_idx = rng.choice(len(education), size=n, p=[0.32, 0.22, 0.2, 0.1, 0.04, 0.12])
    occupations = np.array(["Exec-managerial", "Prof-specialty", "Sales", "Craft-repair", "Adm-clerical", "Other"])
    occ_effect = np.array([0.9, 0.8, 0.2, 0.0, -0.3, -0.6])
    occ_idx = rng.choice(len(occupations), size=n)
    age = rng.integers(18, 80, size=n)
    hours = np.clip(rng.normal(40, 11, size=n).round(), 1, 99).astype(int)
    married = rng.random(n) < 0.47
    sex = np.where(rng.random(n) < 0.67, "Male", "Female")
    capital_gain = np.where(rng.random(n) < 0.09, rng.lognormal(8.5, 1.0, size=n).round(), 0).astype(int)
    logit = (
        -14.5
        + 0.5 * edu_years[edu_idx]
        + 0.07 * np.minimum(age, 60)
        + 0.05 * hours
        + 2.2 * married
        + 1.2 * occ_effect[occ_idx]
        + 0.3 * (sex == "Male")
        + 3.0 * (capital_gain > 5000)
        + rng.normal(0, 0.3, size=n)
    )
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), ">50K", "<=50K")
    start = pd.Timestamp("2026-01-01")
    return pd.DataFrame(
        {
            "age": age,
            "workclass": rng.choice(["Private", "Self-emp", "Gov"], size=n, p=[0.7, 0.15, 0.15]),
            "education": education[edu_idx],
            "education_num": edu_years[edu_idx],
            "marital_status": np.where(married, "Married", "Never-married"),
            "occupation": occupations[occ_idx],
            "sex": sex,
            "capital_gain": capital_gain,
            "hours_per_week": hours,
            "time": (start + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")).strftime("%Y-%m-%d"),
            "class": label,
        }
    )


def seed(conn_id: str, train_csv: str | None, test_csv: str | None, rows: int) -> None:
    import pandas as pd

    from airflow_automl_provider.hooks.tracking import TrackingHook

    if train_csv:
        train = pd.read_csv(train_csv, skipinitialspace=True)
        test = pd.read_csv(test_csv, skipinitialspace=True) if test_csv else train.sample(frac=0.3, random_state=0)
    else:
        train, test = generate(rows, seed=1), generate(rows // 2, seed=2)
    hook = TrackingHook(conn_id=conn_id)
    for name, df in (("gluon_train", train), ("gluon_test", test)):
        hook.replace_with_frame(name, df)
        print(f"seeded {name}: {len(df)} rows, columns {list(df.columns)}")


def show(conn_id: str) -> None:
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

    hook = TrackingHook(conn_id=conn_id)
    views = {
        EXPERIMENTS.name: ["task_attempt_id", "session_time", "user_id", "model_name", "shared_model", "notebook_url"],
        EVAL_RESULTS.name: ["session_time", "model_name", "test_table", "auroc", "accuracy", "f1", "num_rows"],
    }
    for table, cols in views.items():
        frame = hook.read_frame(table, columns=cols)
        print(f"\n== {table} ({len(frame)} rows)")
        print(frame.to_string(index=False) if len(frame) else "(empty)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_automl_provider.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="create the demo train and test tables")
    p_seed.add_argument("--conn-id", default="automl_default")
    p_seed.add_argument("--train-csv", default=os.environ.get("TRAIN_CSV") or None)
    p_seed.add_argument("--test-csv", default=os.environ.get("TEST_CSV") or None)
    p_seed.add_argument("--rows", type=int, default=6000)
    p_show = sub.add_parser("show", help="print the tracking tables")
    p_show.add_argument("--conn-id", default="automl_default")
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.conn_id, args.train_csv, args.test_csv, args.rows)
    else:
        show(args.conn_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
