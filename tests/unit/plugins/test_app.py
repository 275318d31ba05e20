"""The AutoML UI plugin's routes with FastAPI's TestClient: real Airflow JWTs, a real SQLite tracking database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.unit

MODEL_A = "automl_model_manual__2026-01-01T00_00_00_00_00"
MODEL_B = "churn_model"
MODEL_C = "store_only_model"  # in the model store, never tracked
RUN_A = "manual__2026-01-01T00:00:00+00:00"
PLUGINS = Path(__file__).resolve().parents[3] / "airflow_automl_provider" / "plugins"


class Dom(HTMLParser):
    """Elements of a page, as (tag, attributes) pairs, its text, and the figures embedded as JSON."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._open: list[tuple[str, dict[str, str]]] = []
        self._cells: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.elements.append((tag, attributes))
        self._open.append((tag, attributes))
        if tag == "script":
            self.scripts.append((attributes, ""))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        if self._open and self._open[-1][0] == "script" and self.scripts:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)

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

    def figures(self) -> dict[str, dict]:
        """The plotly figures embedded in the page, by the id of the element they are drawn into."""
        return {
            attrs["data-target"]: json.loads(body)
            for attrs, body in self.scripts
            if attrs.get("type") == "application/json" and "plotly-figure" in attrs.get("class", "").split()
        }


class Cells(HTMLParser):
    """The text of each cell of the body rows of the first table with a class, row by row."""

    def __init__(self, text: str, table_class: str) -> None:
        super().__init__()
        self.table_class, self.rows, self._state, self._cell = table_class, [], "before", None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if self._state == "before" and tag == "table" and self.table_class in classes.split():
            self._state = "table"
        elif self._state == "table" and tag == "tbody":
            self._state = "body"
        elif self._state == "body" and tag == "tr":
            self.rows.append([])
        elif self._state == "body" and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._state == "body" and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._state == "body" and tag == "table":
            self._state = "done"

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def traces(figure: dict, kind: str) -> list[dict]:
    return [t for t in figure["data"] if (t.get("meta") or {}).get("kind") == kind]


@pytest.fixture(scope="module")
def metadata_db(airflow_metadata):
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


