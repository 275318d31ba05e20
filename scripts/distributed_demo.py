"""
The distributed run on one machine, without Docker: ``make distributed-demo``.

Starts the Airflow services of ``docker-compose.yaml`` as local processes (api-server, scheduler,
dag-processor, triggerer, two Celery workers) on the machine's PostgreSQL (metadata database and
tracking tables) and Redis (Celery broker), with an in-process SMTP server standing in for Mailpit.
It triggers ``automl_experiment`` through the REST API, waits for it, runs ``automl_drift_monitor`` on
a drifted day, checks the alert e-mail arrived, then stops every process it started, by process id.

ONE definition: the service commands, the common environment and the init script are read from
``docker-compose.yaml``; only host names, ports and paths are swapped for local ones
(:func:`native_environment`, checked by ``tests/unit/test_compose.py``).

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and Redis on 127.0.0.1:6379; the
databases ``automl_airflow_meta`` and ``automl_tracking`` and Redis database 13 are wiped at start.
Exit status 0 only when both runs succeeded and the e-mail arrived; ``--summary FILE`` writes the
outcome and the timings as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from automl_demo import MailCatcher

# The helpers this script shares with scripts/airflow_local.py; the folder is on sys.path when the script
# runs, not when a test loads this file by its path.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _local_services import Api, Failure, Processes, free_port, seed_daily, stop_on_signals, wait_until  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
VENV_BIN = Path(sys.executable).parent

# Compose services this script replaces by what already runs on the machine (or in-process).
INFRASTRUCTURE = {"postgres": "local PostgreSQL", "redis": "local Redis", "mailpit": "in-process aiosmtpd"}
INIT_SERVICE = "airflow-init"

# Settings of docker-compose.yaml that name a place (host, port, path): the only ones the native run
# replaces. Everything else in x-airflow-common's environment is used unchanged.
LOCATION_SETTINGS = (
    "AIRFLOW_CONFIG",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__AUTOML__MODEL_STORE",
    "AIRFLOW_CONN_AUTOML_DEFAULT",
    "AIRFLOW_CONN_SMTP_DEFAULT",
)

DEMO_DAYS, DRIFT_FROM, DRIFT_THRESHOLD = 7, 3, 0.8  # as `demo week`


# --- docker-compose.yaml, read the way Compose reads it ------------------------------------------


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text())


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose interpolation: ``${VAR}``, ``$VAR``, ``${VAR:-default}``, ``${VAR-default}``, ``$$`` -> ``$``."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        if m.group(3) is not None:  # a default
            unset = name not in variables or (m.group(2) == ":" and variables[name] == "")
            return m.group(3) if unset else variables[name]
        return variables.get(name, "")

    return _VAR.sub(sub, value)


def _as_dict(environment: Any) -> dict[str, str]:
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {k: "" if v is None else str(v) for k, v in (environment or {}).items()}


def service_environment(compose: Mapping[str, Any], name: str, variables: Mapping[str, str]) -> dict[str, str]:
    """What a service sets beyond ``x-airflow-common``'s environment (which it merges in with ``<<:``)."""
    common = _as_dict(compose["x-airflow-common"]["environment"])
    own = {k: v for k, v in _as_dict(compose["services"][name].get("environment")).items() if common.get(k) != v}
    clash = set(own) & set(LOCATION_SETTINGS)
    assert not clash, f"{name} sets {clash} itself: the native run only replaces the common ones"
    return {k: interpolate(v, variables) for k, v in own.items()}


def _command(service: Mapping[str, Any], variables: Mapping[str, str]) -> list[str]:
    command = service["command"]
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    return [interpolate(p, variables) for p in parts]


def airflow_services(compose: Mapping[str, Any], variables: Mapping[str, str]) -> list[dict[str, Any]]:
    """The long-running Airflow services: name, arguments of ``airflow``, replicas, environment."""
    out = []
    for name, svc in compose["services"].items():
        if name in INFRASTRUCTURE or name == INIT_SERVICE or svc.get("profiles"):
            continue
        out.append(
            {
                "name": name,
                "args": _command(svc, variables),
                "replicas": int(svc.get("deploy", {}).get("replicas", 1)),
                "environment": service_environment(compose, name, variables),
            }
        )
    return out


