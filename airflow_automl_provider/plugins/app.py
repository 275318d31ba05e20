"""
The AutoML pages inside the Airflow UI: a FastAPI app mounted by the plugin under ``/automl``.

Pages are rendered on the server from Jinja2 templates (``templates/``, autoescaped); charts are plotly figures
built on the server and drawn by plotly's offline bundle, which this app serves itself (no CDN, no network).
Every route needs an authenticated Airflow user: the app depends on Airflow's own ``get_user`` (a
``Authorization: Bearer`` JWT, or the ``_token`` cookie the Airflow UI sets, which the UI's iframe sends).
Plugin apps are not authenticated by Airflow itself, so this dependency is what protects them.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from airflow_automl_provider.hooks.model_store import ModelNotFoundError, ModelStoreHook, validate_model_name
from airflow_automl_provider.plugins import charts
from airflow_automl_provider.plugins.data import (
    MAX_COMPARE,
    MAX_ROWS,
    SORT_KEYS,
    InvalidFilterError,
    MailNotFoundError,
    Settings,
    TrackingReader,
    list_mail,
    mail_dir,
    parse_date,
    parse_sort,
    parse_threshold,
    parse_user,
    read_mail,
    sort_experiments,
    stored_model,
)
from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

URL_PREFIX = "/automl"
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_FILES = {"automl.css": "text/css; charset=utf-8", "automl.js": "text/javascript; charset=utf-8"}
PLOTLY_FILE = "plotly.min.js"
# Static URLs carry a version (a content hash, plotly's version), so browsers may keep them for a year.
LONG_CACHE = "private, max-age=31536000, immutable"
# Scripts only from this app (plotly's bundle and automl.js); plotly sets inline styles; images only inline.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'"
LEADERBOARD_TOP = 5


async def _authenticated_user(request: Request) -> Any:
    """Airflow's ``get_user``: bearer token first, else the UI's ``_token`` cookie; 401/403 without one."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    return await get_user(request, None, await bearer_scheme(request))


async def _readable_dag_ids(user: Any = Depends(_authenticated_user)) -> set[str] | None:  # noqa: B008
    """The DAGs whose rows this user may see (``None``: all); FastAPI reuses the request's user."""
    from starlette.concurrency import run_in_threadpool

    from airflow_automl_provider.plugins.access import readable_dag_ids

    return await run_in_threadpool(readable_dag_ids, user)


Readable = Annotated["set[str] | None", Depends(_readable_dag_ids)]


app = FastAPI(
    title="AutoML",
    description="AutoML experiments, models and monitoring, from the tracking tables.",
    dependencies=[Depends(_authenticated_user)],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


# -- formatting (Jinja2 filters) ------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def fmt_score(value: Any, digits: int = 4) -> str:
    """A score with 4 decimals; empty when there is none."""
    number = _number(value)
    return "" if number is None else f"{number:.{digits}f}"


def fmt_count(value: Any) -> str:
    """A count with thousands separators."""
    number = _number(value)
    if number is None:
        return ""
    return f"{int(number):,}" if number.is_integer() else f"{number:,.2f}"


def fmt_seconds(value: Any, digits: int = 0) -> str:
    number = _number(value)
    return "" if number is None else f"{number:,.{digits}f} s"


def fmt_utc(value: Any, fallback: Any = None) -> str:
    """A time as ``YYYY-MM-DD HH:MM UTC`` (what cannot be read as one: as stored)."""
    if isinstance(value, datetime):
        when = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return when.strftime("%Y-%m-%d %H:%M\u00a0UTC")  # may wrap after the date, not before "UTC"
    return "" if fallback is None else str(fallback)


_BREAK_AFTER = re.compile(r"([_\-.:/+,])")


def breakable(value: Any) -> Markup:
    """Escaped text that may wrap after ``_ - . : / + ,`` (long model names and run ids), not inside words."""
    if value is None:
        return Markup("")
    return Markup(_BREAK_AFTER.sub(r"\1<wbr>", str(escape(str(value)))))


def urlpart(value: Any) -> str:
    """One URL path segment (names are validated too, but quoting keeps any value a single segment)."""
    return quote(str(value), safe="")


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        score=fmt_score, count=fmt_count, seconds=fmt_seconds, utc=fmt_utc, urlpart=urlpart, breakable=breakable
    )
    return env


@functools.cache
def _static_version(name: str) -> str:
    if name == PLOTLY_FILE:
        from importlib.metadata import version

        return version("plotly")
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


