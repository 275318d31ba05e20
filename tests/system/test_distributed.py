"""
The distributed path end to end: `make distributed-demo` (scripts/distributed_demo.py) on this machine.

CeleryExecutor with two workers, PostgreSQL metadata database and tracking tables, Redis broker,
api-server, scheduler, dag-processor and triggerer as separate processes, DAG runs triggered through
the REST API, the drift alert caught by a local SMTP server. Takes 2-4 minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]


def test_distributed_run(tmp_path):
    summary_path = tmp_path / "summary.json"
    log_path = tmp_path / "distributed-demo.log"
    argv = [
        sys.executable,
        str(ROOT / "scripts" / "distributed_demo.py"),
        "--home",
        str(tmp_path / "airflow"),
        "--summary",
        str(summary_path),
        # Its own databases and broker database: a `make distributed-demo` elsewhere keeps its own.
        "--meta-db",
        "automl_airflow_meta_systest",
        "--tracking-db",
        "automl_tracking_systest",
        "--redis-db",
        "14",
        "--fit-time-limit",
        "30",
    ]
    with open(log_path, "w") as log:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=900)
    output = log_path.read_text(errors="replace")
    assert done.returncode == 0, output[-15000:]
    summary = json.loads(summary_path.read_text())
    assert summary["ok"] is True

    # Two Celery workers answered; every task of the experiment succeeded; train went to its own queue/pool.
    assert len(summary["celery_workers"]) == 2
    experiment = summary["experiment"]
    assert experiment["state"] == "success"
    tasks = {ti["task_id"]: ti for ti in experiment["tasks"]}
    assert set(tasks) == {"create_tables", "train", "track_experiment", "predict", "evaluation", "record_evaluation"}
    assert {ti["state"] for ti in tasks.values()} == {"success"}
    assert (tasks["train"]["queue"], tasks["train"]["pool"]) == ("automl", "automl_training")
    assert tasks["predict"]["queue"] == "default"

    # The drift monitor alerted on the drifted day, by e-mail through smtp_default.
    drift = summary["drift_monitor"]
    states = {ti["task_id"]: ti["state"] for ti in drift["tasks"]}
    assert drift["state"] == "success" and states["alert"] == "success" and states["no_drift"] == "skipped"
    (mail,) = summary["emails"]
    assert mail["subject"].startswith("Drift detected: automl_model_")
    assert mail["to"] == "ml-team@example.com" and mail["from"] == "automl@example.com"

    # Everything it started is gone (the script checks each process group; check the leaders here too).
    for pid in summary["stopped_pids"]:
        assert not Path(f"/proc/{pid}").exists(), pid
    assert summary["total_seconds"] < 600
    print(f"\ndistributed run: {summary['total_seconds']} s; phases {summary['phases']}")
