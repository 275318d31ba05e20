"""The AutoML UI plugin's routes with FastAPI's TestClient: real Airflow JWTs, a real SQLite tracking database."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.unit

MODEL_A = "automl_model_manual__2026-01-01T00_00_00_00_00"
MODEL_B = "churn_model"
RUN_A = "manual__2026-01-01T00:00:00+00:00"


class Dom(HTMLParser):
    """Elements of a page, as (tag, attributes) pairs, and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, css_class: str | None = None) -> list[dict[str, str]]:
        return [
            a for t, a in self.elements if t == tag and (css_class is None or css_class in a.get("class", "").split())
        ]

    def rows(self, table_class: str) -> int:
        """Body rows of the first table with that class."""
        inside, count = False, 0
        for tag, attrs in self.elements:
            if tag == "table":
                if inside:
                    break
                inside = table_class in attrs.get("class", "").split()
            elif inside and tag == "tbody":
                count = 0
            elif inside and tag == "tr":
                count += 1
        return count


@pytest.fixture(scope="module")
def metadata_db():
    """Airflow's metadata database: token validation checks the revoked-token table."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def auth_manager(metadata_db):
    from airflow.api_fastapi.app import create_auth_manager

    am = create_auth_manager()
    am.init()
    return am


@pytest.fixture
def token(auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username="viewer", role="VIEWER"))


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory):
    """A SQLite database with experiments, evaluations (one alerted, one too small) and drift results."""
    import os

    from airflow_automl_provider.hooks.model_store import REPORT, ModelStoreHook
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS, EXPERIMENTS

    path = tmp_path_factory.mktemp("ui") / "tracking.db"
    os.environ["AIRFLOW_CONN_AUTOML_UI_TEST"] = f"sqlite://{path}"
    hook = TrackingHook(conn_id="automl_ui_test")
    hook.create_tables()
    exp = {
        "task_attempt_id": "t",
        "dag_id": "automl_experiment",
        "problem_type": "binary",
        "eval_metric": "roc_auc",
        "try_number": 1,
    }
    hook.upsert(
        EXPERIMENTS,
        [
            {**exp, "session_time": "2026-01-01T00:00:00+00:00", "user_id": "alice", "model_name": MODEL_A,
             "run_id": RUN_A, "score_val": 0.91, "notebook_url": "file:///x/report.html"},
            {**exp, "session_time": "2026-01-03T00:00:00+00:00", "user_id": "bob", "model_name": MODEL_B,
             "run_id": "manual__b1", "score_val": 0.88, "notebook_url": "file:///y/report.html"},
            {**exp, "session_time": "2026-01-05T00:00:00+00:00", "user_id": "alice", "model_name": MODEL_B,
             "run_id": "manual__b2", "score_val": 0.89, "notebook_url": None},
        ],
    )  # fmt: skip
    evals = [
        ("2026-01-01T00:00:00+00:00", MODEL_A, 0.95, "ok", "{}", "automl_experiment", RUN_A),
        ("2026-01-02T07:00:00+00:00", MODEL_A, 0.94, "ok", '{"status": "ok"}', "automl_drift_monitor", "s1"),
        ("2026-01-03T07:00:00+00:00", MODEL_A, 0.90, "ok", "{}", "automl_drift_monitor", "s2"),  # under 0.93
        ("2026-01-04T07:00:00+00:00", MODEL_A, 0.95, "ok", '{"status": "drift"}', "automl_drift_monitor", "s3"),
        ("2026-01-05T07:00:00+00:00", MODEL_A, None, "insufficient_data", "{}", "automl_drift_monitor", "s4"),
        ("2026-01-03T00:00:00+00:00", MODEL_B, 0.97, "ok", "{}", "automl_experiment", "manual__b1"),
    ]
    hook.upsert(
        EVAL_RESULTS,
        [
            {"session_time": t, "model_name": m, "test_table": "t", "auroc": a, "status": s, "metrics_json": j,
             "dag_id": d, "run_id": r}
            for t, m, a, s, j, d, r in evals
        ],
    )  # fmt: skip
    hook.upsert(
        DRIFT_RESULTS,
        [
            {"session_time": f"2026-01-0{day}T07:00:00+00:00", "model_name": MODEL_A, "test_table": "t",
             "feature": feature, "kind": "numeric", "statistic": "wasserstein", "value": value, "threshold": 0.1,
             "drifted": value > 0.1, "dag_id": "automl_drift_monitor", "run_id": f"s{day}"}
            for day, feature, value in [(2, "age", 0.02), (2, "hours", 0.05), (3, "age", 0.2), (3, "hours", 0.04)]
        ],
    )  # fmt: skip
    # The report goes to the tests' model store ([automl] model_store, set by tests/conftest.py).
    report = ModelStoreHook().model_path(MODEL_A) / REPORT
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("<!doctype html><title>report of A</title><p>the report</p>")
    return hook


@pytest.fixture
def client(tracking_db, auth_manager, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_automl_provider.plugins.app import app

    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_test")
    monkeypatch.delenv("AIRFLOW__AUTOML__DRIFT_AUC_THRESHOLD", raising=False)
    root = FastAPI()  # mounted as the API server mounts plugin apps
    root.mount("/automl", app)
    return TestClient(root, follow_redirects=False)


PAGES = [
    "/automl/experiments",
    "/automl/monitoring",
    f"/automl/models/{MODEL_A}",
    f"/automl/models/{MODEL_A}/report",
]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_without_an_authenticated_user(client, page):
    assert client.get(page).status_code == 401
    assert client.get(page, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    assert client.get(page, cookies={"_token": "not-a-jwt"}).status_code == 403
    # A browser is sent to Airflow's login page, which sends it back.
    browser = client.get(page, headers={"Accept": "text/html"})
    assert browser.status_code == 303
    assert browser.headers["location"].startswith("/auth/login?next=")
    assert quote(page, safe="") in browser.headers["location"]
    assert "report" not in browser.text and "automl_model" not in browser.text


def test_an_expired_token_is_refused(client, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    expired = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="viewer", role="VIEWER"), expiration_time_in_seconds=-60
    )
    assert client.get("/automl/experiments", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_experiments_newest_first_with_links(client, token):
    # The UI's frame authenticates with the `_token` cookie, API clients with a bearer token: both work.
    page = client.get("/automl/experiments", cookies={"_token": token})
    assert page.status_code == 200, page.text
    assert client.get("/automl/experiments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    dom = Dom(page.text)
    assert dom.rows("experiments") == 3
    models = [a["href"] for a in dom.find("a", "model")]
    assert models == [f"/automl/models/{MODEL_B}", f"/automl/models/{MODEL_B}", f"/automl/models/{MODEL_A}"]
    runs = [a["href"] for a in dom.find("a", "run")]
    assert runs[-1] == f"/dags/automl_experiment/runs/{quote(RUN_A, safe='')}"
    assert all(a["target"] == "_top" for a in dom.find("a", "run"))
    # A report link only where the experiment has one.
    assert [a["href"] for a in dom.find("a", "report")] == [
        f"/automl/models/{MODEL_B}/report",
        f"/automl/models/{MODEL_A}/report",
    ]


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ({"model": MODEL_B}, 2),
        ({"user": "alice"}, 2),
        ({"user": "alice", "model": MODEL_B}, 1),
        ({"date_from": "2026-01-03"}, 2),
        ({"date_to": "2026-01-03"}, 2),  # inclusive
        ({"date_from": "2026-01-02", "date_to": "2026-01-04"}, 1),
        ({"model": "", "user": "", "date_from": "", "date_to": ""}, 3),  # an empty form
        ({"user": "alice' OR '1'='1"}, 0),  # bound, never spliced into the SQL
    ],
)
def test_experiment_filters(client, token, query, rows):
    page = client.get("/automl/experiments", params=query, cookies={"_token": token})
    assert page.status_code == 200, page.text
    assert Dom(page.text).rows("experiments") == rows


@pytest.mark.parametrize(
    "query",
    [{"date_from": "yesterday"}, {"date_to": "2026-13-01"}, {"model": "../etc"}, {"user": "a\x00b"}],
)
def test_invalid_filters_are_refused(client, token, query):
    page = client.get("/automl/experiments", params=query, cookies={"_token": token})
    assert page.status_code == 400
    assert 'class="error"' in page.text


def test_model_page(client, token):
    page = client.get(f"/automl/models/{MODEL_A}", cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    assert len(dom.find("circle", "point")) == 4 and len(dom.find("path", "point")) == 1  # 5 evaluations
    assert dom.rows("evaluations") == 5
    assert dom.find("a", "report")[0]["href"] == f"/automl/models/{MODEL_A}/report"
    # Drift: 2 features x 2 days, one drifted; the latest run's rows in the table.
    assert len(dom.find("rect", "cell")) == 4
    assert [(c["data-feature"], c["data-day"]) for c in dom.find("rect", "drifted")] == [("age", "2026-01-03")]
    assert dom.rows("drift") == 2


def test_model_report_is_served_from_the_model_store(client, token):
    page = client.get(f"/automl/models/{MODEL_A}/report", cookies={"_token": token})
    assert page.status_code == 200
    assert "the report" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # B has no report file: 404, not 500. A name with a path trick never reaches the store.
    assert client.get(f"/automl/models/{MODEL_B}/report", cookies={"_token": token}).status_code == 404
    for bad in ("..", "..%2F..%2Fetc", ".hidden", "a%20b"):
        assert client.get(f"/automl/models/{bad}/report", cookies={"_token": token}).status_code in (400, 404)


def test_unknown_model_is_404(client, token):
    assert client.get("/automl/models/no_such_model", cookies={"_token": token}).status_code == 404


def test_monitoring_chart(client, token):
    page = client.get("/automl/monitoring", cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    points = dom.find("circle", "point") + dom.find("path", "point")
    assert len(points) == 6  # one per evaluation, both models
    assert {p["data-model"] for p in points} == {MODEL_A, MODEL_B}
    # Alerted: AUROC 0.90 under 0.93, and status "drift" in metrics_json; never the too-small batch.
    assert sorted(p["data-time"][:10] for p in dom.find("circle", "alerted")) == ["2026-01-03", "2026-01-04"]
    assert [r["data-day"] for r in dom.find("rect", "alert-day")] == ["2026-01-03", "2026-01-04"]
    assert dom.find("line", "threshold")[0]["data-threshold"] == "0.93"
    assert len(dom.find("rect", "cell")) == 4
    # Another threshold, from the query or from [automl] drift_auc_threshold.
    dom = Dom(client.get("/automl/monitoring", params={"threshold": "0.945"}, cookies={"_token": token}).text)
    assert len(dom.find("circle", "alerted")) == 3
    assert client.get("/automl/monitoring", params={"threshold": "2"}, cookies={"_token": token}).status_code == 400
    dom = Dom(client.get("/automl/monitoring", params={"model": MODEL_B}, cookies={"_token": token}).text)
    assert len(dom.find("circle", "point")) == 1 and not dom.find("rect", "cell")


def test_threshold_from_config(client, token, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOML__DRIFT_AUC_THRESHOLD", "0.8")
    dom = Dom(client.get("/automl/monitoring", cookies={"_token": token}).text)
    assert dom.find("line", "threshold")[0]["data-threshold"] == "0.8"
    assert [p["data-time"][:10] for p in dom.find("circle", "alerted")] == ["2026-01-04"]  # status drift only


def test_missing_tables_give_a_hint_not_an_error(client, token, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_UI_EMPTY", f"sqlite://{tmp_path}/empty.db")
    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_empty")
    for page in ("/automl/experiments", "/automl/monitoring", f"/automl/models/{MODEL_A}"):
        answer = client.get(page, cookies={"_token": token})
        assert answer.status_code == 200, (page, answer.text)
        assert "run the <b>automl_experiment</b> DAG first" in answer.text


def test_unknown_connection_is_a_clear_error(client, token, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_missing")
    answer = client.get("/automl/experiments", cookies={"_token": token})
    assert answer.status_code == 503
    assert "automl_ui_missing" in answer.text


def test_index_redirects_to_experiments(client, token):
    answer = client.get("/automl/", cookies={"_token": token})
    assert answer.status_code == 307 and answer.headers["location"] == "/automl/experiments"


def test_plugin_registration():
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from airflow_automl_provider.plugins.app import app
    from airflow_automl_provider.plugins.automl_plugin import AutoMLPlugin

    (fastapi_app,) = AutoMLPlugin.fastapi_apps
    assert fastapi_app["app"] is app and fastapi_app["url_prefix"] == "/automl"
    assert not any(fastapi_app["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)
    (view,) = AutoMLPlugin.external_views
    parsed = ExternalViewResponse.model_validate(view)
    assert (parsed.destination, parsed.url_route, parsed.href) == ("nav", "automl", "/automl/experiments")


def test_plugin_module_imports_no_heavy_library():
    code = (
        "import sys, airflow_automl_provider.plugins.automl_plugin; "
        "print([m for m in ('pandas', 'numpy', 'sklearn', 'autogluon') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