def init_command(compose: Mapping[str, Any], variables: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    svc = compose["services"][INIT_SERVICE]
    entrypoint = svc["entrypoint"]
    entry = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
    env = service_environment(compose, INIT_SERVICE, variables)
    return [Path(entry[0]).name, *entry[1:], *_command(svc, variables)], env


def common_environment(compose: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    return {k: interpolate(v, variables) for k, v in _as_dict(compose["x-airflow-common"]["environment"]).items()}


# --- the native settings -------------------------------------------------------------------------


def _with_host(uri: str, host: str, port: int, path: str | None = None) -> str:
    """``uri`` with its network location (and optionally its path) replaced, keeping scheme and query."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path if path is None else path, parts.query, ""))


def native_environment(
    compose: Mapping[str, Any], variables: Mapping[str, str], *, home: Path, places: Mapping[str, Any]
) -> dict[str, str]:
    """
    The common environment of docker-compose.yaml with only :data:`LOCATION_SETTINGS` replaced, plus
    what a container gets from its image (AIRFLOW_HOME, the DAGs folder) and the local ports.

    ``places``: ``postgres`` (``postgresql://user@host:port``), ``meta_db``, ``tracking_db``, ``redis``
    (``redis://host:port``), ``redis_db``, ``api_port``, ``smtp_port``.
    """
    env = common_environment(compose, variables)
    pg = places["postgres"]
    api = f"http://127.0.0.1:{places['api_port']}"
    native = {
        "AIRFLOW_CONFIG": str(home / "config" / "airflow.cfg"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
            home / "config" / "simple_auth_manager_passwords.json"
        ),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg.replace("postgresql://", "postgresql+psycopg2://", 1)
        + f"/{places['meta_db']}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{pg}/{places['meta_db']}",
        "AIRFLOW__CELERY__BROKER_URL": f"{places['redis']}/{places['redis_db']}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__AUTOML__MODEL_STORE": f"file://{home / 'models'}",
        "AIRFLOW_CONN_AUTOML_DEFAULT": f"{pg}/{places['tracking_db']}",
        "AIRFLOW_CONN_SMTP_DEFAULT": _with_host(env["AIRFLOW_CONN_SMTP_DEFAULT"], "127.0.0.1", places["smtp_port"]),
    }
    assert set(native) == set(LOCATION_SETTINGS) and set(native) <= set(env), "docker-compose.yaml changed shape"
    env.update(native)
    env.update(
        {
            # What the image sets: AIRFLOW_HOME=/opt/airflow, DAGs in /opt/airflow/dags (mounted ./dags).
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            # The container's published port, here a free one on loopback.
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(places["api_port"]),
            # The demo runs the drift monitor for one chosen day only: no daily runs of it on the demo data.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def process_plan(
    compose: Mapping[str, Any], variables: Mapping[str, str], ports: Callable[[], int]
) -> list[dict[str, Any]]:
    """One entry per local process: name, argv, extra environment (distinct log-server / health ports)."""
    plan = []
    for svc in airflow_services(compose, variables):
        for i in range(svc["replicas"]):
            name = svc["name"] if svc["replicas"] == 1 else f"{svc['name']}-{i + 1}"
            argv = [str(VENV_BIN / "airflow"), *svc["args"]]
            extra = dict(svc["environment"])
            # Containers each have their own ports and host name; processes on one machine do not.
            if svc["args"][:2] == ["celery", "worker"]:
                argv += ["--celery-hostname", f"{name}@%h"]
                extra["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(ports())
            elif svc["args"][0] == "triggerer":
                extra["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(ports())
            elif svc["args"][0] == "scheduler":
                extra["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(ports())
            plan.append({"name": name, "argv": argv, "env": extra})
    return plan


# --- helpers -------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[distributed-demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- the run -------------------------------------------------------------------------------------


def _recreate_databases(admin_dsn: str, names: list[str]) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in names:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def _run_step(name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, timeout: float = 300) -> None:
    path = log_dir / f"{name}.log"
    with open(path, "wb") as out:
        done = subprocess.run(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        print("\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        raise Failure(f"{name} failed (exit {done.returncode}), log {path}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.monotonic()
    phases: dict[str, float] = {}
    summary: dict[str, Any] = {"ok": False, "phases": phases}

    def phase_done(name: str, since: float) -> float:
        phases[name] = round(time.monotonic() - since, 1)
        log(f"phase {name}: {phases[name]} s")
        return time.monotonic()

    home = Path(args.home).resolve()
    if home.exists():
        shutil.rmtree(home)
    log_dir = home / "process-logs"
    for sub in ("config", "models", "logs", "process-logs"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    summary["home"] = str(home)

    places = {
        "postgres": args.postgres.rstrip("/"),
        "meta_db": args.meta_db,
        "tracking_db": args.tracking_db,
        "redis": args.redis.rstrip("/"),
        "redis_db": args.redis_db,
        "api_port": free_port(),
        "smtp_port": free_port(),
    }
    password = secrets.token_urlsafe(16)
    variables = {**os.environ, "_AIRFLOW_WWW_USER_PASSWORD": password}
    compose = load_compose(Path(args.compose))
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "_AIRFLOW"))
        and k not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
    }
    env = {**base_env, **native_environment(compose, variables, home=home, places=places)}
    username = interpolate("${_AIRFLOW_WWW_USER_USERNAME:-airflow}", variables)
    procs = Processes(log_dir, log)
    catcher = MailCatcher()
    controller = None
    t = time.monotonic()
    try:
        # 1. Services this machine provides instead of the postgres / redis containers.
        import psycopg2
        import redis

        admin_dsn = f"{places['postgres']}/postgres"
        wait_until("PostgreSQL", lambda: psycopg2.connect(admin_dsn).close() or True, 60)
        broker = redis.Redis.from_url(f"{places['redis']}/{places['redis_db']}")
        wait_until("Redis", broker.ping, 60)
        broker.flushdb()
        _recreate_databases(admin_dsn, [args.meta_db, args.tracking_db])
        log(f"AIRFLOW_HOME {home}; metadata {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}")
        log(f"tracking {env['AIRFLOW_CONN_AUTOML_DEFAULT']}; broker {env['AIRFLOW__CELERY__BROKER_URL']}")

        # The Celery executor must import (celery 5.7 dropped what provider 3.26.0 imports).
        check = subprocess.run(
            [str(VENV_BIN / "python"), "-c", "import airflow.providers.celery.executors.celery_executor"],
            env=env,
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise Failure(
                f"the Celery executor does not import here: {check.stderr.strip().splitlines()[-1]} "
                "(celery 5.7 with apache-airflow-providers-celery 3.26.0: install celery 5.6.x)"
            )

        # 2. airflow-init: the same script as the container's.
        argv, init_env = init_command(compose, variables)
        _run_step(INIT_SERVICE, argv, {**env, **init_env}, log_dir)
        t = phase_done("init (db migrate, pool)", t)

        # 3. Demo data in the tracking database.
        python = str(VENV_BIN / "python")
        _run_step("seed", [python, "-m", "automl_demo", "seed"], env, log_dir)
        out = subprocess.run(
            [python, __file__, "seed-daily", "--days", str(DEMO_DAYS), "--drift-from", str(DRIFT_FROM)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise Failure(f"seed-daily failed: {out.stdout[-2000:]}{out.stderr[-3000:]}")
        drift_day = out.stdout.strip().splitlines()[-1]
        t = phase_done("seed data", t)

        # 4. Mailpit's stand-in, then the Airflow services.
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        controller = Controller(catcher, hostname="127.0.0.1", port=places["smtp_port"])
        controller.start()
        log(f"SMTP catcher on 127.0.0.1:{places['smtp_port']}")
        plan = process_plan(compose, variables, free_port)
        for item in plan:
            procs.start(item["name"], item["argv"], {**env, **item["env"]})
        api = Api(env["AIRFLOW__API__BASE_URL"], username, password, log)

        def healthy() -> bool:
            procs.check_alive()
            health = api.http.get("/api/v2/monitor/health").json()
            return all(
                health[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_until("api-server, scheduler, triggerer, dag-processor", healthy, 180)
        api.login()

        def dags_parsed() -> bool:
            procs.check_alive()
            return all(api.http.get(f"/api/v2/dags/{d}").status_code == 200 for d in (args.dag, "automl_drift_monitor"))

        wait_until("DAGs parsed", dags_parsed, 180)
        workers = [p["name"] for p in plan if p["argv"][1:3] == ["celery", "worker"]]
        from celery import Celery

        ping_app = Celery(broker=env["AIRFLOW__CELERY__BROKER_URL"])

        def workers_up() -> list[str]:
            procs.check_alive()
            replies = ping_app.control.ping(timeout=2.0)
            names = sorted(name for reply in replies for name in reply)
            return names if len(names) >= len(workers) else []

        summary["celery_workers"] = wait_until("Celery workers", workers_up, 180, interval=2)
        log(f"Celery workers answering: {summary['celery_workers']}")
        log(f"UI: {api.base} (user {username}, password in {env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']})")
        t = phase_done("start services", t)

        # 5. The experiment, through the REST API.
        experiment = api.run_dag(args.dag, {"fit_time_limit": args.fit_time_limit}, None, args.timeout)
        summary["experiment"] = experiment
        t = phase_done("automl_experiment", t)
        if experiment["state"] != "success":
            raise Failure(f"automl_experiment: {experiment['state']}: {experiment['tasks']}")
        train = next(ti for ti in experiment["tasks"] if ti["task_id"] == "train")
        log(f"train ran on queue {train['queue']!r} in pool {train['pool']!r} on {train['hostname']}")

        # 6. The drift monitor on a drifted day: the alert must reach the SMTP catcher.
        conf = {
            "test_data_table": "gluon_daily",
            "time_column": "event_time",
            "drift_auc_threshold": DRIFT_THRESHOLD,
            "alert_to": "ml-team@example.com",
        }
        drift = api.run_dag("automl_drift_monitor", conf, drift_day, args.timeout)
        summary["drift_monitor"] = {**drift, "logical_date": drift_day}
        if drift["state"] != "success":
            raise Failure(f"automl_drift_monitor: {drift['state']}: {drift['tasks']}")
        wait_until("alert e-mail", lambda: catcher.messages, 30)
        summary["emails"] = [{"subject": m["Subject"], "to": m["To"], "from": m["From"]} for m in catcher.messages]
        log(f"e-mail caught: {summary['emails']}")
        t = phase_done("automl_drift_monitor + e-mail", t)
        summary["ok"] = True
    except (Failure, TimeoutError, subprocess.TimeoutExpired) as err:
        summary["error"] = str(err)
        log(f"FAILED: {err}")
        for key in ("experiment", "drift_monitor"):
            for ti in summary.get(key, {}).get("tasks", []):
                print(f"  {key}: {ti}")
        procs.tails()
    except KeyboardInterrupt:
        summary["error"] = "interrupted"
        log("interrupted")
    finally:
        t = time.monotonic()
        try:
            leftovers = procs.stop()
            if leftovers:
                log(f"had to SIGKILL: {leftovers}")
        except Failure as err:
            summary["ok"] = False
            summary["error"] = str(err)
        if controller is not None:
            controller.stop()
        phase_done("stop", t)
        summary["stopped_pids"] = [p.pid for _, p, _ in procs.started]
        summary["tasks_per_worker"] = {
            name: len(re.findall(r"execute_workload\[[^\]]*\] received", path.read_text(errors="replace")))
            for name, _, path in procs.started
            if "worker" in name and path.exists()
        }
        if summary["tasks_per_worker"]:
            log(f"Celery tasks received per worker: {summary['tasks_per_worker']}")
        summary["total_seconds"] = round(time.monotonic() - t_start, 1)
    log(f"total {summary['total_seconds']} s; phases: {json.dumps(phases)}")
    log("OK" if summary["ok"] else f"FAILED ({summary.get('error')}); process logs in {log_dir}")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/distributed_demo.py", description=__doc__.split("\n\n")[1])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "seed-daily"])
    parser.add_argument("--home", default=str(ROOT / ".airflow" / "distributed"), help="AIRFLOW_HOME (wiped)")
    parser.add_argument("--compose", default=str(COMPOSE_FILE))
    parser.add_argument(
        "--postgres", default=os.environ.get("AUTOML_DEMO_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    )
    parser.add_argument("--meta-db", default="automl_airflow_meta")
    parser.add_argument("--tracking-db", default="automl_tracking")
    parser.add_argument("--redis", default=os.environ.get("AUTOML_DEMO_REDIS", "redis://127.0.0.1:6379"))
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--dag", default="automl_experiment")
    parser.add_argument("--fit-time-limit", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per DAG run")
    parser.add_argument("--summary", help="write the outcome as JSON here")
    parser.add_argument("--days", type=int, default=DEMO_DAYS)
    parser.add_argument("--drift-from", type=int, default=DRIFT_FROM)
    args = parser.parse_args(argv)
    if args.command == "seed-daily":
        print(seed_daily("automl_default", args.days, args.drift_from))
        return 0

    stop_on_signals()
    summary = run(args)
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