# The drift monitor's evaluations of model A on table "daily": (day, AUROC, recorded status, recorded threshold).
# Day 6 is under the 0.93 of the old threshold box, but the monitor (threshold 0.9 by then) recorded "ok".
DAILY = [
    (2, 0.94, "ok", 0.93),
    (3, 0.90, "drift", 0.93),
    (4, 0.95, "drift", 0.93),  # alerted on data drift, with a good AUROC
    (5, None, "insufficient_data", 0.93),
    (6, 0.91, "ok", 0.90),
    (7, 0.92, "ok", 0.90),
]


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory):
    """
    A SQLite database with experiments (one from an older table: no fit columns), test-set and monitor evaluations
    of model A on two tables, one of B, drift results; models A and C in the model store with leaderboard and
    feature importance, B with neither.
    """
    from airflow_automl_provider.hooks.model_store import ModelStoreHook
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS, EXPERIMENTS

    tmp = tmp_path_factory.mktemp("ui")
    path = tmp / "tracking.db"
    os.environ["AIRFLOW_CONN_AUTOML_UI_TEST"] = f"sqlite://{path}"
    hook = TrackingHook(conn_id="automl_ui_test")
    hook.create_tables()
    exp = {"task_attempt_id": "t", "dag_id": "automl_experiment", "problem_type": "binary", "try_number": 1}
    params_a = {"time_limit": 60, "presets": "medium_quality", "eval_metric": "roc_auc", "hyperparameters": None}
    hook.upsert(
        EXPERIMENTS,
        [
            {**exp, "session_time": "2026-01-01T00:00:00+00:00", "user_id": "alice", "model_name": MODEL_A,
             "run_id": RUN_A, "eval_metric": "roc_auc", "score_val": 0.91, "notebook_url": "file:///x/report.html",
             "best_model": "WeightedEnsemble_L2", "num_rows_train": 32561, "time_limit": 60.0,
             "presets": "medium_quality", "input_table": "gluon_train", "params_json": json.dumps(params_a)},
            {**exp, "session_time": "2026-01-03T00:00:00+00:00", "user_id": "bob", "model_name": MODEL_B,
             "run_id": "manual__b1", "eval_metric": "accuracy", "score_val": 0.88,
             "notebook_url": "file:///y/report.html", "best_model": "LightGBM", "num_rows_train": 1200,
             "time_limit": 30.0, "presets": "best_quality", "input_table": "churn_train",
             "params_json": json.dumps({"time_limit": 30, "presets": "best_quality", "eval_metric": "accuracy"})},
            # As an older tracking table recorded it: none of the fit columns.
            {**exp, "session_time": "2026-01-05T00:00:00+00:00", "user_id": "alice", "model_name": MODEL_B,
             "run_id": "manual__b2", "eval_metric": "accuracy", "score_val": 0.89, "notebook_url": None},
        ],
    )  # fmt: skip
    evals = [
        # The experiment DAG's own test-set evaluations: no recorded decision ("alert" not in metrics_json).
        ("2026-01-01T00:00:00+00:00", MODEL_A, "gluon_test", 0.95, "ok", {"auc": 0.95}, "automl_experiment", RUN_A),
        ("2026-01-03T00:00:00+00:00", MODEL_B, "gluon_test", 0.97, "ok", {"auc": 0.97}, "automl_experiment",
         "manual__b1"),
        # Model A on a second table, judged by another monitor.
        ("2026-01-04T08:00:00+00:00", MODEL_A, "weekly", 0.97, "ok",
         {"alert": False, "status": "ok", "threshold": 0.93, "reasons": []}, "automl_drift_monitor", "w1"),
    ]  # fmt: skip
    for day, auc, status, threshold in DAILY:
        reasons = {"drift": ["AUROC under the threshold" if auc and auc < threshold else "60% of the features drifted"]}
        evals.append(
            (f"2026-01-0{day}T07:00:00+00:00", MODEL_A, "daily", auc, status,
             {"alert": status == "drift", "status": status, "threshold": threshold, "auc": auc,
              "reasons": reasons.get(status, [])}, "automl_drift_monitor", f"s{day}")
        )  # fmt: skip
    hook.upsert(
        EVAL_RESULTS,
        [
            {"session_time": t, "model_name": m, "test_table": table, "auroc": a, "status": s,
             "metrics_json": json.dumps(j), "dag_id": d, "run_id": r, "num_rows": 23000 if a else 12,
             "positives": 5500 if a else 3}
            for t, m, table, a, s, j, d, r in evals
        ],
    )  # fmt: skip
    hook.upsert(
        DRIFT_RESULTS,
        [
            {"session_time": f"2026-01-0{day}T07:00:00+00:00", "model_name": MODEL_A, "test_table": "daily",
             "feature": feature, "kind": "numeric", "statistic": "wasserstein", "value": value, "threshold": 0.1,
             "drifted": value > 0.1, "dag_id": "automl_drift_monitor", "run_id": f"s{day}"}
            for day, feature, value in [(2, "age", 0.02), (2, "hours", 0.05), (3, "age", 0.2), (3, "hours", 0.04)]
        ],
    )  # fmt: skip
    # The model store ([automl] model_store, set by tests/conftest.py): what the train task saves.
    predictor = tmp / "predictor"
    predictor.mkdir()
    (predictor / "model.bin").write_bytes(b"not a real predictor: the pages never load it")
    leaderboard = [
        {"model": f"Model{i}", "score_val": 0.9 - i / 100, "eval_metric": "roc_auc", "fit_time": 1.5 * i,
         "pred_time_val": 0.01 * i, "stack_level": 1}
        for i in range(7)
    ]  # fmt: skip
    importance = [
        {"feature": "age", "importance": 0.031, "stddev": 0.004, "p_value": 0.001, "n": 5},
        {"feature": "hours<b>", "importance": 0.012, "stddev": 0.003, "p_value": 0.02, "n": 5},
    ]
    store = ModelStoreHook()
    manifest = {"problem_type": "binary", "features": ["age", "hours<b>"], "best_model": "WeightedEnsemble_L2"}
    extras = {"leaderboard.json": json.dumps(leaderboard), "feature_importance.json": json.dumps(importance)}
    store.save(
        str(predictor), MODEL_A, manifest, report_html="<!doctype html><title>report of A</title><p>the report</p>",
        extras=extras,
    )  # fmt: skip
    store.save(str(predictor), MODEL_B, {"problem_type": "binary", "features": ["x"]})
    # One shuffle per feature: no spread recorded (null), as AutoGluon gives it.
    one_shuffle = [{"feature": "x", "importance": 0.2, "stddev": None, "p_value": None, "n": 1}]
    store.save(
        str(predictor), MODEL_C, {"problem_type": "binary", "score_val": 0.8, "eval_metric": "f1"},
        extras={"feature_importance.json": json.dumps(one_shuffle)},
    )  # fmt: skip
    return hook


