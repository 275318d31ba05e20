"""
The AutoML pages in a real headless Chromium (Debian's, driven over the DevTools protocol) against a real
``airflow api-server``, on the tracking tables of two real ``automl_experiment`` runs.

Screenshots go to ``test-artifacts/`` (git-ignored), taken 1280 px wide.
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from automl_demo import MailCatcher, free_port
from tests.system.browser import Browser, chromium_path, stop_process

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TEST_DAG = "ui_browser_test"  # dag_id of the rows this test adds (and removes)
USER, PASSWORD = "ui_tester", "ui-tester-password"
WIDTH = 1280  # the screenshots' width, and the width the pages must fit without horizontal scrolling
AUROCS = [0.95, 0.948, 0.944, 0.921, 0.902, 0.897]  # under the monitor's 0.93 from the fourth day
THRESHOLD = 0.93


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, installed by scripts/install-browser.sh when missing (as root, as in CI)."""
    return chromium_path()


@pytest.fixture(scope="module")
def second_run(experiment_run, dagbag, adult_db):
    """A second real model, fitted for roc_auc (the first one is fitted for AutoGluon's default, accuracy)."""
    run = dagbag.dags["automl_experiment"].test(
        run_conf={
            "conn_id": "automl_system",
            "train_data_table": "adult_train",
            "test_data_table": "adult_test",
            "target_column": "class",
            "positive_class": ">50K",
            "fit_time_limit": 20,
            "eval_metric": "roc_auc",
        }
    )
    assert run.state == "success"
    yield run
    for table in ("automl_experiments", "automl_eval_results"):
        with adult_db.transaction() as conn:
            conn.cursor().execute(f"DELETE FROM {adult_db.dialect.table(table)} WHERE run_id = ?", [run.run_id])