@functools.cache
def _plotly_bundle() -> tuple[bytes, bytes]:
    """plotly.js from the installed plotly package (its offline bundle), and gzipped once."""
    from plotly.offline import get_plotlyjs

    body = get_plotlyjs().encode()
    return body, gzip.compress(body, compresslevel=6)


# -- rendering ------------------------------------------------------------------------------------------------


def _base(request: Request) -> str:
    """This app's own URL prefix (``/automl``, under Airflow's base path), from the mount's root path."""
    return request.scope.get("root_path", "").rstrip("/")


def _airflow_base(request: Request) -> str:
    """Airflow's own base path: this app's prefix without ``/automl``."""
    return _base(request).removesuffix(URL_PREFIX)


def _render(
    request: Request,
    template: str,
    *,
    title: str,
    active: str = "",
    crumbs: Sequence[tuple[str, str | None]] = (),
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page from a template inside ``base.html`` (navigation, breadcrumbs), with the pages' CSP."""
    base = _base(request)
    nav = [("experiments", "Experiments"), ("monitoring", "Monitoring")]
    if mail_dir():
        nav.append(("mail", "Mail"))

    def static_url(name: str) -> str:
        return f"{base}/static/{name}?v={_static_version(name)}"

    html = (
        _env()
        .get_template(template)
        .render(
            base=base,
            airflow_base=_airflow_base(request),
            title=title,
            nav=[{"href": f"{base}/{slug}", "label": label, "active": slug == active} for slug, label in nav],
            breadcrumbs=[("AutoML", f"{base}/experiments"), *crumbs],
            static_url=static_url,
            plotly_url=static_url(PLOTLY_FILE),
            uses_charts=context.pop("uses_charts", False),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": CSP})


def _message(
    request: Request,
    title: str,
    kind: str,
    message: str = "",
    *,
    active: str = "",
    status_code: int = 200,
    back: tuple[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page with one message: ``kind`` is ``no_tables``, ``database``, ``hint`` or ``error``."""
    return _render(
        request,
        "message.html",
        title=title,
        active=active,
        crumbs=[(title, None)],
        status_code=status_code,
        kind=kind,
        message=message,
        back=back,
        **context,
    )


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> Response:
    """A browser without a valid session goes to Airflow's login page (and back); anything else gets JSON."""
    wants_html = "text/html" in request.headers.get("accept", "")
    if exc.status_code in (401, 403) and wants_html:
        try:
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login(next_url=str(request.url))
        except Exception:  # no auth manager: fall through to the plain answer
            log.debug("No login URL", exc_info=True)
        else:
            return RedirectResponse(login, status_code=303)
    if wants_html:
        return _message(request, f"Error {exc.status_code}", "error", str(exc.detail), status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _settings() -> Settings:
    try:
        return Settings.from_config()
    except ValueError as err:
        raise HTTPException(500, f"Invalid [automl] settings: {err}") from None


def _database_error(request: Request, settings: Settings, title: str, active: str, err: Exception) -> HTMLResponse:
    log.warning("AutoML UI cannot read connection %s: %s", settings.conn_id, err)
    return _message(request, title, "database", str(err), active=active, status_code=503, conn_id=settings.conn_id)


def _no_tables(request: Request, settings: Settings, title: str, active: str) -> HTMLResponse:
    return _message(request, title, "no_tables", active=active, conn_id=settings.conn_id)


def _bad_filter(request: Request, title: str, active: str, err: Exception, back: tuple[str, str]) -> HTMLResponse:
    return _message(request, title, "error", str(err), active=active, status_code=400, back=back)


# -- static files ---------------------------------------------------------------------------------------------


@app.get("/static/{name}", include_in_schema=False)
def static_file(request: Request, name: str) -> Response:
    """The pages' stylesheet and script, and plotly's offline bundle (gzipped when the browser accepts it)."""
    headers = {"Cache-Control": LONG_CACHE, "X-Content-Type-Options": "nosniff"}
    if name == PLOTLY_FILE:
        body, packed = _plotly_bundle()
        headers["Vary"] = "Accept-Encoding"
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            body = packed
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
    if name not in STATIC_FILES:
        raise HTTPException(404, "No such file.")
    return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name], headers=headers)


# -- pages ----------------------------------------------------------------------------------------------------


@app.get("/", include_in_schema=False)
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_base(request)}/experiments", status_code=307)


@app.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request,
    dag_ids: Readable,
    model: str | None = None,
    user: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    sort: str | None = None,
    dir: str | None = None,  # noqa: A002 - the query parameter's name
) -> HTMLResponse:
    """``automl_experiments`` with each run's test AUROC, filtered by model, user and date, sortable by column."""
    title = "Experiments"
    base = _base(request)
    settings = _settings()
    try:
        model = validate_model_name(model) if model else None
        user = parse_user(user)
        start, end = parse_date(date_from, "start date"), parse_date(date_to, "end date")
        column, descending = parse_sort(sort, dir)
    except (InvalidFilterError, ValueError) as err:
        return _bad_filter(request, title, "experiments", err, ("All experiments", f"{base}/experiments"))
    reader = TrackingReader(settings, dag_ids)
    try:
        rows = reader.experiments(model, user, start, end)
        models = reader.distinct(EXPERIMENTS, "model_name")
        users = reader.distinct(EXPERIMENTS, "user_id")
    except Exception as err:
        return _database_error(request, settings, title, "experiments", err)
    if rows is None:
        return _no_tables(request, settings, title, "experiments")
    filters = {
        "model": model or "",
        "user": user or "",
        "date_from": start.isoformat() if start else "",
        "date_to": end.isoformat() if end else "",
    }
    kept = {k: v for k, v in filters.items() if v}
    links = {}
    for key in SORT_KEYS:
        _, default_desc = parse_sort(key, None)
        desc = not descending if key == column else default_desc
        links[key] = f"{base}/experiments?{urlencode({**kept, 'sort': key, 'dir': 'desc' if desc else 'asc'})}"
    labels = {
        "time": "session time",
        "model": "model",
        "user": "user",
        "test_auroc": "test AUROC",
        "validation": "validation score",
        "time_limit": "time limit",
        "presets": "presets",
        "best_model": "best model",
        "rows": "training rows",
    }
    return _render(
        request,
        "experiments.html",
        title=title,
        active="experiments",
        crumbs=[(title, None)],
        rows=sort_experiments(rows, column, descending),
        truncated=len(rows) >= MAX_ROWS,
        max_rows=MAX_ROWS,
        models=models,
        users=users,
        filters=filters,
        sorting={"column": column, "descending": descending, "links": links, "label": labels[column]},
    )


def _param_text(value: Any) -> str:
    if value is None or value == "":
        return "not recorded"
    if isinstance(value, float):
        # A parameter, not a score: as given (60.0 is 60), with thousands separators.
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int) and not isinstance(value, bool):
        return fmt_count(value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _compare_rows(columns: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The compare table: one row per measure or parameter, one cell per model (plain text)."""

    def pick(c: dict[str, Any], key: str) -> Any:
        exp = c["experiment"] or {}
        value = exp.get(key)
        if value in (None, "") and c["manifest"]:
            value = c["manifest"].get(key)  # older tracking tables: what the model store recorded
        return value

    def validation(c: dict[str, Any]) -> str:
        score, metric = pick(c, "score_val"), pick(c, "eval_metric")
        return "not recorded" if score is None else f"{metric or 'score'} {fmt_score(score)}"

    def test(c: dict[str, Any]) -> str:
        exp = c["experiment"] or {}
        if exp.get("test_auroc") is None:
            return "not recorded"
        return f"{fmt_score(exp['test_auroc'])} on {exp.get('test_table') or '?'}"

    def when(c: dict[str, Any]) -> str:
        exp = c["experiment"] or {}
        return fmt_utc(exp.get("session_dt"), exp.get("session_time")) or "not recorded"

    rows: list[tuple[str, list[str]]] = [
        ("Session time", [when(c) for c in columns]),
        ("User", [_param_text(pick(c, "user_id")) for c in columns]),
        ("Problem type", [_param_text(pick(c, "problem_type")) for c in columns]),
        ("Validation", [validation(c) for c in columns]),
        ("Test AUROC", [test(c) for c in columns]),
        ("Best model", [_param_text(pick(c, "best_model")) for c in columns]),
        ("Training rows", [fmt_count(pick(c, "num_rows_train")) or "not recorded" for c in columns]),
        ("Time limit", [fmt_seconds(pick(c, "time_limit")) or "not recorded" for c in columns]),
        ("Presets", [_param_text(pick(c, "presets")) for c in columns]),
        ("Input table", [_param_text(pick(c, "input_table")) for c in columns]),
    ]
    features = [(c["manifest"] or {}).get("features") for c in columns]
    if any(features):
        rows.append(("Features", [fmt_count(len(f)) if f else "not recorded" for f in features]))
    params = [(c["experiment"] or {}).get("params") or None for c in columns]
    for key in sorted({k for p in params if p for k in p}):
        # A parameter recorded as null is AutoGluon's default; a model without recorded parameters says so.
        rows.append(
            (
                f"param: {key}",
                [
                    "not recorded" if p is None else "default" if p.get(key) is None else _param_text(p[key])
                    for p in params
                ],
            )
        )
    return rows


@app.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, dag_ids: Readable, model: list[str] = Query(default=[])) -> HTMLResponse:  # noqa: B008
    """Two or more models side by side: parameters, measures, leaderboard top and feature importance."""
    title = "Compare models"
    base = _base(request)
    back = ("Back to the experiments", f"{base}/experiments")
    settings = _settings()
    try:
        names = list(dict.fromkeys(validate_model_name(m) for m in model if m))
    except ValueError as err:
        return _bad_filter(request, title, "experiments", err, back)
    if len(names) < 2:
        return _bad_filter(
            request, title, "experiments", InvalidFilterError("Select two or more models to compare."), back
        )
    if len(names) > MAX_COMPARE:
        return _bad_filter(
            request,
            title,
            "experiments",
            InvalidFilterError(f"Select at most {MAX_COMPARE} models to compare (got {len(names)})."),
            back,
        )
    reader = TrackingReader(settings, dag_ids)
    columns = []
    try:
        for name in names:
            rows = reader.experiments(model=name, limit=1)
            if rows is None:
                return _no_tables(request, settings, title, "experiments")
            if not rows and dag_ids is not None:
                continue  # not of a DAG this user may read: nothing of it is shown, not even its store files
            stored = stored_model(name)
            columns.append(
                {
                    "name": name,
                    "experiment": rows[0] if rows else None,
                    "manifest": stored.manifest,
                    "leaderboard": stored.leaderboard,
                    "feature_importance": stored.feature_importance,
                    "problems": stored.problems,
                }
            )
    except Exception as err:
        return _database_error(request, settings, title, "experiments", err)
    if not any(c["experiment"] or c["manifest"] for c in columns):
        return _message(
            request,
            title,
            "error",
            "None of these models is tracked or in the model store.",
            status_code=404,
            back=back,
        )
    importance = charts.importance_chart(
        {c["name"]: c["feature_importance"] for c in columns if c["feature_importance"]}
    )
    return _render(
        request,
        "compare.html",
        title=title,
        active="experiments",
        crumbs=[("Experiments", f"{base}/experiments"), (title, None)],
        models=[_Obj(c) for c in columns],
        table_rows=_compare_rows(columns),
        top_n=LEADERBOARD_TOP,
        importance_chart=importance,
        uses_charts=importance is not None,
    )


class _Obj(dict):
    """A dict whose keys templates read as attributes, without clashing with dict methods (``c.items``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


@app.get("/models/{model_name}", response_class=HTMLResponse)
def model_page(request: Request, model_name: str, dag_ids: Readable) -> HTMLResponse:
    """One model: its experiments and report, its evaluations over time, its data drift."""
    title = f"Model {model_name}"
    base = _base(request)
    settings = _settings()
    try:
        model_name = validate_model_name(model_name)
    except ValueError as err:
        return _bad_filter(request, "Model", "", err, ("All experiments", f"{base}/experiments"))
    reader = TrackingReader(settings, dag_ids)
    try:
        exps = reader.experiments(model=model_name)
        evals = reader.evaluations(model=model_name)
        drift = reader.drift(model=model_name)
    except Exception as err:
        return _database_error(request, settings, title, "", err)
    if exps is None and evals is None:
        return _no_tables(request, settings, title, "")
    if not exps and not evals and not drift:
        return _message(
            request,
            title,
            "error",
            f"No model {model_name} in the tracking tables.",
            status_code=404,
            back=("All experiments", f"{base}/experiments"),
        )
    drift_latest: list[dict[str, Any]] = []
    latest_time = None
    if drift:
        times = [r["session_dt"] for r in drift if r["session_dt"]]
        latest_time = max(times) if times else None
        drift_latest = sorted(
            (r for r in drift if r["session_dt"] == latest_time), key=lambda r: (not r["drifted"], str(r["feature"]))
        )
    auroc = charts.auroc_chart(evals or [], one_model=True)
    heatmap = charts.drift_heatmap(charts.heatmap_cells(drift or []))
    return _render(
        request,
        "model.html",
        title=title,
        crumbs=[("Experiments", f"{base}/experiments"), (model_name, None)],
        model_name=model_name,
        latest=exps[0] if exps else None,
        experiments=exps or [],
        evaluations=evals or [],
        auroc_chart=auroc,
        drift=drift,
        drift_chart=heatmap,
        drift_latest=drift_latest,
        drift_latest_time=latest_time,
        uses_charts=bool(auroc or heatmap),
    )


@app.get("/models/{model_name}/report", response_class=HTMLResponse)
def model_report(request: Request, model_name: str, dag_ids: Readable) -> HTMLResponse:
    """The model's ``report.html`` from the model store (the file ``notebook_url`` points at)."""
    try:
        model_name = validate_model_name(model_name)
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    try:
        if dag_ids is not None and not TrackingReader(_settings(), dag_ids).experiments(model=model_name, limit=1):
            raise ModelNotFoundError(model_name)  # not of a DAG this user may read
        path = ModelStoreHook().report_path(model_name)  # the current version's
        text = path.read_text()
    except (FileNotFoundError, ModelNotFoundError):
        raise HTTPException(404, f"No report for model {model_name!r} in the model store.") from None
    except Exception as err:
        log.warning("Cannot read the report of %s: %s", model_name, err)
        raise HTTPException(503, f"Cannot read the report of model {model_name!r} from the model store.") from None
    return HTMLResponse(text, headers={"Content-Security-Policy": REPORT_CSP})


@app.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(
    request: Request, dag_ids: Readable, model: str | None = None, threshold: str | None = None
) -> HTMLResponse:
    """
    AUROC over time per model and test table, alerted where the monitor recorded drift; data drift per feature
    per day. ``threshold`` only draws a reference line: alerts are the monitor's recorded decisions.
    """
    title = "Monitoring"
    base = _base(request)
    settings = _settings()
    try:
        model = validate_model_name(model) if model else None
        reference = parse_threshold(threshold)
    except (InvalidFilterError, ValueError) as err:
        return _bad_filter(request, title, "monitoring", err, ("Monitoring", f"{base}/monitoring"))
    reader = TrackingReader(settings, dag_ids)
    try:
        evals = reader.evaluations(model=model)
        drift = reader.drift(model=model)
        models = reader.distinct(EVAL_RESULTS, "model_name")
    except Exception as err:
        return _database_error(request, settings, title, "monitoring", err)
    if evals is None:
        return _no_tables(request, settings, title, "monitoring")
    auroc = charts.auroc_chart(evals, reference=reference)
    drift_charts = []
    if drift:
        by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in drift:
            by_model[str(r["model_name"])].append(r)
        for i, (name, rows) in enumerate(sorted(by_model.items())):
            heatmap = charts.drift_heatmap(charts.heatmap_cells(rows), chart_id=f"drift-heatmap-{i}")
            if heatmap is not None:
                drift_charts.append((name, len(rows), heatmap))
    return _render(
        request,
        "monitoring.html",
        title=title,
        active="monitoring",
        crumbs=[(title, None)],
        models=models,
        model=model,
        reference=reference,
        evaluations=evals,
        auroc_chart=auroc,
        alerted=[r for r in evals if r["alerted"]],
        drift=drift,
        drift_charts=drift_charts,
        uses_charts=bool(auroc or drift_charts),
    )


def _mail_folder(request: Request) -> str:
    folder = mail_dir()
    if not folder:
        raise HTTPException(404, "Mail is not configured: set [automl] mail_dir (AIRFLOW__AUTOML__MAIL_DIR).")
    return folder


@app.get("/mail", response_class=HTMLResponse)
def mail_list(request: Request) -> HTMLResponse:
    """The e-mails the local mail catcher saved under ``[automl] mail_dir``, newest first."""
    folder = _mail_folder(request)
    try:
        mails = list_mail(folder)
    except OSError as err:
        log.warning("Cannot read the mail folder %s: %s", folder, err)
        raise HTTPException(503, f"Cannot read the mail folder: {err.strerror or err}") from None
    return _render(
        request, "mail_list.html", title="Mail", active="mail", crumbs=[("Mail", None)], folder=folder, mails=mails
    )


@app.get("/mail/{name}", response_class=HTMLResponse)
def mail_message(request: Request, name: str) -> HTMLResponse:
    """One caught e-mail: headers (escaped) and its body (HTML in a sandboxed frame with no scripts, or text)."""
    folder = _mail_folder(request)
    base = _base(request)
    try:
        mail = read_mail(folder, name)
    except InvalidFilterError as err:
        return _bad_filter(request, "Mail", "mail", err, ("All mail", f"{base}/mail"))
    except MailNotFoundError as err:
        raise HTTPException(404, str(err)) from None
    title = mail.summary.subject or "(no subject)"
    return _render(
        request,
        "mail_message.html",
        title=title,
        active="mail",
        crumbs=[("Mail", f"{base}/mail"), (title, None)],
        mail=mail,
    )
