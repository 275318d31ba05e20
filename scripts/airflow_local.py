"""
The whole of Airflow on this machine, for the UI: ``make airflow``.

Starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` with the LocalExecutor
on the embedded metadata database (SQLite ``<home>/airflow.db``), a local SMTP server that catches the
DAGs' e-mails into ``<home>/mail/*.eml``, and seeds the demo tables (``gluon_train``, ``gluon_test``,
``gluon_daily``) into the ``automl_default`` database. Prints the URL and how to log in, then waits;
Ctrl-C or SIGTERM stops every process it started (each in a session of its own, checked to be gone).

Options: ``--port`` (default ``$AIRFLOW_PORT`` or 8080), ``--home`` (default ``$AIRFLOW_HOME`` or
``.airflow``), ``--ready-file FILE`` (JSON written once the UI can be used: URL, user, password file,
process ids, folders). Exit status 0 after a stop by signal, 1 when something failed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The helpers shared with scripts/distributed_demo.py (this folder is on sys.path when the script runs).
from _local_services import Api, Failure, Processes, free_port, seed_daily, stop_on_signals, tail, wait_until

from automl_demo import MailCatcher

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
USERNAME = "admin"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
DEMO_ROWS, DEMO_DAYS, DRIFT_FROM = 6000, 7, 3  # as `demo seed` and `demo week`


def log(msg: str) -> None:
    print(f"[airflow-local {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def login_password(path: Path) -> str:
    """The admin's password from the simple auth manager's passwords file; generated and saved the first time."""
    passwords = json.loads(path.read_text()) if path.exists() else {}
    if not passwords.get(USERNAME):
        passwords[USERNAME] = secrets.token_urlsafe(12)
        path.write_text(json.dumps(passwords) + "\n")
        path.chmod(0o600)
    return passwords[USERNAME]


def environment(
    base: dict[str, str], *, home: Path, port: int, smtp_port: int, dags_folder: Path, log_ports: tuple[int, int]
) -> dict[str, str]:
    """What every process gets: ``base`` (the caller's environment) with Airflow set up for this machine."""
    url = f"http://127.0.0.1:{port}"
    env = dict(base)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PATH": f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # The embedded default, named so an AIRFLOW__DATABASE__SQL_ALCHEMY_CONN elsewhere cannot leak in.
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            # Task and triggerer logs are served on ports of their own: free ones, so a second instance
            # (a test beside `make airflow`) does not collide on 8793/8794.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
            "AIRFLOW_CONN_SMTP_DEFAULT": (
                f"smtp://127.0.0.1:{smtp_port}?disable_ssl=true&disable_tls=true&from_email=automl%40example.com"
            ),
            "AIRFLOW__AUTOML__MAIL_DIR": str(home / "mail"),
        }
    )
    # An absolute SQLite path /a/b.db is written sqlite:///a/b.db (`make` exports the same default).
    env.setdefault("AIRFLOW_CONN_AUTOML_DEFAULT", f"sqlite://{home / 'automl.db'}")
    # Spinning OpenMP threads take the cores of the other tasks and services (see docs/deployment.md).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def seed(conn_id: str) -> str:
    """The demo tables, made again at every start (a few seconds); returns the first drifted day's logical date."""
    from automl_demo.cli import seed as seed_tables

    seed_tables(conn_id, None, None, DEMO_ROWS)
    drift_day = seed_daily(conn_id, DEMO_DAYS, DRIFT_FROM)
    print(f"seeded gluon_daily: {DEMO_DAYS} days from 2026-11-01, drift from day {DRIFT_FROM} on")
    return drift_day


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _lock(home: Path) -> Any:
    """Hold a lock on ``home`` while this launcher runs: two schedulers on one SQLite database would fight."""
    path = home / "airflow-local.lock"
    handle = open(path, "a+")  # noqa: SIM115 (held open for the launcher's life)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        raise Failure(
            f"another `make airflow` uses {home} (launcher pid {handle.read().strip() or '?'}): "
            "stop it first, or give this one another --home"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _ensure_train_pool(api: Api, env: dict[str, str]) -> str:
    """The pool `[automl] train_pool` names, created when missing (default: none, `train` uses default_pool)."""
    pool = env.get("AIRFLOW__AUTOML__TRAIN_POOL", "").strip()
    if not pool:
        return "default_pool"
    if api.http.get(f"/api/v2/pools/{pool}").status_code == 404:
        slots = int(env.get("AUTOML_TRAIN_POOL_SLOTS", "1"))
        api.call("POST", "/pools", {"name": pool, "slots": slots, "description": "AutoGluon fits running at once"})
        log(f"created the pool {pool} ({slots} slot(s)) that AIRFLOW__AUTOML__TRAIN_POOL names")
    return pool