@pytest.fixture
def client(tracking_db, auth_manager, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_automl_provider.plugins.app import app

    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_test")
    monkeypatch.delenv("AIRFLOW__AUTOML__MAIL_DIR", raising=False)
    root = FastAPI()  # mounted as the API server mounts plugin apps
    root.mount("/automl", app)
    return TestClient(root, follow_redirects=False)


PAGES = [
    "/automl/experiments",
    "/automl/monitoring",
    f"/automl/models/{MODEL_A}",
    f"/automl/models/{MODEL_A}/report",
    "/automl/mail",
    "/automl/static/plotly.min.js",
    "/automl/static/automl.js",
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


def test_compare_needs_a_user_too(client):
    assert client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_B)]).status_code == 401


def test_an_expired_token_is_refused(client, auth_manager):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    expired = auth_manager.generate_jwt(
        SimpleAuthManagerUser(username="viewer", role="VIEWER"), expiration_time_in_seconds=-60
    )
    assert client.get("/automl/experiments", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def _scripts_are_files_or_data(dom: Dom, base: str = "/automl/static/") -> None:
    """Under the CSP (script-src 'self'), no inline script runs: every script is a file of the app, or data."""
    for attrs, body in dom.scripts:
        if attrs.get("type") == "application/json":
            assert "</" not in body
        else:
            assert attrs["src"].startswith(base) and not body.strip(), attrs


def test_experiments_newest_first_with_links_and_fit_columns(client, token):
    # The UI's frame authenticates with the `_token` cookie, API clients with a bearer token: both work.
    page = client.get("/automl/experiments", cookies={"_token": token})
    assert page.status_code == 200, page.text
    assert client.get("/automl/experiments", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-eval" not in csp
    dom = Dom(page.text)
    _scripts_are_files_or_data(dom)
    assert not dom.figures()  # no chart here, so no plotly bundle either
    assert not any("plotly" in a.get("src", "") for a, _ in dom.scripts)
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
    # Columns: test AUROC from the run's own evaluation, the validation measure with its metric, formatted numbers.
    cells = Cells(page.text, "experiments").rows
    b2, b1, a = cells
    assert a[1:5] == ["2026-01-01 00:00 UTC", MODEL_A, "alice", "0.9500"]
    assert a[5:10] == ["roc_auc 0.9100", "60 s", "medium_quality", "WeightedEnsemble_L2", "32,561"]
    assert b1[4:6] == ["0.9700", "accuracy 0.8800"] and b1[9] == "1,200"
    assert b2[4:10] == ["", "accuracy 0.8900", "", "", "", ""]  # an older row: nothing invented
    # One checkbox per row, for the compare form.
    boxes = dom.find("input")
    assert [b["value"] for b in boxes if b.get("type") == "checkbox"] == [MODEL_B, MODEL_B, MODEL_A]
    assert dom.find("form", "compare-form")[0]["action"] == "/automl/compare"


@pytest.mark.parametrize(
    ("query", "order"),
    [
        ({}, ["manual__b2", "manual__b1", RUN_A]),
        ({"sort": "time", "dir": "asc"}, [RUN_A, "manual__b1", "manual__b2"]),
        ({"sort": "test_auroc"}, ["manual__b1", RUN_A, "manual__b2"]),  # highest first, no value last
        ({"sort": "test_auroc", "dir": "asc"}, [RUN_A, "manual__b1", "manual__b2"]),
        ({"sort": "validation", "dir": "desc"}, [RUN_A, "manual__b2", "manual__b1"]),
        ({"sort": "rows", "dir": "asc"}, ["manual__b1", RUN_A, "manual__b2"]),
        ({"sort": "model", "dir": "asc"}, [RUN_A, "manual__b2", "manual__b1"]),
        ({"sort": "user", "dir": "desc"}, ["manual__b1", "manual__b2", RUN_A]),
        ({"sort": "best_model", "dir": "asc"}, ["manual__b1", RUN_A, "manual__b2"]),
        ({"sort": "time_limit", "dir": "asc"}, ["manual__b1", RUN_A, "manual__b2"]),
        ({"sort": "presets", "dir": "asc"}, ["manual__b1", RUN_A, "manual__b2"]),
        ({"sort": "model", "dir": "asc", "user": "alice"}, [RUN_A, "manual__b2"]),
    ],
)
def test_experiments_sort(client, token, query, order):
    page = client.get("/automl/experiments", params=query, cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    assert [a["href"].rsplit("/", 1)[-1] for a in dom.find("a", "run")] == [quote(r, safe="") for r in order]
    # The column headers link to the other order and keep the filters.
    links = {a["href"] for a in dom.find("a", "sort")}
    if query.get("user"):
        assert all("user=alice" in link for link in links)
    from airflow_automl_provider.plugins.data import parse_sort

    column, descending = parse_sort(query.get("sort"), query.get("dir"))
    (current,) = [a for a in dom.find("a", "sort") if f"sort={column}&" in a["href"]]
    assert current["href"].endswith("dir=asc" if descending else "dir=desc")


@pytest.mark.parametrize("query", [{"sort": "session_time; DROP TABLE x"}, {"sort": "model", "dir": "up"}])
def test_bad_sort_is_refused(client, token, query):
    page = client.get("/automl/experiments", params=query, cookies={"_token": token})
    assert page.status_code == 400 and 'class="error"' in page.text


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


def test_compare_two_models_side_by_side(client, token):
    page = client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_B)], cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    _scripts_are_files_or_data(dom)
    rows = {r[0]: r[1:] for r in Cells(page.text, "compare").rows}
    assert rows["Validation"] == ["roc_auc 0.9100", "accuracy 0.8900"]  # B: its newest experiment
    assert rows["Test AUROC"] == ["0.9500 on gluon_test", "not recorded"]
    assert rows["Training rows"] == ["32,561", "not recorded"]
    assert rows["Time limit"] == ["60 s", "not recorded"]
    assert rows["Best model"] == ["WeightedEnsemble_L2", "not recorded"]
    assert rows["param: presets"] == ["medium_quality", "not recorded"]
    assert rows["param: hyperparameters"] == ["default", "not recorded"]
    assert rows["Features"] == ["2", "1"]
    assert [a["href"] for a in dom.find("a", "model")][:2] == [f"/automl/models/{MODEL_A}", f"/automl/models/{MODEL_B}"]
    # Leaderboard top 5 and feature importance from the model store; B has none recorded.
    assert dom.rows("leaderboard") == 5
    assert Cells(page.text, "leaderboard").rows[0] == ["Model0", "0.9000", "0.0 s", "0.00 s"]
    assert page.text.count("not recorded") >= 2
    assert Cells(page.text, "importance").rows[1][0] == "hours<b>"  # text, escaped
    assert "hours<b>" not in page.text
    (figure,) = dom.figures().values()
    (bars,) = traces(figure, "importance")
    assert bars["meta"]["model"] == MODEL_A and sorted(bars["x"]) == [0.012, 0.031]
    assert any("plotly.min.js" in a.get("src", "") for a, _ in dom.scripts)


def test_compare_uses_the_model_store_for_an_untracked_model(client, token):
    page = client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_C)], cookies={"_token": token})
    assert page.status_code == 200, page.text
    rows = {r[0]: r[1:] for r in Cells(page.text, "compare").rows}
    assert rows["Validation"] == ["roc_auc 0.9100", "f1 0.8000"]
    assert rows["Session time"] == ["2026-01-01 00:00 UTC", "not recorded"]
    # Feature importance without a spread: no empty Std. dev. and p-value columns for that model.
    cards = page.text.split('<section class="card importance"')[1:]
    assert [card.count("<th>") for card in cards] == [4, 2]
    assert Cells(cards[1], "importance").rows == [["x", "0.2000"]]
    assert "not recorded" in page.text.split('<section class="card leaderboard"')[2]  # C has no leaderboard


