"""
The demo's data: the UCI Adult files as the tests and benchmarks read them, a generated census-like
table with a known signal, and a simulated run of days whose data drifts from a known day.

Imports nothing from ``airflow_automl_provider``: ``benchmarks/drift_quality.py --package-rev`` loads
the data with an older revision of the package on ``sys.path``.
"""

from __future__ import annotations

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


def simulate_days(
    df: pd.DataFrame, *, start: str, days: int, drift_from: int, target: str = "class", seed: int = 0
) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """
    Spread labelled rows over ``days`` days and inject drift from day ``drift_from`` (0-based) on.

    Day ``i``'s rows get an ``event_time`` in ``[start + i days 07:00, start + i + 1 days 07:00)`` UTC,
    the data interval of the monitor's run at ``start + i + 1 days 07:00``; those run times are returned.
    The drift: ``age`` + 12 and ``hours_per_week`` x 1.25 (data drift), and the label flipped for
    married men (concept drift: the model's AUROC falls).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    out = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    day = np.arange(len(out)) * days // len(out)
    t0 = pd.Timestamp(start, tz="UTC") + pd.Timedelta(hours=7)
    out["event_time"] = (
        t0 + pd.to_timedelta(day, unit="D") + pd.to_timedelta(rng.uniform(0, 86_399, len(out)), unit="s")
    )
    out["event_time"] = out["event_time"].dt.floor("s").dt.tz_localize(None)
    drifted = day >= drift_from
    out.loc[drifted, "age"] = out.loc[drifted, "age"] + 12
    out.loc[drifted, "hours_per_week"] = (out.loc[drifted, "hours_per_week"] * 1.25).round().astype(int)
    married_men = drifted & out["marital_status"].astype(str).str.startswith("Married") & (out["sex"] == "Male")
    labels = sorted(out[target].dropna().unique())
    flip = dict(zip(labels, reversed(labels), strict=True))
    out.loc[married_men, target] = out.loc[married_men, target].map(flip)
    runs = [t0 + pd.Timedelta(days=i + 1) for i in range(days)]
    return out, runs
