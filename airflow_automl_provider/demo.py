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
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.constants import DEFAULT_CONN_ID

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailCatcher:
    """
    aiosmtpd handler that keeps the messages it receives (the local SMTP server of demos and tests).

    :param folder: also save each message there as ``<UTC time>-<random>.eml`` (the raw message as
        received, names sort by arrival), so people and pages can read the mails after the catcher stops.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.messages: list[Any] = []
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        if self.folder is not None:
            self._save(envelope.content)
        return "250 Message accepted for delivery"

    def _save(self, content: bytes) -> str:
        import uuid
        from datetime import UTC, datetime
        from pathlib import Path

        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.eml"
        # Written under a dot name, then renamed: a reader never sees half a message.
        partial = folder / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(folder / name)
        return str(folder / name)


def week(conn_id: str, days: int, drift_from: int, threshold: float | None, log_path: str) -> None:
    """Run the drift monitor over a simulated week whose data drifts from a known day; print what alerted."""
    import json
    import re
    import subprocess
    from pathlib import Path

    from aiosmtpd.controller import Controller

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS

    daily, runs = simulate_days(generate(days * 1500, seed=3), start="2026-11-01", days=days, drift_from=drift_from)
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("gluon_daily", daily)
    print(f"seeded gluon_daily: {len(daily)} rows over {days} days, drift injected from {runs[drift_from].date()} on")

    port = free_port()
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
    catcher = MailCatcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "AIRFLOW_CONN_SMTP_DEFAULT": f"smtp://127.0.0.1:{port}?disable_ssl=true&disable_tls=true"
        "&from_email=automl%40example.com&retry_limit=0",
    }
    conf = {
        "conn_id": conn_id,
        "test_data_table": "gluon_daily",
        "time_column": "event_time",
        "alert_to": "ml-team@example.com",
        # Empty by default: the monitor's own rules (the drop under the model's test AUROC, the tests per feature).
        **({"drift_auc_threshold": threshold} if threshold is not None else {}),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    try:
        with open(log_path, "w") as log:
            for day in runs:
                seen = len(catcher.messages)
                done = subprocess.run(
                    [airflow, "dags", "test", "automl_drift_monitor", day.isoformat(), "-c", json.dumps(conf)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
                if done.returncode != 0:
                    raise SystemExit(f"automl_drift_monitor failed for {day}: see {log_path}")
                # This day's run (its logical date), not the newest row: the table may hold other runs'
                # (make airflow's, say) recorded later.
                (auroc, status, run_id) = hook.tracking_rows(
                    EVAL_RESULTS,
                    ["auroc", "status", "run_id"],
                    [("dag_id", "=", "automl_drift_monitor"), ("session_time", "=", day.to_pydatetime())],
                    order_by="run_id",
                    descending=True,
                    limit=1,
                )[0]
                auroc = float("nan") if auroc is None else auroc
                drifted = [
                    f"{feature} ({statistic} {value:.3f})"
                    for feature, statistic, value, flag in hook.tracking_rows(
                        DRIFT_RESULTS,
                        ["feature", "statistic", "value", "drifted"],
                        [("run_id", "=", run_id)],
                        order_by="feature",
                        limit=10_000,
                    )
                    if flag
                ]
                new = catcher.messages[seen:]
                reasons = []
                for mail in new:
                    body = mail.get_body(("html",)).get_content()
                    reasons += re.findall(r"<li>(.*?)</li>", body)
                verdict = "ALERT e-mailed" if new else "no drift"
                print(f"{day.date()} 07:00 UTC  AUROC {auroc:.4f}  {status:<5} {verdict}")
                print(f"    drifted features: {', '.join(drifted) or 'none'}")
                for reason in reasons:
                    print(f"    why: {reason}")
    finally:
        controller.stop()
    print(f"{len(catcher.messages)} alert e-mail(s) caught by the local SMTP server on 127.0.0.1:{port}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_automl_provider.demo")
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="create the demo train and test tables")
    p_seed.add_argument("--conn-id", default=DEFAULT_CONN_ID)
    p_seed.add_argument("--train-csv", default=os.environ.get("TRAIN_CSV") or None)
    p_seed.add_argument("--test-csv", default=os.environ.get("TEST_CSV") or None)
    p_seed.add_argument("--rows", type=int, default=6000)
    p_show = sub.add_parser("show", help="print the tracking tables")
    p_show.add_argument("--conn-id", default=DEFAULT_CONN_ID)
    p_week = sub.add_parser("week", help="run the drift monitor over a simulated week with drift")
    p_week.add_argument("--conn-id", default=DEFAULT_CONN_ID)
    p_week.add_argument("--days", type=int, default=7)
    p_week.add_argument("--drift-from", type=int, default=3, help="0-based day the drift starts")
    p_week.add_argument("--threshold", type=float, default=None, help="drift_auc_threshold (default: none)")
    p_week.add_argument("--log", default=os.path.join(os.environ.get("AIRFLOW_HOME", "."), "demo-week.log"))
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.conn_id, args.train_csv, args.test_csv, args.rows)
    elif args.command == "week":
        week(args.conn_id, args.days, args.drift_from, args.threshold, args.log)
    else:
        show(args.conn_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
