"""
``make airflow`` (scripts/airflow_local.py) as a new user meets it: the launcher started the way the
Makefile starts it, on a free port and a temporary home, then

1. ``automl_experiment`` triggered through the REST API with an empty conf (what the form sends when no
   field is touched) succeeds, on the LocalExecutor with its default pool;
2. in a real headless Chromium, logged in through the real login page, each DAG's Trigger form is
   submitted without touching a field and the run succeeds;
3. the drift monitor on a drifted day alerts, and the mail is caught as an ``.eml`` file;
4. SIGTERM stops the launcher and every process it started.

Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from automl_demo import free_port
from tests.system.browser import Browser, chromium_path

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DAGS = ("automl_experiment", "automl_drift_monitor")
RUN_TIMEOUT = 600  # seconds per DAG run; the experiment's default fit_time_limit is 180 s


def _services():
    spec = importlib.util.spec_from_file_location("_local_services", ROOT / "scripts" / "_local_services.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services = _services()


@pytest.fixture(scope="module")
def airflow_local(tmp_path_factory):
    """The launcher as `make airflow` runs it, with its own home and port; stopped at the end whatever happens."""
    tmp = tmp_path_factory.mktemp("airflow_local")
    home, ready, output = tmp / "home", tmp / "ready.json", tmp / "launcher.log"
    port = free_port()
    # Nothing of the tests' own Airflow set-up (AIRFLOW_HOME, model store, connections) may leak in:
    # the launcher gets what a developer's shell gives `make`, plus the port.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env["AIRFLOW_PORT"] = str(port)
    started = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "airflow_local.py"),
                "--home",
                str(home),
                "--ready-file",
                str(ready),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 420
        while not ready.exists():
            assert proc.poll() is None, f"the launcher exited ({proc.returncode}):\n{output.read_text()[-8000:]}"
            assert time.monotonic() < deadline, f"not ready after 420 s:\n{output.read_text()[-8000:]}"
            time.sleep(0.5)
        info = json.loads(ready.read_text())
        info.update(proc=proc, output=output, seconds_to_ready=round(time.monotonic() - started, 1))
        info["password"] = json.loads(Path(info["password_file"]).read_text())[info["username"]]
        print(f"\nmake airflow: ready in {info['seconds_to_ready']} s at {info['url']}")
        yield info
    finally:
        if proc.poll() is None:  # the SIGTERM test did not run or failed
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def api(airflow_local):
    client = services.Api(airflow_local["url"], airflow_local["username"], airflow_local["password"])
    client.login()
    return client


@pytest.fixture(scope="module")
def browser(airflow_local, tmp_path_factory):
    """Chromium, logged in through Airflow's own login page as the admin the launcher printed."""
    # Tall enough for a whole trigger form in one screenshot.
    b = Browser(chromium_path(), tmp_path_factory.mktemp("chromium") / "profile", width=1400, height=2600)
    try:
        base = airflow_local["url"]
        b.open(f"{base}/", "document.querySelector('input[name=password]') !== null", timeout=60, same_url=False)
        assert "/auth/login" in b.js("location.href")
        b.type("input[name=username]", airflow_local["username"])
        b.type("input[name=password]", airflow_local["password"])
        b.click("button[type=submit]")
        b.wait(f"location.href.startsWith({json.dumps(base)}) && !location.href.includes('/auth/login')", 60)
        yield b
    finally:
        b.close()


def _why(airflow_local: dict, dag_id: str, run: dict) -> str:
    """A failed run's task states and the error lines of its failed tasks' logs, for the assertion message."""
    lines = [f"{dag_id} run {run['run_id']}: {run['state']}"]
    for ti in run["tasks"]:
        lines.append(f"  {ti['task_id']}: {ti['state']} (try {ti['try_number']})")
        if ti["state"] in ("failed", "up_for_retry"):
            folder = Path(airflow_local["home"], "logs", f"dag_id={dag_id}", f"run_id={run['run_id']}")
            for log in sorted(folder.glob(f"task_id={ti['task_id']}/attempt=*.log")):
                errors = [
                    line[:1500] for line in log.read_text(errors="replace").splitlines() if '"level":"error"' in line
                ]
                lines += [f"    {log.name}: {e}" for e in errors[-3:]]
    return "\n".join(lines)


