"""
The AutoML pages inside the Airflow UI: a FastAPI app mounted by the plugin under ``/automl``.

Server-rendered HTML with inline SVG charts (no JavaScript, no external assets). Every route needs an
authenticated Airflow user: the app depends on Airflow's own ``get_user`` (a ``Authorization: Bearer``
JWT, or the ``_token`` cookie the Airflow UI sets, which the UI's iframe sends). Plugin apps are not
authenticated by Airflow itself, so this dependency is what protects them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import defaultdict
from datetime import UTC
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from airflow_automl_provider.hooks.model_store import REPORT, ModelStoreHook, validate_model_name
from airflow_automl_provider.plugins import charts
from airflow_automl_provider.plugins.data import (
    MAX_ROWS,
    InvalidFilterError,
    Settings,
    TrackingReader,
    parse_date,
    parse_threshold,
    parse_user,
)
from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

log = logging.getLogger(__name__)

URL_PREFIX = "/automl"
# The Airflow UI shows the pages in a frame sandboxed without ``allow-top-navigation``, so a plain
# ``target="_top"`` link (to a DAG run in the Airflow UI) would be blocked there. This one script, allowed by
# its hash and nothing else, follows such links through an anchor of the (same-origin) top document.
TOP_LINKS_JS = (
    "if(window.top!==window)document.addEventListener('click',function(e){"
    "var a=e.target.closest&&e.target.closest('a[target=\"_top\"]');if(!a)return;"
    "try{var d=window.top.document,t=d.createElement('a');t.href=a.href;d.body.appendChild(t);t.click();t.remove();"
    "e.preventDefault();}catch(err){}});"
)
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(TOP_LINKS_JS.encode()).digest()).decode()}'"
)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'"
HINT_NO_TABLES = (
    "No tracking tables yet on connection {conn!r}: run the <b>automl_experiment</b> DAG first "
    "(its <code>create_tables</code> task creates them)."
)


async def _authenticated_user(request: Request) -> Any:
    """Airflow's ``get_user``: bearer token first, else the UI's ``_token`` cookie; 401/403 without one."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    return await get_user(request, None, await bearer_scheme(request))