@pytest.fixture(scope="module")
def ui_data(experiment_run, second_run, adult_db):
    """
    The real experiments' rows, plus a week of the drift monitor's rows for the first model, as the monitor records
    them: six days with an AUROC and the recorded decision (status, and alert/threshold/reasons in metrics_json), a
    seventh too small to judge, and data drift per feature.
    """
    from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS

    assert experiment_run.state == "success"
    hook = adult_db
    d = hook.dialect
    ((model, session_time),) = hook.query(
        "SELECT model_name, session_time FROM automl_experiments WHERE run_id = ?", [experiment_run.run_id]
    )
    start = datetime.fromisoformat(session_time).astimezone(UTC).replace(hour=7, minute=0, second=0, microsecond=0)
    features = {"age": 0.02, "education-num": 0.03, "hours-per-week": 0.01, "capital-gain": 0.04}
    evals, drift = [], []
    for day, auroc in enumerate([*AUROCS, None], start=1):
        when = (start + timedelta(days=day)).isoformat()
        run_id = f"scheduled__ui_{day}"
        status = "insufficient_data" if auroc is None else "drift" if auroc < THRESHOLD else "ok"
        reasons = [f"AUROC {auroc:.4f} is under the threshold {THRESHOLD}"] if status == "drift" else []
        report = {"alert": status == "drift", "status": status, "threshold": THRESHOLD, "auc": auroc,
                  "reasons": reasons or (["batch too small to judge"] if auroc is None else [])}  # fmt: skip
        evals.append(
            {"session_time": when, "model_name": model, "test_table": "ui_daily", "auroc": auroc,
             "num_rows": 2300 if auroc else 40, "positives": 550 if auroc else 9, "status": status,
             "metrics_json": json.dumps(report), "dag_id": TEST_DAG, "run_id": run_id}
        )  # fmt: skip
        if auroc is None:
            continue
        shift = 0.045 * max(0, day - 3)  # age drifts from the fourth day
        for feature, value in features.items():
            value = value + (shift if feature == "age" else 0.0)
            drift.append(
                {"session_time": when, "model_name": model, "test_table": "ui_daily", "feature": feature,
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
def mail_folder(tmp_path_factory):
    """A drift alert sent over real SMTP to the project's mail catcher, which saves it as an .eml file."""
    from aiosmtpd.controller import Controller

    folder = tmp_path_factory.mktemp("mail")
    port = free_port()
    controller = Controller(MailCatcher(folder), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        msg = EmailMessage()
        msg["From"], msg["To"] = "automl@example.com", "data-team@example.com"
        msg["Subject"] = "Drift detected: <the model> on ui_daily"
        msg.set_content("AUROC 0.9020 is under the threshold 0.93.")
        msg.add_alternative(
            "<h2>Drift detected</h2><p>AUROC <b>0.9020</b> is under the threshold 0.93.</p>"
            "<script>document.body.dataset.ran = 'yes'</script>",
            subtype="html",
        )
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
    finally:
        controller.stop()
    (eml,) = folder.glob("*.eml")
    return folder, eml.name


@pytest.fixture(scope="module")
def api_server(airflow_db, adult_db, mail_folder, tmp_path_factory):
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
        "AIRFLOW__AUTOML__MAIL_DIR": str(mail_folder[0]),
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
        stop_process(proc)
        log.close()


@pytest.fixture(scope="module")
def token(api_server):
    answer = httpx.post(f"{api_server}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def browser(chromium, tmp_path):
    b = Browser(chromium, tmp_path / "profile", width=WIDTH, height=900)
    yield b
    b.close()


def _rendered(chart_id: str) -> str:
    return f"document.getElementById({json.dumps(chart_id)})?.dataset.rendered === 'true'"


def _traces(browser: Browser, chart_id: str) -> list[dict]:
    """The traces plotly drew (its own copy of the figure on the chart element): kind, model, table, points."""
    return browser.js(
        f"document.getElementById({json.dumps(chart_id)}).data.map(t => ({{kind: (t.meta || {{}}).kind, "
        "model: (t.meta || {}).model, table: (t.meta || {}).table, name: t.name, mode: t.mode, "
        "x: Array.from(t.x || []), y: Array.from(t.y || []), z: t.z || null, "
        "custom: Array.from(t.customdata || [])}))"
    )


def test_pages_in_a_real_browser(api_server, token, browser, ui_data, second_run, adult_db, mail_folder):
    started = time.monotonic()
    hook, model = adult_db, ui_data
    base = api_server
    ((second_model,),) = hook.query("SELECT model_name FROM automl_experiments WHERE run_id = ?", [second_run.run_id])

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
    # The validation measure carries its metric name: the default model's accuracy, the second one's roc_auc.
    validations = browser.js("[...document.querySelectorAll('td.validation')].map(td => td.textContent.trim())")
    assert any(v.startswith("accuracy 0.") for v in validations) and any(
        v.startswith("roc_auc 0.") for v in validations
    )
    assert browser.fits_width(), "the experiments page scrolls sideways at 1280 px"
    assert browser.problems() == []
    browser.screenshot(ARTIFACTS / "ui-experiments.png")

    # Sorting: a click on "Test AUROC" sorts by it, highest first; another click, lowest first.
    header = "[...document.querySelectorAll('th a.sort')].find(a => a.textContent.startsWith('Test AUROC'))"
    test_aurocs = "[...document.querySelectorAll('td.test-auroc')].map(td => td.textContent.trim()).filter(Boolean)"
    for order in ("desc", "asc"):
        browser.js(f"{header}.click()")
        browser.wait(f"location.search.includes('sort=test_auroc') && location.search.includes('dir={order}')")
        values = [float(v) for v in browser.js(test_aurocs)]
        assert len(values) >= 2 and values == sorted(values, reverse=order == "desc")

    # Compare: tick the two real models, the button says so, and the compare page shows them side by side,
    # in the order of the experiments table as it is shown (still sorted by test AUROC from above).
    shown = browser.js("[...document.querySelectorAll('input[type=checkbox][name=model]')].map(i => i.value)")
    in_table_order = [name for name in dict.fromkeys(shown) if name in (model, second_model)]
    for name in (model, second_model):
        browser.js(f"document.querySelector('input[name=model][value={json.dumps(name)}]').click()")
    assert browser.js("document.querySelector('button.compare').textContent") == "Compare 2 models"
    browser.js("document.querySelector('button.compare').click()")
    browser.wait(f"location.pathname === '/automl/compare' && {_rendered('importance-chart')}")
    shown = browser.js("[...document.querySelectorAll('table.compare thead a.model')].map(a => a.textContent)")
    assert shown == in_table_order and len(shown) == 2
    from airflow_automl_provider.hooks.model_store import ModelStoreHook

    store = ModelStoreHook()
    for name in (model, second_model):
        board = json.loads(store.read_extra(store.manifest(name), "leaderboard.json"))
        shown = browser.js(
            f"document.querySelectorAll('section.leaderboard[data-model={json.dumps(name)}] tbody tr').length"
        )
        assert shown == min(5, len(board)) > 0
    importance = _traces(browser, "importance-chart")
    assert {t["name"] for t in importance} == {model, second_model}
    assert browser.fits_width(), "the compare page scrolls sideways at 1280 px"
    assert browser.problems() == []
    browser.screenshot(ARTIFACTS / "ui-compare.png")

    # Monitoring: every evaluation one point of its series, alerted exactly where the monitor recorded drift.
    n_evals = hook.query("SELECT COUNT(*) FROM automl_eval_results")[0][0]
    browser.open(f"{base}/automl/monitoring", f"{_rendered('auroc-chart')} && {_rendered('drift-heatmap-0')}")
    traces = _traces(browser, "auroc-chart")
    by_kind: dict[str, list[dict]] = {}
    for t in traces:
        by_kind.setdefault(t["kind"], []).append(t)
    assert sum(len(t["x"]) for k in ("monitor", "test_set", "insufficient") for t in by_kind.get(k, [])) == n_evals
    (daily,) = [t for t in by_kind["monitor"] if t["table"] == "ui_daily"]
    assert daily["model"] == model and daily["y"] == AUROCS and daily["mode"] == "lines+markers"
    assert {(t["model"], t["table"]) for t in by_kind["test_set"]} == {
        (model, "adult_test"),
        (second_model, "adult_test"),
    }
    # Alerted points: exactly the evaluations whose recorded status is drift (the session's database may hold
    # the drift monitor tests' real runs too), ours among them.
    drifted = hook.query("SELECT auroc FROM automl_eval_results WHERE status = 'drift'")
    alerted = sorted(y for t in by_kind["alerted"] for y in t["y"] if y is not None)
    assert alerted == sorted(a for (a,) in drifted if a is not None)
    ours = hook.query("SELECT auroc FROM automl_eval_results WHERE status = 'drift' AND dag_id = ?", [TEST_DAG])
    assert sorted(a for (a,) in ours) == sorted(a for a in AUROCS if a < THRESHOLD)
    (threshold,) = [t for t in by_kind["threshold"] if t["table"] == "ui_daily"]
    assert set(threshold["y"]) == {THRESHOLD}
    # What plotly drew: one marker per evaluation, plus the red rings of the alerted ones; axes with ticks.
    drawn = browser.js("document.querySelectorAll('#auroc-chart .scatterlayer .point').length")
    assert drawn == n_evals + len(alerted)
    assert browser.js("document.querySelectorAll('#auroc-chart .ytick text').length") >= 3
    assert browser.js("document.querySelectorAll('#auroc-chart .xtick text').length") >= 3
    assert browser.js("document.querySelector('#auroc-chart .g-ytitle').textContent") == "AUROC"
    legend = browser.js("[...document.querySelectorAll('#auroc-chart .legend .traces')].map(g => g.textContent)")
    assert {"AUROC (daily monitor)", "test-set evaluation", "alerted: the monitor recorded drift"} <= set(legend)
    assert f"{model} on ui_daily" in browser.js("document.querySelector('#auroc-chart .legend').textContent")
    # Hover: the mouse on the first daily point shows its value.
    index = traces.index(daily)
    point = f"document.querySelectorAll('#auroc-chart .scatterlayer .trace')[{index}].querySelector('.point')"
    browser.mouse("mouseMoved", *browser.center(point))
    browser.wait("document.querySelector('#auroc-chart .hoverlayer .hovertext') !== null", timeout=10)
    hover = browser.js("document.querySelector('#auroc-chart .hoverlayer .hovertext').textContent")
    assert "AUROC 0.9500" in hover and "ui_daily" in hover
    # Zoom: a drag across the plot narrows the time axis.
    before = browser.js("document.getElementById('auroc-chart')._fullLayout.xaxis.range.map(Date.parse)")
    ranges = browser.js(
        "(() => { const l = document.getElementById('auroc-chart')._fullLayout;"
        " return {x: [...l.xaxis.range], y: [...l.yaxis.range]}; })()"
    )
    box = json.loads(
        browser.js("JSON.stringify(document.querySelector('#auroc-chart .nsewdrag').getBoundingClientRect())")
    )
    browser.drag(
        box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.2, box["x"] + box["width"] * 0.7, box["y"] + 20
    )
    browser.wait("document.getElementById('auroc-chart')._fullLayout.xaxis.autorange === false", timeout=10)
    after = browser.js("document.getElementById('auroc-chart')._fullLayout.xaxis.range.map(Date.parse)")
    assert after[1] - after[0] < (before[1] - before[0]) * 0.6
    # Back to the whole chart, as a double-click does, for the screenshot.
    browser.js(
        f"Plotly.relayout('auroc-chart', {{'xaxis.range': {json.dumps(ranges['x'])}, "
        f"'yaxis.range': {json.dumps(ranges['y'])}}}).then(() => true)"
    )
    # The drift heat map: one cell per feature and day.
    ((n_cells,),) = hook.query(
        "SELECT COUNT(*) FROM (SELECT DISTINCT feature, date(session_time) FROM automl_drift_results "
        "WHERE model_name = ?)",
        [model],
    )
    (heat,) = [t for t in _traces(browser, "drift-heatmap-0") if t["kind"] == "heatmap"]
    assert sum(v is not None for row in heat["z"] for v in row) == n_cells
    ((n_drifted,),) = hook.query(
        "SELECT COUNT(*) FROM (SELECT DISTINCT feature, date(session_time) FROM automl_drift_results "
        "WHERE model_name = ? AND drifted)",
        [model],
    )
    assert sum(len(t["x"]) for t in _traces(browser, "drift-heatmap-0") if t["kind"] == "drifted") == n_drifted
    assert browser.fits_width()
    assert browser.problems() == []
    browser.wait("document.querySelector('.plotly-notifier .notifier-note') === null")  # "double-click to zoom out"
    browser.screenshot(ARTIFACTS / "ui-monitoring.png")

    # The model: its evaluations over time (one point each), its drift, and its report from the model store.
    ((n_model_evals,),) = hook.query("SELECT COUNT(*) FROM automl_eval_results WHERE model_name = ?", [model])
    model_url = f"{base}/automl/models/{quote(model, safe='')}"
    browser.open(model_url, f"{_rendered('auroc-chart')} && {_rendered('drift-heatmap')}")
    points = _traces(browser, "auroc-chart")
    assert sum(len(t["x"]) for t in points if t["kind"] in ("monitor", "test_set", "insufficient")) == n_model_evals
    assert browser.js("document.querySelectorAll('table.evaluations tbody tr').length") == n_model_evals
    assert browser.js("document.querySelectorAll('table.drift tbody tr').length") == 4
    assert browser.fits_width()
    assert browser.problems() == []
    browser.screenshot(ARTIFACTS / "ui-model.png")
    report = browser.js("document.querySelector('a.report').href")
    browser.open(report, "document.body !== null && document.body.innerText.length > 0")
    assert model in browser.js("document.body.innerText")
    assert browser.problems() == []  # the report's own page, under its CSP

    # Mail: the caught alert, listed and shown; its HTML in a sandboxed frame where its script does not run.
    folder, eml = mail_folder
    browser.open(f"{base}/automl/mail", "document.querySelector('table.mail') !== null")
    assert browser.js("document.querySelectorAll('table.mail tbody tr').length") == 1
    assert browser.js("document.querySelector('header.nav a.active').textContent") == "Mail"
    browser.screenshot(ARTIFACTS / "ui-mail.png")
    browser.js("document.querySelector('a.mail').click()")
    browser.wait(f"location.pathname === '/automl/mail/{eml}' && document.querySelector('iframe.mail-body') !== null")
    browser.wait("document.querySelector('iframe.mail-body').getBoundingClientRect().height > 200")
    assert browser.js("document.querySelector('h1').textContent") == "Drift detected: <the model> on ui_daily"
    sandbox = browser.js("document.querySelector('iframe.mail-body').getAttribute('sandbox')")
    assert sandbox == "allow-popups allow-popups-to-escape-sandbox"  # no scripts, no same origin
    assert browser.js("document.body.dataset.ran === undefined")
    problems = browser.problems()
    assert all("Blocked script execution" in p and "sandboxed" in p for p in problems), problems
    browser.screenshot(ARTIFACTS / "ui-mail-message.png")

    # Inside the Airflow UI: the navigation entry opens the pages in a frame, authenticated by the same cookie.
    frame_rows = (
        "(() => { const f = document.querySelector('iframe'); const d = f && f.contentDocument;"
        " return d ? d.querySelectorAll('table.experiments tbody tr').length : -1; })()"
    )
    # (The UI mirrors the frame's location into its own: /plugin/automl/automl/experiments.)
    browser.open(f"{base}/plugin/automl", f"{frame_rows} === {n_experiments}", timeout=30, same_url=False)
    browser.screenshot(ARTIFACTS / "ui-airflow-nav.png", full_page=False)
    # In the UI's frame (1280 px less the UI's own navigation) the table fits: no column cut off or scrolled away.
    assert browser.js(
        "(() => { const d = document.querySelector('iframe').contentDocument;"
        " const t = d.querySelector('table.experiments');"
        " return t.scrollWidth <= t.parentElement.clientWidth && d.documentElement.scrollWidth <= "
        "document.querySelector('iframe').clientWidth; })()"
    )
    # The frame is sandboxed without allow-top-navigation: a DAG run link still opens the run in the Airflow UI.
    frame_link = "document.querySelector('iframe').contentDocument.querySelector('table.experiments a.run')"
    target = browser.js(f"{frame_link}.href")
    assert target.startswith(f"{base}/dags/automl_experiment/runs/")
    browser.js(f"{frame_link}.click()")
    browser.wait(f"location.href === {json.dumps(target)}")

    # The operators' extra links (links.py, with this server's base_url) open the model's pages inside the UI.
    from airflow_automl_provider.links import ui_url

    os.environ["AIRFLOW__API__BASE_URL"] = base
    try:
        model_link = ui_url(f"/models/{quote(model, safe='')}")
        report_link = ui_url(f"/models/{quote(model, safe='')}/report")
    finally:
        del os.environ["AIRFLOW__API__BASE_URL"]
    frame_h1 = "document.querySelector('iframe')?.contentDocument?.querySelector('h1')?.textContent"
    browser.open(model_link, f"{frame_h1} === {json.dumps('Model ' + model)}", timeout=30, same_url=False)
    assert browser.js("document.querySelector('iframe').contentWindow.location.pathname") == (
        f"/automl/models/{quote(model, safe='')}"
    )
    browser.wait(
        "document.querySelector('iframe').contentDocument.getElementById('auroc-chart')?.dataset.rendered === 'true'"
    )
    browser.screenshot(ARTIFACTS / "ui-airflow-model-link.png", full_page=False)
    frame_text = "document.querySelector('iframe')?.contentDocument?.body?.innerText || ''"
    browser.open(report_link, f"{frame_text}.includes({json.dumps(model)})", timeout=30, same_url=False)

    for name in (
        "ui-experiments.png",
        "ui-compare.png",
        "ui-monitoring.png",
        "ui-model.png",
        "ui-mail.png",
        "ui-mail-message.png",
        "ui-airflow-nav.png",
        "ui-airflow-model-link.png",
    ):
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nUI browser checks took {time.monotonic() - started:.1f} s; screenshots in {ARTIFACTS}")
