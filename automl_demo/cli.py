"""
The demo's commands: ``python -m automl_demo seed|show|week``.

``seed`` fills the ``automl_default`` database with a train and a test table, either generated
(deterministic, census-like: numeric and categorical columns, a binary ``class``) or read from the
user's own CSV files. ``show`` prints the tracking tables. ``week`` runs the drift monitor over a
simulated week whose data drifts from a known day, with a local SMTP server catching the alerts.
"""

from __future__ import annotations

import argparse
import os
import sys

from airflow_automl_provider.constants import DEFAULT_CONN_ID
from automl_demo.data import generate, simulate_days
from automl_demo.servers import MailCatcher, free_port


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
    parser = argparse.ArgumentParser(prog="python -m automl_demo")
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