def test_experiment_from_rest_api_with_empty_conf(api, airflow_local):
    """What the form sends untouched: every param at its default; train must not wait for a missing pool."""
    started = time.monotonic()
    run = api.run_dag("automl_experiment", {}, None, RUN_TIMEOUT)
    tasks = {ti["task_id"]: ti for ti in run["tasks"]}
    assert run["state"] == "success", _why(airflow_local, "automl_experiment", run)
    assert {ti["state"] for ti in tasks.values()} == {"success"}, tasks
    assert tasks["train"]["pool"] == "default_pool" == airflow_local["train_pool"]
    # A successful train task's log, as the supervisor wrote it: AutoGluon's progress at INFO, no ERROR line,
    # and no pointer to the temporary folder the fit used.
    folder = Path(airflow_local["home"], "logs", "dag_id=automl_experiment", f"run_id={run['run_id']}")
    (log,) = folder.glob("task_id=train/attempt=1.log")
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    errors = [r["event"] for r in records if r.get("level") in ("error", "critical")]
    assert errors == [], errors[:20]
    progress = [r for r in records if r.get("logger", "").startswith("autogluon")]
    assert len(progress) > 20 and {r["level"] for r in progress} <= {"info", "warning"}
    assert not [r["event"] for r in records if "TabularPredictor.load(" in str(r.get("event"))]
    durations = ", ".join(f"{t} {ti['duration']:.0f} s" for t, ti in tasks.items())
    print(f"\nautoml_experiment (REST, empty conf): {time.monotonic() - started:.0f} s ({durations})")


def _trigger_from_form(browser: Browser, api, base: str, dag_id: str) -> str:
    """Open the DAG's page, open its Trigger form, press Trigger without touching a field; return the new run id."""
    params = api.get(f"/dags/{dag_id}/details")["params"]
    was_paused = api.get(f"/dags/{dag_id}")["is_paused"]
    before = {r["dag_run_id"] for r in api.get(f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]}

    browser.open(f"{base}/dags/{dag_id}", "document.querySelector('[data-testid=trigger-dag-button]') !== null", 60)
    browser.click("[data-testid=trigger-dag-button]")
    # The form is built from the DAG's params: one field each.
    browser.wait(
        "document.querySelector('[data-testid=trigger-dag-submit]') !== null"
        f" && document.querySelectorAll('[role=dialog] [name^=element_]').length === {len(params)}",
        60,
    )
    if was_paused:
        # A paused DAG: the form offers to unpause it on trigger, ticked by default.
        unpause = (
            "[...document.querySelectorAll('[role=dialog] label')]"
            ".find(l => l.textContent.includes('Unpause') && l.textContent.includes('on trigger'))"
        )
        assert browser.js(f"!!({unpause}) && {unpause}.querySelector('input').checked"), "no ticked 'Unpause' box"
    time.sleep(1)  # the form validates its fields as it renders
    browser.screenshot(ARTIFACTS / f"local-airflow-{dag_id}-form.png", full_page=False)
    # An optional param (its schema allows null) is not a required field; a required empty one blocks Trigger.
    required_empty = browser.js(
        "[...document.querySelectorAll('[role=dialog] [name^=element_]')]"
        ".filter(e => e.required && e.value === '').map(e => e.name.replace('element_', ''))"
    )
    disabled = browser.js("document.querySelector('[data-testid=trigger-dag-submit]').disabled")
    assert not disabled and not required_empty, (
        f"the Trigger button is {'disabled' if disabled else 'enabled'} with the defaults; "
        f"required but empty: {required_empty}"
    )
    browser.click("[data-testid=trigger-dag-submit]")
    # The UI opens the new run's page.
    browser.wait(f"location.pathname.startsWith('/dags/{dag_id}/runs/')", 60)
    run_id = unquote(browser.js("location.pathname").split("/runs/", 1)[1].split("/")[0])
    assert run_id not in before
    run = api.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
    assert (run["triggered_by"], run["triggering_user_name"]) == ("ui", "admin"), run
    assert api.get(f"/dags/{dag_id}")["is_paused"] is False
    return run_id


