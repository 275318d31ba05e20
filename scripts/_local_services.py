"""
What the scripts that run Airflow's services on this machine share (``make distributed-demo``,
``make airflow``): starting processes and stopping every one of them, waiting for a condition, a small
REST API client, and the demo's daily table for the drift monitor.

Each process is started in a session of its own, so everything it starts (LocalExecutor workers, task
runners in their own process groups, Celery pools) stays in that session and can be found, stopped
and checked for by session id, without ever signalling a process this run did not start.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from automl_demo import free_port

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["Api", "Failure", "Processes", "free_port", "seed_daily", "session_pids", "wait_until"]


class Failure(Exception):
    """Something the run cannot go on from: a process died, a DAG run failed, an API call was refused."""


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """
    Call ``check`` until it returns something true and return that; any exception but :class:`Failure`
    means "not yet" (services coming up refuse connections).

    :raises TimeoutError: after ``timeout`` seconds, with the last error seen.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Failure:
            raise
        except Exception as err:  # noqa: BLE001 (services come up; any error means "not yet")
            last = err
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s" + (f" (last error: {last})" if last else ""))


def session_pids(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``, read from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name (field 2) may hold spaces and parentheses: split after its last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Processes:
    """
    Processes started by this run, each the leader of its own session; stopped by id.

    :param log_dir: each process writes its output to ``<log_dir>/<name>.log``.
    :param log: where progress lines go.
    """

    def __init__(self, log_dir: Path, log: Callable[[str], None] = print) -> None:
        self.log_dir = log_dir
        self.log = log
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        path = self.log_dir / f"{name}.log"
        with open(path, "wb") as out:
            proc = subprocess.Popen(
                argv,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append((name, proc, path))
        self.log(f"started {name} (pid {proc.pid}): {' '.join(shlex.quote(a) for a in argv[1:])}")
        return proc

    def check_alive(self) -> None:
        """:raises Failure: naming the processes that exited, with the end of their logs."""
        dead = [(name, p, path) for name, p, path in self.started if p.poll() is not None]
        if dead:
            tails = "".join(f"\n----- last lines of {path} -----\n{tail(path)}" for _, _, path in dead)
            names = ", ".join(f"{name} (pid {p.pid}, exit {p.returncode})" for name, p, _ in dead)
            raise Failure(f"process(es) exited: {names}{tails}")

    def tails(self, lines: int = 25) -> None:
        for name, proc, path in self.started:
            print(f"\n----- {name} (pid {proc.pid}), last {lines} lines of {path} -----")
            print(tail(path, lines))

    def alive(self) -> dict[str, list[int]]:
        """Per started process, the live processes of its session (itself and everything it started)."""
        return {name: pids for name, proc, _ in self.started if (pids := session_pids(proc.pid))}

    def stop(self, grace: float = 30.0) -> list[str]:
        """
        SIGTERM each process we started (newest first: a Celery worker then shuts down warm and stops
        its pool), then whatever is left in its session (task runners have process groups of their
        own); SIGKILL what is still alive after ``grace`` seconds.

        :return: the names whose sessions needed SIGKILL.
        :raises Failure: when a process of a session survives SIGKILL.
        """
        for _name, proc, _ in reversed(self.started):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for _name, proc, _ in self.started:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic() - 5))
            except subprocess.TimeoutExpired:
                pass
        for _name, proc, _ in self.started:
            for pid in session_pids(proc.pid):  # children left behind by their leader
                _kill(pid, signal.SIGTERM)
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.5)
        leftovers = []
        for name, proc, _ in self.started:
            pids = session_pids(proc.pid)
            if pids:
                leftovers.append(name)
                for pid in pids:
                    _kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        # Killed children are reaped by init a moment later.
        end = time.monotonic() + 15
        while time.monotonic() < end and self.alive():
            time.sleep(0.5)
        if still := self.alive():
            raise Failure(f"could not stop: {still}")
        return leftovers


def stop_on_signals() -> None:
    """
    SIGTERM, and Ctrl-C unless the shell ignores it, raise ``KeyboardInterrupt`` once, so the caller's
    ``finally`` stops what it started; a second signal must not cut that clean-up short.
    """

    def terminate(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, terminate)


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(text[-lines:])


class Api:
    """
    Airflow's REST API (``/api/v2``) as a user of the simple auth manager.

    :param base: the api-server's URL, e.g. ``http://127.0.0.1:8080``.
    """

    def __init__(self, base: str, username: str, password: str, log: Callable[[str], None] = print) -> None:
        import httpx

        self.base = base
        self.http = httpx.Client(base_url=base, timeout=30)
        self.username, self.password = username, password
        self.log = log

    def login(self) -> str:
        """Get a token from ``POST /auth/token`` and send it with every later call; returns it."""
        r = self.http.post("/auth/token", json={"username": self.username, "password": self.password})
        r.raise_for_status()
        token = r.json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        return token

    def get(self, path: str) -> Any:
        r = self.http.get(f"/api/v2{path}")
        r.raise_for_status()
        return r.json()

    def call(self, method: str, path: str, body: Any) -> Any:
        r = self.http.request(method, f"/api/v2{path}", json=body)
        if r.status_code >= 400:
            raise Failure(f"{method} {path}: HTTP {r.status_code} {r.text[:500]}")
        return r.json()

    def run_dag(self, dag_id: str, conf: dict[str, Any], logical_date: str | None, timeout: float) -> dict[str, Any]:
        """Unpause ``dag_id``, trigger a run with ``conf`` and wait for it (see :meth:`wait_run`)."""
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf})
        self.log(f"triggered {dag_id} run {run['dag_run_id']}")
        return self.wait_run(dag_id, run["dag_run_id"], timeout)

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """
        Wait until the run succeeded or failed, logging each task's state changes.

        :return: ``run_id``, ``state`` (``success``, ``failed`` or ``timeout (<state>)``) and the
            task instances.
        """
        deadline = time.monotonic() + timeout
        state, shown = None, {}
        while time.monotonic() < deadline:
            state = self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]
            tis = self.task_instances(dag_id, run_id)
            for ti in tis:
                if shown.get(ti["task_id"]) != ti["state"] and ti["state"] is not None:
                    shown[ti["task_id"]] = ti["state"]
                    self.log(
                        f"  {dag_id}.{ti['task_id']}: {ti['state']} (queue {ti['queue']}, host {ti['hostname'] or '-'})"
                    )
            if state in ("success", "failed"):
                return {"run_id": run_id, "state": state, "tasks": tis}
            time.sleep(2)
        return {"run_id": run_id, "state": f"timeout ({state})", "tasks": self.task_instances(dag_id, run_id)}

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        keep = ("task_id", "state", "queue", "pool", "hostname", "duration", "try_number")
        return [{k: ti.get(k) for k in keep} for ti in data["task_instances"]]


def seed_daily(conn_id: str, days: int, drift_from: int) -> str:
    """
    ``gluon_daily`` as ``demo week`` makes it: ``days`` days of labelled rows (column ``event_time``)
    whose data and labels drift from day ``drift_from`` (0-based) on.

    :return: the logical date of the monitor's run that judges the first drifted day.
    """
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from automl_demo import generate, simulate_days

    daily, runs = simulate_days(generate(days * 1500, seed=3), start="2026-11-01", days=days, drift_from=drift_from)
    TrackingHook(conn_id=conn_id).replace_with_frame("gluon_daily", daily)
    return runs[drift_from].isoformat()