def run(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    home = Path(args.home).resolve()
    log_dir = home / "logs" / "local"
    mail_dir = home / "mail"
    for folder in (log_dir, mail_dir):
        folder.mkdir(parents=True, exist_ok=True)
    lock = _lock(home)
    if not _port_free(args.port):
        raise Failure(f"port {args.port} on 127.0.0.1 is in use: choose another, e.g. `AIRFLOW_PORT=8081 make airflow`")

    smtp_port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_CONFIG",)}
    env = environment(
        base,
        home=home,
        port=args.port,
        smtp_port=smtp_port,
        dags_folder=Path(args.dags_folder).resolve(),
        log_ports=(free_port(), free_port()),
    )
    password_file = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    password = login_password(password_file)
    url = env["AIRFLOW__API__BASE_URL"]
    airflow = str(VENV_BIN / "airflow")
    log(f"AIRFLOW_HOME {home}; metadata {env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN']}; LocalExecutor")
    log(f"automl_default {env['AIRFLOW_CONN_AUTOML_DEFAULT']}")

    procs = Processes(log_dir, log)
    controller = None
    seeding = None
    status = 1
    try:
        # A home made by `make` is migrated already (its airflow.db target); a new one (--home) is not.
        if not (home / "airflow.db").exists():
            log("airflow db migrate (a new home) ...")
            with open(log_dir / "db-migrate.log", "wb") as out:
                done = subprocess.run([airflow, "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise Failure(f"airflow db migrate failed:\n{tail(log_dir / 'db-migrate.log', 30)}")

        # The demo tables, in parallel with the services coming up.
        seed_log = open(log_dir / "seed.log", "wb")  # noqa: SIM115 (closed below)
        seeding = subprocess.Popen(
            [sys.executable, __file__, "seed"], env=env, stdout=seed_log, stderr=subprocess.STDOUT
        )

        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
        catcher = MailCatcher(folder=mail_dir)
        controller = Controller(catcher, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        log(f"SMTP catcher on 127.0.0.1:{smtp_port}, saving mails to {mail_dir}")

        for service in SERVICES:
            procs.start(service, [airflow, service], env)

        api = Api(url, USERNAME, password, log)

        def healthy() -> bool:
            procs.check_alive()
            health = api.http.get("/api/v2/monitor/health").json()
            return all(
                health[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_until("api-server, scheduler, triggerer, dag-processor", healthy, args.timeout)
        api.login()

        def dags_parsed() -> bool:
            procs.check_alive()
            return all(api.http.get(f"/api/v2/dags/{d}").status_code == 200 for d in args.dags)

        try:
            wait_until(f"DAGs {', '.join(args.dags)} parsed", dags_parsed, args.timeout)
        except TimeoutError as err:
            errors = api.get("/importErrors").get("import_errors", [])
            raise Failure(f"{err}; import errors: {json.dumps(errors, indent=1)[:4000]}") from None

        pool = _ensure_train_pool(api, env)
        wait_until("demo tables", lambda: procs.check_alive() or seeding.poll() is not None, args.timeout)
        seed_log.close()
        if seeding.returncode != 0:
            raise Failure(f"seeding the demo tables failed:\n{tail(log_dir / 'seed.log', 30)}")
        drift_day = (log_dir / "seed.log").read_text().strip().splitlines()[-1]
        ready_seconds = round(time.monotonic() - t_start, 1)

        info = {
            "url": url,
            "username": USERNAME,
            "password_file": str(password_file),
            "pids": {name: proc.pid for name, proc, _ in procs.started},
            "launcher_pid": os.getpid(),
            "home": str(home),
            "log_dir": str(log_dir),
            "mail_dir": str(mail_dir),
            "smtp_port": smtp_port,
            "automl_conn": env["AIRFLOW_CONN_AUTOML_DEFAULT"],
            "train_pool": pool,
            "drift_day": drift_day,
            "seconds_to_ready": ready_seconds,
        }
        bar = "=" * 100
        print(
            f"\n{bar}\n"
            f"  Airflow is running: {url}   (ready in {ready_seconds} s)\n"
            f"  Log in as {USERNAME}, password {password}   (kept in {password_file})\n"
            "  DAGs start paused: the Trigger dialog unpauses the DAG it triggers (its 'Unpause ... on trigger'\n"
            "  box is ticked), or use the toggle beside the DAG's name.\n"
            f"  Demo tables gluon_train, gluon_test, gluon_daily in {info['automl_conn']}\n"
            f"  (gluon_daily drifts from the day the drift monitor's run of {drift_day} judges on)\n"
            f"  Mails sent through smtp_default: {mail_dir}/*.eml   Train pool: {pool}\n"
            f"  Logs: services {log_dir}/, tasks {home / 'logs'}/\n"
            f"  Stop with Ctrl-C (or kill {os.getpid()}): every process started here is stopped.\n"
            f"{bar}",
            flush=True,
        )
        if args.ready_file:
            partial = Path(args.ready_file).with_suffix(".part")
            partial.write_text(json.dumps(info, indent=2))
            partial.replace(args.ready_file)
        log("ready")

        while True:
            procs.check_alive()
            time.sleep(1)
    except (Failure, TimeoutError) as err:
        log(f"FAILED: {err}")
        log(f"logs of every process: {log_dir}")
    except KeyboardInterrupt:
        log("stopping ...")
        status = 0
    finally:
        t = time.monotonic()
        if seeding is not None and seeding.poll() is None:
            seeding.terminate()
            seeding.wait()
        try:
            leftovers = procs.stop()
            if leftovers:
                log(f"had to SIGKILL what was left of: {leftovers}")
        except Failure as err:
            log(f"FAILED: {err}")
            status = 1
        if controller is not None:
            controller.stop()
        left = procs.alive()
        log(
            f"stopped {len(procs.started)} process(es) in {time.monotonic() - t:.1f} s"
            + (f"; STILL RUNNING: {left}" if left else "; nothing left running")
        )
        lock.close()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/airflow_local.py", description=__doc__.split("\n\n")[1])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "seed"])
    parser.add_argument("--home", default=os.environ.get("AIRFLOW_HOME") or str(ROOT / ".airflow"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT") or 8080))
    parser.add_argument("--dags-folder", default=os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or str(ROOT / "dags"))
    parser.add_argument("--ready-file", help="write the URL, login and process ids as JSON here once ready")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for each step of the start")
    parser.add_argument("--dags", nargs="+", default=["automl_experiment", "automl_drift_monitor"])
    args = parser.parse_args(argv)
    if args.command == "seed":
        print(seed("automl_default"))
        return 0

    stop_on_signals()
    try:
        return run(args)
    except Failure as err:  # before anything was started
        log(f"FAILED: {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