@pytest.mark.parametrize(
    ("models", "status"),
    [
        ([MODEL_A], 400),
        ([MODEL_A, MODEL_A], 400),  # one model twice is still one
        ([], 400),
        ([MODEL_A, "../etc"], 400),
        ([f"m{i}" for i in range(7)], 400),
        (["no_such_model", "nor_this_one"], 404),
    ],
)
def test_compare_needs_two_known_models(client, token, models, status):
    page = client.get("/automl/compare", params=[("model", m) for m in models], cookies={"_token": token})
    assert page.status_code == status
    assert 'href="/automl/experiments"' in page.text  # a way back


def test_model_page(client, token):
    page = client.get(f"/automl/models/{MODEL_A}", cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    _scripts_are_files_or_data(dom)
    figures = dom.figures()
    auroc = figures["auroc-chart"]
    n_evals = 2 + len(DAILY)  # its test-set evaluation, the weekly one, the daily ones
    points = sum(len(t["x"]) for kind in ("monitor", "test_set", "insufficient") for t in traces(auroc, kind))
    assert points == n_evals
    assert dom.rows("evaluations") == n_evals
    assert dom.find("div", "auroc-chart")[0]["data-alerted"] == "2"
    assert dom.find("a", "report")[0]["href"] == f"/automl/models/{MODEL_A}/report"
    summary = " ".join(" ".join(dom.text).split())
    assert "validation roc_auc 0.9100" in summary and "test AUROC 0.9500 on gluon_test" in summary
    # Drift: 2 features x 2 days, one drifted, as a plotly heat map; the latest run's rows in the table.
    (heat,) = traces(figures["drift-heatmap"], "heatmap")
    assert heat["x"] == ["2026-01-02", "2026-01-03"] and sorted(heat["y"]) == ["age", "hours"]
    assert sum(v is not None for row in heat["z"] for v in row) == 4
    (drifted,) = traces(figures["drift-heatmap"], "drifted")
    assert list(zip(drifted["y"], drifted["x"], strict=True)) == [("age", "2026-01-03")]
    assert dom.rows("drift") == 2
    # Breadcrumbs back to the experiments.
    crumbs = page.text.split('class="crumbs"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/automl/experiments">Experiments</a>' in crumbs and MODEL_A in crumbs


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


def _monitoring(client, token, **params) -> dict:
    page = client.get("/automl/monitoring", params=params, cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    _scripts_are_files_or_data(dom)
    return {"dom": dom, "figure": dom.figures()["auroc-chart"], "page": page}


def _points(trace: dict) -> list[tuple[str, str]]:
    """(time, model) of each point of a trace, from its hover data."""
    return [(x, c[0]) for x, c in zip(trace["x"], trace["customdata"], strict=True)]


@pytest.mark.parametrize("threshold", [None, "", "0", "0.5", "0.9", "0.905", "0.93", "0.945", "0.96", "0.99", "1"])
def test_alerted_points_are_exactly_the_recorded_drift_decisions(client, token, tracking_db, threshold):
    """Whatever the page's reference line, a point is alerted iff the monitor recorded status "drift" for it."""
    from airflow_automl_provider.plugins.data import as_datetime

    recorded = sorted(
        (as_datetime(t).strftime("%Y-%m-%d %H:%M:%S"), m)
        for t, m in tracking_db.query(
            "SELECT session_time, model_name FROM automl_eval_results WHERE status = ?", ["drift"]
        )
    )
    assert len(recorded) == 2
    params = {"threshold": threshold} if threshold is not None else {}
    seen = _monitoring(client, token, **params)
    (alerted,) = traces(seen["figure"], "alerted")
    assert sorted(_points(alerted)) == recorded
    assert seen["dom"].rows("evaluations") == len(recorded)  # the "Alerted evaluations" table
    # Shaded days: the UTC days of those points, nothing else.
    assert [s["x0"][:10] for s in seen["figure"]["layout"]["shapes"]] == ["2026-01-03", "2026-01-04"]
    reference = traces(seen["figure"], "reference")
    if threshold:
        assert reference[0]["y"] == [float(threshold)] * 2  # drawn, and nothing more
    else:
        assert reference == []


def test_series_are_one_model_on_one_table_and_test_sets_are_separate(client, token):
    figure = _monitoring(client, token)["figure"]
    monitor = {(t["meta"]["model"], t["meta"]["table"]): t for t in traces(figure, "monitor")}
    assert set(monitor) == {(MODEL_A, "daily"), (MODEL_A, "weekly")}
    measured = [d for d in DAILY if d[1] is not None]
    assert monitor[(MODEL_A, "daily")]["y"] == [d[1] for d in measured]
    assert monitor[(MODEL_A, "daily")]["mode"] == "lines+markers"
    assert monitor[(MODEL_A, "weekly")]["y"] == [0.97]
    # The experiments' own test-set evaluations: markers only, never on a daily line.
    test_sets = {(t["meta"]["model"], t["meta"]["table"]): t for t in traces(figure, "test_set")}
    assert set(test_sets) == {(MODEL_A, "gluon_test"), (MODEL_B, "gluon_test")}
    assert all(t["mode"] == "markers" for t in test_sets.values())
    assert test_sets[(MODEL_A, "gluon_test")]["x"] == ["2026-01-01 00:00:00"]
    assert "2026-01-01 00:00:00" not in monitor[(MODEL_A, "daily")]["x"]
    # The too-small batch: shown as such, no AUROC, not alerted.
    (small,) = traces(figure, "insufficient")
    assert small["x"] == ["2026-01-05 07:00:00"] and "insufficient data" in small["customdata"][0][4]
    # Every evaluation is exactly one point of one of these traces.
    points = sum(len(t["x"]) for kind in ("monitor", "test_set", "insufficient") for t in traces(figure, kind))
    assert points == 3 + len(DAILY)
    # The threshold the monitor recorded, as a step line per monitored series (it changed on day 6).
    lines = {(t["meta"]["model"], t["meta"]["table"]): t for t in traces(figure, "threshold")}
    assert set(lines) == set(monitor)
    assert lines[(MODEL_A, "daily")]["y"] == [d[3] for d in DAILY]
    assert lines[(MODEL_A, "daily")]["line"]["shape"] == "hv"
    # The legend tells the series apart: each series' traces in a group titled with its model and table.
    entries = [(t.get("legendgroup"), t["name"]) for t in figure["data"]]
    assert len(entries) == len(set(entries)) and all(t.get("showlegend", True) for t in figure["data"])
    titles = {t["legendgroup"]: t["legendgrouptitle"]["text"] for t in figure["data"] if t.get("legendgroup")}
    assert titles == {f"{m} on {table}": f"{m} on {table}" for m, table in [*monitor, *test_sets]}
    assert figure["layout"]["xaxis"]["title"]["text"] and figure["layout"]["yaxis"]["title"]["text"] == "AUROC"


def test_monitoring_filters_and_heat_maps(client, token):
    seen = _monitoring(client, token)
    heat = seen["dom"].figures()["drift-heatmap-0"]
    assert sum(v is not None for row in traces(heat, "heatmap")[0]["z"] for v in row) == 4
    assert "hovertemplate" in traces(heat, "heatmap")[0]
    assert client.get("/automl/monitoring", params={"threshold": "2"}, cookies={"_token": token}).status_code == 400
    only_b = _monitoring(client, token, model=MODEL_B)
    assert [len(t["x"]) for t in only_b["figure"]["data"]] == [1] and not traces(only_b["figure"], "alerted")
    assert "drift-heatmap-0" not in only_b["dom"].figures()


def test_static_files_are_served_with_long_cache(client, token):
    import plotly

    page = client.get(f"/automl/models/{MODEL_A}", cookies={"_token": token})
    srcs = [a["src"] for a, _ in Dom(page.text).scripts if a.get("src")]
    plotly_src = next(s for s in srcs if "plotly.min.js" in s)
    assert plotly_src == f"/automl/static/plotly.min.js?v={plotly.__version__}"
    bundle = client.get(plotly_src, cookies={"_token": token}, headers={"Accept-Encoding": "gzip"})
    assert bundle.status_code == 200
    assert bundle.headers["content-encoding"] == "gzip" and "immutable" in bundle.headers["cache-control"]
    assert bundle.headers["content-type"].startswith("text/javascript")
    from plotly.offline import get_plotlyjs

    assert bundle.content == get_plotlyjs().encode()  # (httpx un-gzips it)
    script = next(s for s in srcs if "automl.js" in s)
    answer = client.get(script, cookies={"_token": token})
    assert answer.status_code == 200 and "Plotly.newPlot" in answer.text and 'target="_top"' in answer.text
    for bad in ("../app.py", "app.py", "..%2Fapp.py", "templates"):
        assert client.get(f"/automl/static/{bad}", cookies={"_token": token}).status_code == 404


def _eml(folder: Path, name: str, subject: str, date: str, html: str | None = None, text: str = "") -> None:
    msg = EmailMessage()
    msg["From"] = "automl@example.com"
    msg["To"] = "data-team@example.com"
    msg["Subject"] = subject
    msg["Date"] = date
    msg.set_content(text or "plain text")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    (folder / name).write_bytes(bytes(msg))


@pytest.fixture
def mail_dir(tmp_path, monkeypatch):
    folder = tmp_path / "mail"
    folder.mkdir()
    _eml(folder, "20260102-070001-1.eml", "Drift detected: <b>m</b>", "Fri, 02 Jan 2026 07:00:01 +0000",
         html="<h1>Drift</h1><p>AUROC 0.9012</p><script>parent.stolen = 1</script>"
              '<p><a href="http://af:8080/dags/d/runs/r%2B1">Open the <b>run</b></a> <a href="javascript:x()">js</a></p>')  # fmt: skip
    _eml(folder, "20260101-080000-2.eml", "Older", "Thu, 01 Jan 2026 09:00:00 +0100", text="older body")
    _eml(folder, "20260103-070000-3.eml", "Newest", "Sat, 03 Jan 2026 07:00:00 +0000", text="x < y & z")
    (folder / "notes.txt").write_text("not a mail")
    (tmp_path / "secret.eml").write_text("Subject: outside the folder\n\nsecret")
    monkeypatch.setenv("AIRFLOW__AUTOML__MAIL_DIR", str(folder))
    return folder


def test_mail_page_lists_caught_mail_newest_first(client, token, mail_dir):
    page = client.get("/automl/mail", cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    assert any(a["href"] == "/automl/mail" for a in dom.find("a"))  # in the navigation
    rows = Cells(page.text, "mail").rows
    assert [r[3] for r in rows] == ["Newest", "Drift detected: <b>m</b>", "Older"]
    assert rows[2][0] == "2026-01-01 08:00 UTC" and rows[0][1:3] == ["automl@example.com", "data-team@example.com"]
    assert "<b>m</b>" not in page.text  # escaped
    assert [a["href"] for a in dom.find("a", "mail")][0] == "/automl/mail/20260103-070000-3.eml"


def test_mail_message_is_shown_escaped_and_without_scripts(client, token, mail_dir):
    page = client.get("/automl/mail/20260102-070001-1.eml", cookies={"_token": token})
    assert page.status_code == 200, page.text
    dom = Dom(page.text)
    (frame,) = dom.find("iframe", "mail-body")
    # No scripts, no same-origin access; links may only open a new tab, outside the frame and its CSP.
    assert frame["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
    assert frame["srcdoc"].startswith('<base target="_blank">')
    assert "<h1>Drift</h1>" in frame["srcdoc"] and "AUROC 0.9012" in frame["srcdoc"]
    assert "<script>parent.stolen" not in page.text.replace(frame["srcdoc"], "")  # only inside the srcdoc
    assert "&lt;script&gt;parent.stolen" in page.text
    _scripts_are_files_or_data(dom)
    assert "Drift detected: &lt;b&gt;m&lt;/b&gt;" in page.text
    text = client.get("/automl/mail/20260103-070000-3.eml", cookies={"_token": token})
    assert text.status_code == 200 and "x &lt; y &amp; z" in text.text and not Dom(text.text).find("iframe")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("notes.txt", 400),
        ("..%2Fsecret.eml", 404),  # a path, not a file name: no route matches it
        ("..secret.eml", 400),
        (".hidden.eml", 400),
        ("missing.eml", 404),
        ("a%00b.eml", 400),
    ],
)
def test_mail_file_names_are_validated(client, token, mail_dir, name, status):
    page = client.get(f"/automl/mail/{name}", cookies={"_token": token})
    assert page.status_code == status
    assert "secret" not in page.text.replace(name, "").replace("..secret", "")


def test_mail_page_without_mail_dir(client, token):
    assert client.get("/automl/mail", cookies={"_token": token}).status_code == 404
    assert "mail_dir" in client.get("/automl/mail", cookies={"_token": token}).text
    assert client.get("/automl/mail/x.eml", cookies={"_token": token}).status_code == 404
    page = client.get("/automl/experiments", cookies={"_token": token})
    assert not any(a["href"] == "/automl/mail" for a in Dom(page.text).find("a"))


def test_missing_tables_give_a_hint_not_an_error(client, token, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_AUTOML_UI_EMPTY", f"sqlite://{tmp_path}/empty.db")
    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_empty")
    for page in ("/automl/experiments", "/automl/monitoring", f"/automl/models/{MODEL_A}"):
        answer = client.get(page, cookies={"_token": token})
        assert answer.status_code == 200, (page, answer.text)
        assert "run the <b>automl_experiment</b> DAG first" in answer.text
    answer = client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_B)], cookies={"_token": token})
    assert answer.status_code == 200 and "run the <b>automl_experiment</b> DAG first" in answer.text


def test_unknown_connection_is_a_clear_error(client, token, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AUTOML__UI_CONN_ID", "automl_ui_missing")
    for page in ("/automl/experiments", "/automl/monitoring", f"/automl/models/{MODEL_A}"):
        answer = client.get(page, cookies={"_token": token})
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
        "print([m for m in ('pandas', 'numpy', 'sklearn', 'autogluon', 'plotly') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_pages_come_from_templates_and_charts_from_plotly():
    """No HTML built in Python, no hand-drawn SVG: the plugin's code has neither tags nor SVG path data."""
    for path in PLUGINS.glob("*.py"):
        code = path.read_text()
        for needle in ("<td", "<table", "<svg", "<path", "<circle", "<polyline", "<rect", "<div", "<p>"):
            assert needle not in code, f"{needle} in {path.name}"
    templates = {p.name for p in (PLUGINS / "templates").glob("*.html")}
    assert {"base.html", "experiments.html", "compare.html", "monitoring.html", "model.html"} <= templates
    assert not any("<svg" in (PLUGINS / "templates" / t).read_text() for t in templates)


@pytest.fixture
def two_teams(tracking_db, auth_manager):
    """
    DAGs in two teams' bundles, as Airflow's multi-team mode keeps them: the experiment and monitor DAGs in
    team_a's bundle, ``secret_dag`` (with a model of its own) in team_b's.
    """
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team, dag_bundle_team_association_table
    from airflow.utils.session import create_session
    from sqlalchemy import delete, select, update

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

    dags = {"automl_experiment": "bundle_a", "automl_drift_monitor": "bundle_a", "secret_dag": "bundle_b"}
    with create_session() as session:
        session.add_all([Team(name="team_a"), Team(name="team_b")])
        session.add_all([DagBundleModel(name="bundle_a"), DagBundleModel(name="bundle_b")])
        session.flush()
        session.execute(
            dag_bundle_team_association_table.insert(),
            [
                {"dag_bundle_name": "bundle_a", "team_name": "team_a"},
                {"dag_bundle_name": "bundle_b", "team_name": "team_b"},
            ],
        )
        # DAGs other tests registered (dag.test) move into these bundles for the test and back after it.
        existing = {m.dag_id: m.bundle_name for m in session.scalars(select(DagModel).where(DagModel.dag_id.in_(dags)))}
        for dag_id, bundle in dags.items():
            if dag_id in existing:
                session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(bundle_name=bundle))
            else:
                session.add(DagModel(dag_id=dag_id, bundle_name=bundle, fileloc=f"/dags/{dag_id}.py"))
    hook = TrackingHook(conn_id="automl_ui_test")
    secret = {"dag_id": "secret_dag", "run_id": "manual__s1", "model_name": "secret_model"}
    hook.upsert(EXPERIMENTS, {**secret, "session_time": "2026-01-06T00:00:00+00:00", "user_id": "bob"})
    hook.upsert(EVAL_RESULTS, {**secret, "session_time": "2026-01-06T00:00:00+00:00", "test_table": "t", "auroc": 0.8})
    yield
    for table in (EXPERIMENTS, EVAL_RESULTS):
        with hook.transaction() as conn:
            conn.cursor().execute(f"DELETE FROM {table.name} WHERE dag_id = 'secret_dag'")
    with create_session() as session:
        for dag_id, bundle in existing.items():
            session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(bundle_name=bundle))
        session.execute(delete(DagModel).where(DagModel.dag_id.in_([d for d in dags if d not in existing])))
        session.execute(delete(dag_bundle_team_association_table))
        session.execute(delete(DagBundleModel).where(DagBundleModel.name.in_(["bundle_a", "bundle_b"])))
        session.execute(delete(Team).where(Team.name.in_(["team_a", "team_b"])))