def test_trigger_forms_with_their_defaults(browser, api, airflow_local):
    """Both DAGs' forms, untouched, trigger runs that succeed (the runs overlap, as they would for a user)."""
    base = airflow_local["url"]
    runs, problems = {}, []
    for dag_id in DAGS:
        try:
            runs[dag_id] = _trigger_from_form(browser, api, base, dag_id)
        except AssertionError as err:
            problems.append(f"{dag_id}: {err}")
    for dag_id, run_id in runs.items():
        result = api.wait_run(dag_id, run_id, RUN_TIMEOUT)
        # From pressing Trigger (the run's queued_at) to its end, as the run records them.
        run = api.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
        took = datetime.fromisoformat(run["end_date"] or run["queued_at"]) - datetime.fromisoformat(run["queued_at"])
        print(f"\n{dag_id} (form, defaults): {result['state']}, {took.total_seconds():.0f} s from Trigger to the end")
        if result["state"] != "success":
            problems.append(_why(airflow_local, dag_id, result))
        url = f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
        badge = {"success": "Success", "failed": "Failed"}.get(result["state"], "Running")
        try:
            browser.open(url, f"document.body.innerText.includes('{badge}')", 60, same_url=False)
        except AssertionError as err:
            problems.append(f"{dag_id}: the run's page: {err}")
        browser.screenshot(ARTIFACTS / f"local-airflow-{dag_id}-run.png", full_page=False)
    assert not problems, "\n".join(problems)


def test_drift_day_alerts_and_the_mail_is_caught(api, airflow_local):
    """The first drifted day of gluon_daily: the monitor alerts, the catcher saves the mail under the mail folder."""
    started = time.monotonic()
    conf = {"time_column": "event_time", "test_data_table": "gluon_daily", "drift_auc_threshold": 0.8}
    run = api.run_dag("automl_drift_monitor", conf, airflow_local["drift_day"], RUN_TIMEOUT)
    states = {ti["task_id"]: ti["state"] for ti in run["tasks"]}
    assert run["state"] == "success", _why(airflow_local, "automl_drift_monitor", run)
    assert (states["alert"], states["no_drift"]) == ("success", "skipped"), states
    # Other runs alert too (the forms' runs judge every day's rows): this one's mail names its own day.
    # The run's data interval is the day before its logical date; the mail shows its start.
    day_start = f"{datetime.fromisoformat(airflow_local['drift_day']) - timedelta(days=1):%Y-%m-%d %H:%M}"

    def caught() -> list[tuple[Path, email.message.EmailMessage]]:
        found = []
        for path in sorted(Path(airflow_local["mail_dir"]).glob("*.eml")):
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if day_start in mail.get_body(("html", "plain")).get_content():
                found.append((path, mail))
        return found

    ((path, mail),) = services.wait_until("the drifted day's alert mail", caught, 30)
    assert mail["Subject"].startswith("Drift detected: automl_model_"), mail["Subject"]
    assert (mail["To"], mail["From"]) == ("ml-team@example.com", "automl@example.com")
    # The api-server got the same mail folder ([automl] mail_dir): the AutoML Mail page lists the file.
    page = api.http.get("/automl/mail")
    assert page.status_code == 200 and path.name in page.text, page.text[:2000]
    print(f"\nautoml_drift_monitor (REST, drifted day): {time.monotonic() - started:.0f} s; mail {mail['Subject']!r}")


def test_sigterm_stops_everything(airflow_local):
    proc, home = airflow_local["proc"], airflow_local["home"]
    sessions = list(airflow_local["pids"].values())
    assert len(sessions) == 4 and all(services.session_pids(pid) for pid in sessions)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0, airflow_local["output"].read_text()[-5000:]
    print(f"\nSIGTERM to exit: {time.monotonic() - started:.1f} s")
    # Each service led a session of its own (task runners included); the launcher led the test's.
    left = {pid: services.session_pids(pid) for pid in [*sessions, proc.pid]}
    assert not any(left.values()), left
    found = subprocess.run(["pgrep", "-f", home], capture_output=True, text=True)
    assert found.stdout == "", found.stdout
    assert "nothing left running" in airflow_local["output"].read_text()