app = FastAPI(
    title="AutoML",
    description="AutoML experiments, models and monitoring, from the tracking tables.",
    dependencies=[Depends(_authenticated_user)],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> Response:
    """A browser without a valid session goes to Airflow's login page (and back); anything else gets JSON."""
    if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
        try:
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login(next_url=str(request.url))
        except Exception:  # no auth manager: fall through to the plain answer
            log.debug("No login URL", exc_info=True)
        else:
            return RedirectResponse(login, status_code=303)
    if "text/html" in request.headers.get("accept", ""):
        return _html(request, f"Error {exc.status_code}", f'<p class="error">{escape(str(exc.detail))}</p>', "")
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


# -- layout ------------------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d1d1f;
background:#fff}
header{display:flex;gap:18px;align-items:center;padding:10px 20px;border-bottom:1px solid #ddd;background:#f7f8fa}
header b{font-size:16px}header a{color:#0b5cad;text-decoration:none;padding:4px 8px;border-radius:4px}
header a.active{background:#0b5cad;color:#fff}
main{padding:16px 20px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
th,td{border-bottom:1px solid #e3e3e3;padding:5px 9px;text-align:left;vertical-align:top;white-space:nowrap}
th{background:#f3f4f6;font-weight:600}tr:hover td{background:#fafbff}td.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#0b5cad}form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:end;margin:0 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555;gap:2px}
form.filters input,form.filters select{font:inherit;padding:3px 5px}
.hint{background:#fff8e1;border:1px solid #f1d27a;padding:10px 12px;border-radius:4px;max-width:900px}
.error{background:#fdecea;border:1px solid #f5a9a3;padding:10px 12px;border-radius:4px;max-width:900px}
.muted{color:#666}.empty{color:#666;font-style:italic}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}
.chart{max-width:100%;height:auto;border:1px solid #eee;background:#fff}
"""


def _base(request: Request) -> str:
    """This app's own URL prefix (``/automl``, under Airflow's base path), from the mount's root path."""
    return request.scope.get("root_path", "").rstrip("/")


def _airflow_base(request: Request) -> str:
    """Airflow's own base path: this app's prefix without ``/automl``."""
    return _base(request).removesuffix(URL_PREFIX)


def _html(request: Request, title: str, body: str, active: str, status_code: int = 200) -> HTMLResponse:
    base = _base(request)
    nav = "".join(
        f'<a href="{base}/{slug}"{" class=active" if slug == active else ""}>{label}</a>'
        for slug, label in (("experiments", "Experiments"), ("monitoring", "Monitoring"))
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} - AutoML</title><style>{STYLE}</style><script>{TOP_LINKS_JS}</script></head>"
        f"<body><header><b>AutoML</b>{nav}</header><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status_code, headers={"Content-Security-Policy": CSP})


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css_class: str) -> str:
    """A table; cells are already-escaped HTML."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _td(text: Any, num: bool = False) -> str:
    return f'<td class="num">{escape(str(text))}</td>' if num else f"<td>{escape(str(text))}</td>"


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _when(row: dict[str, Any]) -> str:
    dt = row.get("session_dt")
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if dt else str(row.get("session_time") or "")


def _model_link(request: Request, name: str | None) -> str:
    if not name:
        return "<td></td>"
    return f'<td><a class="model" href="{_base(request)}/models/{quote(name, safe="")}">{escape(name)}</a></td>'


def _run_link(request: Request, dag_id: str | None, run_id: str | None) -> str:
    if not dag_id or not run_id:
        return "<td></td>"
    href = f"{_airflow_base(request)}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f'<td><a class="run" href="{escape(href)}" target="_top">{escape(run_id)}</a></td>'


def _settings_or_error(request: Request) -> Settings:
    try:
        return Settings.from_config()
    except ValueError as err:
        raise HTTPException(500, f"Invalid [automl] settings: {err}") from None


def _database_error(request: Request, settings: Settings, title: str, active: str, err: Exception) -> HTMLResponse:
    log.warning("AutoML UI cannot read connection %s: %s", settings.conn_id, err)
    body = (
        f'<p class="error">Cannot read the tracking tables through connection <code>{escape(settings.conn_id)}</code>: '
        f"{escape(str(err))}</p><p class=muted>Set <code>[automl] ui_conn_id</code> to a common-sql connection "
        "that holds them.</p>"
    )
    return _html(request, title, body, active, status_code=503)


def _bad_filter(request: Request, title: str, active: str, err: Exception) -> HTMLResponse:
    return _html(request, title, f'<p class="error">{escape(str(err))}</p>', active, status_code=400)


# -- pages -------------------------------------------------------------------------------------------------


@app.get("/", include_in_schema=False)
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/experiments", status_code=307)


@app.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request,
    model: str | None = None,
    user: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> HTMLResponse:
    """``automl_experiments``, newest first, filtered by model, user and date (``date_to`` inclusive)."""
    title = "Experiments"
    settings = _settings_or_error(request)
    try:
        model = validate_model_name(model) if model else None
        user = parse_user(user)
        start, end = parse_date(date_from, "start date"), parse_date(date_to, "end date")
    except (InvalidFilterError, ValueError) as err:
        return _bad_filter(request, title, "experiments", err)
    reader = TrackingReader(settings)
    try:
        rows = reader.experiments(model, user, start, end)
        models = reader.distinct(EXPERIMENTS, "model_name")
        users = reader.distinct(EXPERIMENTS, "user_id")
    except Exception as err:
        return _database_error(request, settings, title, "experiments", err)
    if rows is None:
        return _html(
            request, title, f'<p class="hint">{HINT_NO_TABLES.format(conn=escape(settings.conn_id))}</p>', "experiments"
        )

    def options(values: list[str], chosen: str | None) -> str:
        return '<option value="">(all)</option>' + "".join(
            f'<option value="{escape(v)}"{" selected" if v == chosen else ""}>{escape(v)}</option>' for v in values
        )

    form = (
        f'<form class="filters" method="get" action="{_base(request)}/experiments">'
        f'<label>Model<select name="model">{options(models, model)}</select></label>'
        f'<label>User<select name="user">{options(users, user)}</select></label>'
        f'<label>From<input type="date" name="date_from" value="{escape(start.isoformat() if start else "")}"></label>'
        f'<label>To<input type="date" name="date_to" value="{escape(end.isoformat() if end else "")}"></label>'
        f'<button type="submit">Filter</button> <a href="{_base(request)}/experiments">clear</a></form>'
    )
    table = _table(
        ["Session time", "Model", "User", "Problem", "Metric", "Validation score", "Report", "DAG run", "Try"],
        (
            [
                _td(_when(r)),
                _model_link(request, r["model_name"]),
                _td(r["user_id"] or ""),
                _td(r["problem_type"] or ""),
                _td(r["eval_metric"] or ""),
                _td(_fmt(r["score_val"]), num=True),
                (
                    f'<td><a class="report" href="{_base(request)}/models/{quote(r["model_name"], safe="")}/report">'
                    "report</a></td>"
                    if r["notebook_url"] and r["model_name"]
                    else "<td></td>"
                ),
                _run_link(request, r["dag_id"], r["run_id"]),
                _td(r["try_number"] if r["try_number"] is not None else "", num=True),
            ]
            for r in rows
        ),
        "experiments",
    )
    note = f'<p class="muted">{len(rows)} experiment(s), newest first.'
    if len(rows) >= MAX_ROWS:
        note += f" Only the newest {MAX_ROWS} are shown: narrow the filters."
    note += "</p>"
    return _html(
        request, title, form + note + (table if rows else '<p class="empty">No experiments match.</p>'), "experiments"
    )


def _points(rows: Sequence[dict[str, Any]]) -> dict[str, list[charts.Point]]:
    series: dict[str, list[charts.Point]] = defaultdict(list)
    for r in rows:
        if r["session_dt"] is None:
            continue
        label = f"{r['model_name']} on {r['test_table']}, {_when(r)}: AUROC {_fmt(r['auroc']) or 'n/a'}"
        if r["status"] and r["status"] != "ok":
            label += f" ({r['status']})"
        if r["alerted"]:
            label += " - alerted"
        series[str(r["model_name"])].append(charts.Point(r["session_dt"], r["auroc"], r["alerted"], label))
    return dict(series)


def _eval_table(request: Request, rows: Sequence[dict[str, Any]], with_model: bool) -> str:
    headers = ["Session time", *(["Model"] if with_model else []), "Test table", "AUROC", "PR AUC", "Accuracy"]
    headers += ["Rows", "Positives", "Status", "Alerted", "DAG run"]
    return _table(
        headers,
        (
            [
                _td(_when(r)),
                *([_model_link(request, r["model_name"])] if with_model else []),
                _td(r["test_table"] or ""),
                _td(_fmt(r["auroc"]), num=True),
                _td(_fmt(r["pr_auc"]), num=True),
                _td(_fmt(r["accuracy"]), num=True),
                _td(_fmt(r["num_rows"]), num=True),
                _td(_fmt(r["positives"]), num=True),
                _td(r["status"] or ""),
                '<td class="bad">yes</td>' if r["alerted"] else '<td class="ok">no</td>',
                _run_link(request, r["dag_id"], r["run_id"]),
            ]
            for r in reversed(rows)  # newest first
        ),
        "evaluations",
    )


@app.get("/models/{model_name}", response_class=HTMLResponse)
def model_page(request: Request, model_name: str, threshold: str | None = None) -> HTMLResponse:
    """One model: its experiments and report, its evaluations over time, its data drift."""
    title = f"Model {model_name}"
    settings = _settings_or_error(request)
    try:
        model_name = validate_model_name(model_name)
        limit = parse_threshold(threshold, settings.threshold)
    except (InvalidFilterError, ValueError) as err:
        return _bad_filter(request, "Model", "", err)
    reader = TrackingReader(Settings(settings.conn_id, settings.schema, limit))
    try:
        exps = reader.experiments(model=model_name)
        evals = reader.evaluations(model=model_name)
        drift = reader.drift(model=model_name)
    except Exception as err:
        return _database_error(request, settings, title, "", err)
    if exps is None and evals is None:
        return _html(request, title, f'<p class="hint">{HINT_NO_TABLES.format(conn=escape(settings.conn_id))}</p>', "")
    if not exps and not evals and not drift:
        return _html(
            request, title, f'<p class="error">No model {escape(model_name)!s} in the tracking tables.</p>', "", 404
        )
    base = _base(request)
    parts = []
    if exps:
        latest = exps[0]
        parts.append(
            f'<p><a class="report" href="{base}/models/{quote(model_name, safe="")}/report">Model report</a>'
            f" &middot; trained {escape(_when(latest))} by {escape(str(latest['user_id'] or '?'))} &middot; "
            f"{escape(str(latest['problem_type'] or ''))}, validation {escape(str(latest['eval_metric'] or 'score'))} "
            f"{escape(_fmt(latest['score_val']))}"
            f"{' &middot; shared id <code>' + escape(latest['shared_model']) + '</code>' if latest['shared_model'] else ''}</p>"
        )
        parts.append("<h2>Experiments</h2>")
        parts.append(
            _table(
                ["Session time", "User", "Validation score", "DAG run"],
                (
                    [
                        _td(_when(r)),
                        _td(r["user_id"] or ""),
                        _td(_fmt(r["score_val"]), num=True),
                        _run_link(request, r["dag_id"], r["run_id"]),
                    ]
                    for r in exps
                ),
                "experiments",
            )
        )
    parts.append("<h2>Evaluations over time</h2>")
    if evals:
        parts.append(charts.auroc_chart(_points(evals), limit))
        parts.append(_eval_table(request, evals, with_model=False))
    else:
        parts.append('<p class="empty">No evaluations recorded.</p>')
    parts.append("<h2>Data drift</h2>")
    if drift:
        parts.append(charts.drift_heatmap(charts.heatmap_cells(drift)))
        last = max(r["session_dt"] for r in drift if r["session_dt"]) if any(r["session_dt"] for r in drift) else None
        latest_rows = [r for r in drift if r["session_dt"] == last]
        parts.append(f"<p class=muted>Latest run ({escape(_when(latest_rows[0]) if latest_rows else '')}):</p>")
        parts.append(
            _table(
                ["Feature", "Kind", "Statistic", "Value", "Threshold", "Drifted", "PSI", "Test", "p-value", "Rows"],
                (
                    [
                        _td(r["feature"]),
                        _td(r["kind"] or ""),
                        _td(r["statistic"] or ""),
                        _td(_fmt(r["value"]), True),
                        _td(_fmt(r["threshold"]), True),
                        '<td class="bad">yes</td>' if r["drifted"] else '<td class="ok">no</td>',
                        _td(_fmt(r["psi"]), True),
                        _td(r["test"] or ""),
                        _td(_fmt(r["p_value"]), True),
                        _td(_fmt(r["batch_rows"]), True),
                    ]
                    for r in sorted(latest_rows, key=lambda r: (not r["drifted"], str(r["feature"])))
                ),
                "drift",
            )
        )
    elif drift is None:
        parts.append('<p class="empty">No drift results table yet: run <b>automl_drift_monitor</b>.</p>')
    else:
        parts.append('<p class="empty">No data drift results for this model: run <b>automl_drift_monitor</b>.</p>')
    return _html(request, title, "".join(parts), "")


@app.get("/models/{model_name}/report", response_class=HTMLResponse)
def model_report(request: Request, model_name: str) -> HTMLResponse:
    """The model's ``report.html`` from the model store (the file ``notebook_url`` points at)."""
    try:
        model_name = validate_model_name(model_name)
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    path = ModelStoreHook().model_path(model_name) / REPORT
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise HTTPException(404, f"No report for model {model_name!r} in the model store.") from None
    except Exception as err:
        log.warning("Cannot read %s: %s", path, err)
        raise HTTPException(503, f"Cannot read the report of model {model_name!r} from the model store.") from None
    return HTMLResponse(text, headers={"Content-Security-Policy": REPORT_CSP})


@app.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request, model: str | None = None, threshold: str | None = None) -> HTMLResponse:
    """AUROC over time per model with the threshold and alerted days; data drift per feature per day."""
    title = "Monitoring"
    settings = _settings_or_error(request)
    try:
        model = validate_model_name(model) if model else None
        limit = parse_threshold(threshold, settings.threshold)
    except (InvalidFilterError, ValueError) as err:
        return _bad_filter(request, title, "monitoring", err)
    reader = TrackingReader(Settings(settings.conn_id, settings.schema, limit))
    try:
        evals = reader.evaluations(model=model)
        drift = reader.drift(model=model)
        models = reader.distinct(EVAL_RESULTS, "model_name")
    except Exception as err:
        return _database_error(request, settings, title, "monitoring", err)
    if evals is None:
        return _html(
            request, title, f'<p class="hint">{HINT_NO_TABLES.format(conn=escape(settings.conn_id))}</p>', "monitoring"
        )
    base = _base(request)
    opts = '<option value="">(all)</option>' + "".join(
        f'<option value="{escape(m)}"{" selected" if m == model else ""}>{escape(m)}</option>' for m in models
    )
    parts = [
        f'<form class="filters" method="get" action="{base}/monitoring"><label>Model<select name="model">{opts}'
        f'</select></label><label>Threshold<input name="threshold" size="5" value="{limit:g}"></label>'
        '<button type="submit">Show</button></form>',
        "<h2>AUROC over time</h2>",
        f'<p class="muted">{len(evals)} evaluation(s). Dashed line: threshold {limit:g}. A point is '
        "<b>alerted</b> (red, its day shaded) when its AUROC is under the threshold, or the run recorded status "
        "<code>drift</code>; batches with too little data are never alerted on.</p>",
        charts.auroc_chart(_points(evals), limit) if evals else '<p class="empty">No evaluations recorded.</p>',
    ]
    alerted = [r for r in evals if r["alerted"]]
    if alerted:
        parts.append(f"<h2>Alerted evaluations ({len(alerted)})</h2>")
        parts.append(_eval_table(request, alerted, with_model=True))
    parts.append("<h2>Data drift per feature and day</h2>")
    if drift is None:
        parts.append('<p class="empty">No drift results table yet: run <b>automl_drift_monitor</b>.</p>')
    elif not drift:
        parts.append('<p class="empty">No data drift results recorded.</p>')
    else:
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in drift:
            by_model[str(r["model_name"])].append(r)
        for name, rows in sorted(by_model.items()):
            parts.append(
                f'<h3><a href="{base}/models/{quote(name, safe="")}">{escape(name)}</a> '
                f'<span class="muted">({len(rows)} results)</span></h3>'
            )
            parts.append(charts.drift_heatmap(charts.heatmap_cells(rows)))
    return _html(request, title, "".join(parts), "monitoring")