def test_users_see_only_the_rows_of_dags_they_may_read(client, auth_manager, two_teams):
    """Two users of different roles: a team_a viewer and an admin. Airflow's auth manager decides what each reads."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    viewer = {
        "_token": auth_manager.generate_jwt(SimpleAuthManagerUser(username="alice", role="VIEWER", teams=["team_a"]))
    }
    admin = {"_token": auth_manager.generate_jwt(SimpleAuthManagerUser(username="root", role="ADMIN"))}

    seen = client.get("/automl/experiments", cookies=viewer).text
    assert MODEL_A in seen and "secret_model" not in seen and "secret_dag" not in seen
    assert "secret_model" in client.get("/automl/experiments", cookies=admin).text
    assert "secret_model" not in client.get("/automl/monitoring", cookies=viewer).text
    assert "secret_model" in client.get("/automl/monitoring", cookies=admin).text
    assert client.get("/automl/models/secret_model", cookies=viewer).status_code == 404
    assert client.get("/automl/models/secret_model", cookies=admin).status_code == 200
    assert client.get("/automl/models/secret_model/report", cookies=viewer).status_code == 404
    assert client.get(f"/automl/models/{MODEL_A}/report", cookies=viewer).status_code == 200
    # Compare shows nothing of a model the user may not read, not even what the model store holds of it.
    page = client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_C)], cookies=viewer)
    assert MODEL_C not in page.text.replace(f"model={MODEL_C}", "")
    page = client.get("/automl/compare", params=[("model", MODEL_A), ("model", MODEL_C)], cookies=admin)
    assert page.status_code == 200 and "f1 0.8000" in page.text  # an admin reads every DAG: the store too


def test_the_mails_links_are_page_links_outside_the_sandboxed_body(client, token, mail_dir):
    """Inside the Airflow UI the body's frame cannot open a link (Airflow's own frame forbids popups): the page
    lists the body's http(s) links as its own, and only those."""
    from airflow_automl_provider.plugins.data import mail_links

    page = client.get("/automl/mail/20260102-070001-1.eml", cookies={"_token": token})
    links = Dom(page.text).find("a", "mail-link")
    assert [(a["href"], a["target"]) for a in links] == [("http://af:8080/dags/d/runs/r%2B1", "_top")]
    assert ">Open the run</a>" in page.text
    assert mail_links(
        '<a href=" https://x/a ">A</a><a href="https://x/a">A</a><a>none</a><a href="mailto:m">m</a>'
    ) == [("A", "https://x/a")]
