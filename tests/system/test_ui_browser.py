"""
The AutoML pages in a real headless Chromium (Debian's, driven over the DevTools protocol) against a real
``airflow api-server``, on the tracking tables of a real ``automl_experiment`` run.

Screenshots go to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from airflow_automl_provider.demo import free_port

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TEST_DAG = "ui_browser_test"  # dag_id of the rows this test adds (and removes)
USER, PASSWORD = "ui_tester", "ui-tester-password"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def _stop(proc: subprocess.Popen) -> None:
    """Stop a process this test started (its own session) by its id."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, installed by scripts/install-browser.sh when missing (as root, as in CI)."""
    if not shutil.which("chromium"):
        if os.geteuid() != 0:
            pytest.skip("chromium is not installed and installing it needs root: run scripts/install-browser.sh")
        done = subprocess.run(["bash", str(ROOT / "scripts" / "install-browser.sh")], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    path = shutil.which("chromium")
    assert path, "scripts/install-browser.sh did not install chromium"
    return path


@pytest.fixture(scope="module")
def ui_data(experiment_run, adult_db):
    """The real experiment's rows, plus six days of monitoring rows (evaluations and data drift) for its model."""
    from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS

    assert experiment_run.state == "success"
    hook = adult_db
    d = hook.dialect
    ((model, session_time),) = hook.query(
        "SELECT model_name, session_time FROM automl_experiments WHERE run_id = ?", [experiment_run.run_id]
    )
    start = datetime.fromisoformat(session_time).astimezone(UTC).replace(hour=7, minute=0, second=0, microsecond=0)
    aurocs = [0.95, 0.948, 0.944, 0.921, 0.902, 0.897]  # under 0.93 from the fourth day
    features = {"age": 0.02, "education-num": 0.03, "hours-per-week": 0.01, "capital-gain": 0.04}
    evals, drift = [], []
    for day, auroc in enumerate(aurocs, start=1):
        when = (start + timedelta(days=day)).isoformat()
        run_id = f"scheduled__ui_{day}"
        evals.append(
            {"session_time": when, "model_name": model, "test_table": "adult_daily", "auroc": auroc,
             "num_rows": 2300, "positives": 550, "status": "ok", "metrics_json": json.dumps({"auc": auroc}),
             "dag_id": TEST_DAG, "run_id": run_id}
        )  # fmt: skip
        shift = 0.045 * max(0, day - 3)  # age drifts from the fourth day
        for feature, value in features.items():
            value = value + (shift if feature == "age" else 0.0)
            drift.append(
                {"session_time": when, "model_name": model, "test_table": "adult_daily", "feature": feature,
                 "kind": "numeric", "statistic": "wasserstein", "value": value, "threshold": 0.1,
                 "drifted": value > 0.1, "reference_rows": 32561, "batch_rows": 2300, "dag_id": TEST_DAG,
                 "run_id": run_id}
            )  # fmt: skip
    hook.upsert(EVAL_RESULTS, evals)
    hook.upsert(DRIFT_RESULTS, drift)
    yield model
    for table in (EVAL_RESULTS, DRIFT_RESULTS):
        with hook.transaction() as conn:
            conn.cursor().execute(f"DELETE FROM {d.table(table.name)} WHERE dag_id = ?", [TEST_DAG])


@pytest.fixture(scope="module")
def api_server(airflow_db, adult_db, tmp_path_factory):
    """A real `airflow api-server` with the plugin, a known viewer user, and automl_default on the test database."""
    tmp = tmp_path_factory.mktemp("api_server")
    port = free_port()
    passwords = tmp / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW_CONN_AUTOML_DEFAULT": os.environ["AIRFLOW_CONN_AUTOML_SYSTEM"],
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    env.pop("AIRFLOW__AUTOML__UI_CONN_ID", None)
    # The plugin comes from the package's own `airflow.plugins` entry point, as for users.
    log = (tmp / "api-server.log").open("w")
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.Popen(
        [str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp / "api-server.log").read_text()[-4000:]
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp / "api-server.log").read_text()[-4000:]
            time.sleep(0.5)
        yield base
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def token(api_server):
    answer = httpx.post(f"{api_server}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


class Browser:
    """A headless Chromium page driven over the Chrome DevTools protocol."""

    def __init__(self, executable: str, profile: Path) -> None:
        from websockets.sync.client import connect

        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=(profile / "chromium.log").open("w"),
            start_new_session=True,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, (profile / "chromium.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json() if t["type"] == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=10)
        self._id = 0

    def call(self, method: str, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self._id:
                assert "error" not in msg, (method, msg["error"])
                return msg["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def open(self, url: str, ready: str = "true", timeout: float = 20, same_url: bool = True) -> None:
        """Go to ``url`` and wait until the page is loaded (still at ``url``) and the JS condition ``ready`` holds."""
        self.call("Page.navigate", url=url)
        self.wait(f"location.href === {json.dumps(url)} && ({ready})" if same_url else ready, timeout)

    def wait(self, condition: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not self.js(f"document.readyState === 'complete' && ({condition})"):
            assert time.monotonic() < deadline, f"not ready at {self.js('location.href')}: {condition}"
            time.sleep(0.1)

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            width, height = 1400, min(int(size["height"]) + 1, 6000)
            self.call(
                "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False
            )
        shot = self.call("Page.captureScreenshot", format="png")
        if full_page:
            self.call("Emulation.clearDeviceMetricsOverride")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            _stop(self.proc)


@pytest.fixture
def browser(chromium, tmp_path):
    b = Browser(chromium, tmp_path / "profile")
    yield b
    b.close()


def test_pages_in_a_real_browser(api_server, token, browser, ui_data, adult_db):
    started = time.monotonic()
    hook, model = adult_db, ui_data
    base = api_server

    # The real server: no page without an authenticated user.
    assert httpx.get(f"{base}/automl/experiments", timeout=10).status_code == 401
    redirect = httpx.get(f"{base}/automl/experiments", headers={"Accept": "text/html"}, timeout=10)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/auth/login")
    # ... and the plugin is in the navigation.
    plugins = httpx.get(f"{base}/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    views = [v for p in plugins["plugins"] for v in p["external_views"] if v.get("url_route") == "automl"]
    assert views and views[0]["href"] == "/automl/experiments" and views[0]["destination"] == "nav"

    # The browser carries the session cookie the Airflow UI sets after login.
    browser.call("Network.enable")
    browser.call("Network.setCookie", name="_token", value=token, url=f"{base}/", path="/")

    # Experiments: one table row per row of automl_experiments, newest first, with working links.
    ((n_experiments,),) = hook.query("SELECT COUNT(*) FROM automl_experiments")
    browser.open(f"{base}/automl/experiments", "document.querySelector('h1') !== null")
    assert browser.js("document.querySelector('h1').textContent") == "Experiments"
    assert browser.js("document.querySelectorAll('table.experiments tbody tr').length") == n_experiments
    run_hrefs = browser.js("[...document.querySelectorAll('table.experiments a.run')].map(a => a.href)")
    (run_id,) = [r for (r,) in hook.query("SELECT run_id FROM automl_experiments WHERE model_name = ?", [model])]
    assert f"{base}/dags/automl_experiment/runs/{quote(run_id, safe='')}" in run_hrefs
    browser.screenshot(ARTIFACTS / "ui-experiments.png")

    # Monitoring: one chart point per evaluation, the threshold line, alerted days, the drift heat map.
    ((n_evals,),) = hook.query("SELECT COUNT(*) FROM automl_eval_results")
    ((n_cells,),) = hook.query(
        "SELECT COUNT(*) FROM (SELECT DISTINCT model_name, feature, date(session_time) FROM automl_drift_results)"
    )
    browser.open(f"{base}/automl/monitoring", "document.querySelector('svg.auroc-chart') !== null")
    assert browser.js("document.querySelectorAll('svg.auroc-chart .point').length") == n_evals
    assert browser.js("document.querySelector('svg.auroc-chart line.threshold').dataset.threshold") == "0.93"
    box = browser.js("JSON.stringify(document.querySelector('svg.auroc-chart').getBoundingClientRect())")
    assert json.loads(box)["width"] > 500  # really laid out, not just in the DOM
    alerted_days = browser.js(
        "[...document.querySelectorAll('svg.auroc-chart rect.alert-day')].map(r => r.dataset.day)"
    )
    ours = {day for (day,) in hook.query(
        "SELECT DISTINCT date(session_time) FROM automl_eval_results WHERE dag_id = ? AND auroc < 0.93", [TEST_DAG]
    )}  # fmt: skip
    assert len(ours) == 3 and ours <= set(alerted_days)
    assert browser.js("document.querySelectorAll('svg.drift-heatmap rect.cell').length") == n_cells
    ((n_drifted,),) = hook.query(
        "SELECT COUNT(*) FROM (SELECT DISTINCT model_name, feature, date(session_time) FROM automl_drift_results "
        "WHERE drifted)"
    )
    assert browser.js("document.querySelectorAll('svg.drift-heatmap rect.cell.drifted').length") == n_drifted
    browser.screenshot(ARTIFACTS / "ui-monitoring.png")

    # The model: its evaluations over time (one point each), its drift, and its report from the model store.
    ((n_model_evals,),) = hook.query("SELECT COUNT(*) FROM automl_eval_results WHERE model_name = ?", [model])
    model_url = f"{base}/automl/models/{quote(model, safe='')}"
    browser.open(model_url, "document.querySelector('svg.auroc-chart') !== null")
    assert browser.js("document.querySelectorAll('svg.auroc-chart .point').length") == n_model_evals
    assert browser.js("document.querySelectorAll('table.evaluations tbody tr').length") == n_model_evals
    assert browser.js("document.querySelectorAll('table.drift tbody tr').length") == 4
    browser.screenshot(ARTIFACTS / "ui-model.png")
    report = browser.js("document.querySelector('a.report').href")
    browser.open(report, "document.body !== null && document.body.innerText.length > 0")
    assert model in browser.js("document.body.innerText")

    # Inside the Airflow UI: the navigation entry opens the pages in a frame, authenticated by the same cookie.
    frame_rows = (
        "(() => { const f = document.querySelector('iframe'); const d = f && f.contentDocument;"
        " return d ? d.querySelectorAll('table.experiments tbody tr').length : -1; })()"
    )
    # (The UI mirrors the frame's location into its own: /plugin/automl/automl/experiments.)
    browser.open(f"{base}/plugin/automl", f"{frame_rows} === {n_experiments}", timeout=30, same_url=False)
    browser.screenshot(ARTIFACTS / "ui-airflow-nav.png", full_page=False)
    # The frame is sandboxed without allow-top-navigation: a DAG run link still opens the run in the Airflow UI.
    frame_link = "document.querySelector('iframe').contentDocument.querySelector('table.experiments a.run')"
    target = browser.js(f"{frame_link}.href")
    assert target.startswith(f"{base}/dags/automl_experiment/runs/")
    browser.js(f"{frame_link}.click()")
    browser.wait(f"location.href === {json.dumps(target)}")

    for name in ("ui-experiments.png", "ui-monitoring.png", "ui-model.png", "ui-airflow-nav.png"):
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nUI browser checks took {time.monotonic() - started:.1f} s; screenshots in {ARTIFACTS}")
