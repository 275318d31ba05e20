"""
What the UI pages read: the tracking tables through a ``TrackingHook`` (values always bound as parameters),
the model store's extras, and the local mail catcher's ``.eml`` files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.constants import DEFAULT_CONN_ID
from airflow_automl_provider.hooks.tracking import TableNotFoundError, TrackingHook
from airflow_automl_provider.schemas import DRIFT_RESULTS, EVAL_RESULTS, EXPERIMENTS, TableSchema
from airflow_automl_provider.sql import validate_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MAX_ROWS = 1000
MAX_COMPARE = 6
MAX_MAILS = 500
_USER_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
# What a mail catcher names its files: no separators, no leading dot, so never a path out of the folder.
_MAIL_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]{0,199}\.eml$")


class InvalidFilterError(ValueError):
    """A filter value from the query string that is not acceptable."""


def mail_dir() -> str:
    """``[automl] mail_dir``: the folder of caught e-mails (``.eml``), or empty when there is none."""
    from airflow_automl_provider import config

    return config.mail_dir()


@dataclass(frozen=True)
class Settings:
    """``[automl] ui_conn_id`` and ``ui_schema``, read on every request."""

    conn_id: str = DEFAULT_CONN_ID
    schema: str | None = None

    @classmethod
    def from_config(cls) -> Settings:
        from airflow_automl_provider import config

        schema = config.ui_schema()
        return cls(
            conn_id=config.ui_conn_id(),
            schema=validate_name(schema, "schema") if schema else None,
        )


def as_datetime(value: Any) -> datetime | None:
    """A stored timestamp (ISO text on SQLite, naive UTC on MySQL, aware on PostgreSQL) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return None if number is None else int(number)


def _json_object(text: Any) -> dict[str, Any]:
    """A JSON object stored as text; anything else (empty, broken, a list) reads as ``{}``."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def parse_date(text: str | None, what: str) -> date | None:
    """An optional ``YYYY-MM-DD`` filter; empty is no filter."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidFilterError(f"Invalid {what} {text!r}: expected a date YYYY-MM-DD.") from None


def parse_user(text: str | None) -> str | None:
    if not text:
        return None
    if not _USER_RE.match(text):
        raise InvalidFilterError("Invalid user: at most 256 printable characters.")
    return text


def parse_threshold(text: str | None) -> float | None:
    """The monitoring page's optional reference line (visual only); empty is none."""
    if not text:
        return None
    value = as_float(text)
    if value is None or not 0.0 <= value <= 1.0:
        raise InvalidFilterError(f"Invalid reference line {text!r}: expected a number between 0 and 1.")
    return value


# -- experiments: sorting ----------------------------------------------------------------------------------

#: The experiments table's sortable columns: query value -> the row key it sorts on.
SORT_KEYS: dict[str, str] = {
    "time": "session_dt",
    "model": "model_name",
    "user": "user_id",
    "test_auroc": "test_auroc",
    "validation": "score_val",
    "time_limit": "time_limit",
    "presets": "presets",
    "best_model": "best_model",
    "rows": "num_rows_train",
}


def parse_sort(sort: str | None, direction: str | None) -> tuple[str, bool]:
    """``?sort=<column>&dir=asc|desc``; default: newest first. Returns ``(column, descending)``."""
    column = sort or "time"
    if column not in SORT_KEYS:
        raise InvalidFilterError(f"Invalid sort column {sort!r}: expected one of {', '.join(SORT_KEYS)}.")
    if direction not in (None, "", "asc", "desc"):
        raise InvalidFilterError(f"Invalid sort direction {direction!r}: expected asc or desc.")
    descending = direction == "desc" if direction else column in ("time", "test_auroc", "validation", "rows")
    return column, descending


def sort_experiments(rows: list[dict[str, Any]], column: str, descending: bool) -> list[dict[str, Any]]:
    """Rows sorted on one column; rows without a value go last either way, ties newest first."""
    key = SORT_KEYS[column]
    newest_first = sorted(rows, key=lambda r: r.get("session_dt") or datetime.min.replace(tzinfo=UTC), reverse=True)
    present = [r for r in newest_first if r.get(key) not in (None, "")]
    missing = [r for r in newest_first if r.get(key) in (None, "")]

    def value(row: dict[str, Any]) -> Any:
        v = row[key]
        return v.lower() if isinstance(v, str) else v

    return sorted(present, key=value, reverse=descending) + missing


# -- the tracking tables -----------------------------------------------------------------------------------


class TrackingReader:
    """Read the tracking tables for the pages; a missing table reads as ``None`` (not an error)."""

    def __init__(self, settings: Settings, dag_ids: Iterable[str] | None = None) -> None:
        """
        :param settings: where the tracking tables are.
        :param dag_ids: the DAGs whose rows the page may show (those Airflow's auth manager lets the user
            read); ``None``: every row.
        """
        self.settings = settings
        self.hook = TrackingHook(conn_id=settings.conn_id)
        self.dag_ids = None if dag_ids is None else sorted(set(dag_ids))
        self._columns: dict[str, list[str] | None] = {}

    def columns(self, table: TableSchema) -> list[str] | None:
        """The table's columns this package knows, or ``None`` when the table is missing."""
        if table.name not in self._columns:
            try:
                existing = set(self.hook.columns(table.name, self.settings.schema))
            except TableNotFoundError:
                self._columns[table.name] = None
            else:
                self._columns[table.name] = [c for c in table.column_names if c in existing]
        return self._columns[table.name]

    def _select(
        self,
        table: TableSchema,
        where: Sequence[tuple[str, str, Any]] = (),
        order_desc: bool = False,
        limit: int = MAX_ROWS,
    ) -> list[dict[str, Any]] | None:
        """
        Rows as dicts (a column an older table lacks reads as ``None``); ``where`` holds ``(column, operator,
        value)`` with the value bound (``in``: a list of values, each bound).
        """
        cols = self.columns(table)
        if cols is None:
            return None
        if self.dag_ids is not None:  # only the rows of DAGs the user may read
            where = [("dag_id", "in", self.dag_ids), *where]
        rows = self.hook.tracking_rows(
            table, cols, where, schema=self.settings.schema, descending=order_desc, limit=limit
        )
        known = set(cols)
        return [
            {**{c: None for c in table.column_names if c not in known}, **dict(zip(cols, r, strict=True))} for r in rows
        ]

    def distinct(self, table: TableSchema, column: str) -> list[str]:
        cols = self.columns(table)
        if cols is None or column not in cols:
            return []
        readable = [] if self.dag_ids is None else [("dag_id", "in", self.dag_ids)]
        return [str(v) for v in self.hook.tracked_values(table, column, readable, self.settings.schema)]

    def experiments(
        self,
        model: str | None = None,
        user: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        limit: int = MAX_ROWS,
    ) -> list[dict[str, Any]] | None:
        """``automl_experiments`` rows, newest first, each with its test AUROC; ``date_to`` is inclusive."""
        where: list[tuple[str, str, Any]] = []
        if model:
            where.append(("model_name", "=", model))
        if user:
            where.append(("user_id", "=", user))
        if date_from:
            where.append(("session_time", ">=", datetime(date_from.year, date_from.month, date_from.day, tzinfo=UTC)))
        if date_to:
            end = datetime(date_to.year, date_to.month, date_to.day, tzinfo=UTC) + timedelta(days=1)
            where.append(("session_time", "<", end))
        rows = self._select(EXPERIMENTS, where, order_desc=True, limit=limit)
        if rows is None:
            return None
        for row in rows:
            row["session_dt"] = as_datetime(row.get("session_time"))
            row["score_val"] = as_float(row.get("score_val"))
            row["time_limit"] = as_float(row.get("time_limit"))
            row["num_rows_train"] = as_int(row.get("num_rows_train"))
            row["params"] = _json_object(row.get("params_json"))
        self._attach_test_scores(rows, model)
        return rows

    def _attach_test_scores(self, experiments: list[dict[str, Any]], model: str | None) -> None:
        """
        Each experiment's own test-set evaluation: the ``automl_eval_results`` row of the same DAG run and model
        (``test_auroc``, ``test_table``, ``test_eval``; several test tables: the first one recorded).
        """
        for row in experiments:
            row["test_auroc"], row["test_table"], row["test_eval"] = None, None, None
        dag_ids = sorted({r["dag_id"] for r in experiments if r.get("dag_id")})
        if not dag_ids:
            return
        where: list[tuple[str, str, Any]] = [("dag_id", "in", dag_ids)]
        if model:
            where.append(("model_name", "=", model))
        evals = self.evaluations(where=where, limit=20 * MAX_ROWS)
        found: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
        for ev in evals or []:
            found.setdefault((ev["dag_id"], ev["run_id"], ev["model_name"]), ev)
        for row in experiments:
            ev = found.get((row.get("dag_id"), row.get("run_id"), row.get("model_name")))
            if ev is not None:
                row["test_auroc"], row["test_table"], row["test_eval"] = ev["auroc"], ev["test_table"], ev

    def evaluations(
        self,
        model: str | None = None,
        *,
        where: Sequence[tuple[str, str, Any]] | None = None,
        limit: int = 5 * MAX_ROWS,
    ) -> list[dict[str, Any]] | None:
        """
        ``automl_eval_results`` rows, oldest first. Each gets what the charts need: ``monitored`` (the row holds
        a monitor's recorded decision: ``alert`` in ``metrics_json``), ``alerted`` (exactly: its recorded
        ``status`` is ``drift``), ``insufficient`` and the monitor's recorded ``recorded_threshold``.
        """
        clauses = list(where or ([("model_name", "=", model)] if model else []))
        rows = self._select(EVAL_RESULTS, clauses, limit=limit)
        for row in rows or []:
            metrics = _json_object(row.get("metrics_json"))
            row["metrics"] = metrics
            row["session_dt"] = as_datetime(row.get("session_time"))
            for measure in ("auroc", "pr_auc", "accuracy"):
                row[measure] = as_float(row.get(measure))
            row["num_rows"] = as_int(row.get("num_rows"))
            row["positives"] = as_int(row.get("positives"))
            row["monitored"] = "alert" in metrics
            row["alerted"] = row.get("status") == "drift"
            row["insufficient"] = row.get("status") == "insufficient_data"
            row["recorded_threshold"] = as_float(metrics.get("threshold")) if row["monitored"] else None
            reasons = metrics.get("reasons")
            if reasons and not isinstance(reasons, list):
                reasons = [reasons]
            if row["insufficient"] and not reasons and metrics.get("reason"):
                reasons = [metrics["reason"]]
            row["reasons"] = [str(r) for r in reasons or []]
        return rows

    def drift(self, model: str | None = None, limit: int = 20 * MAX_ROWS) -> list[dict[str, Any]] | None:
        """``automl_drift_results`` rows, oldest first."""
        rows = self._select(DRIFT_RESULTS, [("model_name", "=", model)] if model else [], limit=limit)
        for row in rows or []:
            row["session_dt"] = as_datetime(row["session_time"])
            for key in ("value", "threshold", "psi", "p_value", "alpha", "distance"):
                row[key] = as_float(row.get(key))
            row["batch_rows"] = as_int(row.get("batch_rows"))
            row["drifted"] = bool(row["drifted"]) if row["drifted"] is not None else False
        return rows


# -- the model store ---------------------------------------------------------------------------------------

LEADERBOARD = "leaderboard.json"
FEATURE_IMPORTANCE = "feature_importance.json"


@dataclass
class StoredModel:
    """What the compare page shows from the model store; ``None`` for what was not recorded."""

    manifest: dict[str, Any] | None = None
    leaderboard: list[dict[str, Any]] | None = None
    feature_importance: list[dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)


def stored_model(model_name: str) -> StoredModel:
    """The model's manifest, leaderboard and feature importance (extras saved beside it by the train task)."""
    import logging

    from airflow_automl_provider.hooks.model_store import ModelNotFoundError, ModelStoreHook

    result = StoredModel()
    store = ModelStoreHook()
    try:
        result.manifest = store.manifest(model_name)
    except ModelNotFoundError:
        result.problems.append("not in the model store")
        return result
    except Exception as err:  # a broken store must not break the page
        logging.getLogger(__name__).warning("Cannot read the manifest of %s: %s", model_name, err)
        result.problems.append("its manifest cannot be read")
        return result
    for extra, attr in ((LEADERBOARD, "leaderboard"), (FEATURE_IMPORTANCE, "feature_importance")):
        if extra not in (result.manifest.get("extras") or {}):
            continue  # not recorded
        try:
            records = json.loads(store.read_extra(result.manifest, extra))
        except Exception as err:
            logging.getLogger(__name__).warning("Cannot read %s of %s: %s", extra, model_name, err)
            result.problems.append(f"{extra} cannot be read ({type(err).__name__})")
            continue
        if isinstance(records, list):
            setattr(result, attr, [r for r in records if isinstance(r, dict)])
    return result


# -- the mail catcher's folder ------------------------------------------------------------------------------


class MailNotFoundError(LookupError):
    """No such message in the mail folder."""


@dataclass(frozen=True)
class MailSummary:
    name: str
    date: datetime | None
    sender: str
    to: str
    subject: str


@dataclass(frozen=True)
class MailMessage:
    summary: MailSummary
    headers: list[tuple[str, str]]
    html: str | None
    text: str | None
    attachments: list[str]
    # The body's http(s) links with their text: shown as page links, since the sandboxed frame of the
    # body cannot open them inside the Airflow UI (its own frame does not allow popups).
    links: list[tuple[str, str]] = field(default_factory=list)


def mail_links(html: str) -> list[tuple[str, str]]:
    """``(text, href)`` of each ``<a href>`` of an HTML body whose href is http or https, in order, once each."""
    from html.parser import HTMLParser

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[tuple[str, str]] = []
            self.href: str | None = None
            self.text: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "a":
                self.href, self.text = dict(attrs).get("href"), []

        def handle_data(self, data: str) -> None:
            if self.href is not None:
                self.text.append(data)

        def handle_endtag(self, tag: str) -> None:
            if tag == "a" and self.href is not None:
                href = self.href.strip()
                if href.lower().startswith(("http://", "https://")):
                    self.found.append((" ".join("".join(self.text).split()) or href, href))
                self.href = None

    parser = Links()
    parser.feed(html)
    seen: set[tuple[str, str]] = set()
    return [link for link in parser.found if not (link in seen or seen.add(link))]


def validate_mail_file(name: str) -> str:
    """A caught mail's file name: ``<safe characters>.eml``, nothing that could leave the folder."""
    if not isinstance(name, str) or not _MAIL_FILE_RE.match(name) or ".." in name:
        raise InvalidFilterError(f"Invalid mail file name {name!r}.")
    return name


def _parse_mail(path: Path) -> Any:
    from email import policy
    from email.parser import BytesParser

    with path.open("rb") as f:
        return BytesParser(policy=policy.default).parse(f)


def _header(msg: Any, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a malformed header must not hide the message
        value = msg.get_all(name, failobj=[None])[0] if hasattr(msg, "get_all") else None
    return "" if value is None else str(value)


def _summary(path: Path, msg: Any) -> MailSummary:
    from email.utils import parsedate_to_datetime

    when: datetime | None
    try:
        when = parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        when = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    elif when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return MailSummary(
        name=path.name,
        date=when.astimezone(UTC),
        sender=_header(msg, "From"),
        to=_header(msg, "To"),
        subject=_header(msg, "Subject"),
    )


def list_mail(folder: str, limit: int = MAX_MAILS) -> list[MailSummary]:
    """The caught mails (``*.eml``) of ``folder``, newest first; a missing folder has none."""
    root = Path(folder)
    if not root.is_dir():
        return []
    files = [p for p in root.iterdir() if p.is_file() and _MAIL_FILE_RE.match(p.name)]
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    summaries = [_summary(p, _parse_mail(p)) for p in files[: limit * 2]]
    summaries.sort(key=lambda m: (m.date or datetime.min.replace(tzinfo=UTC), m.name), reverse=True)
    return summaries[:limit]


def read_mail(folder: str, name: str) -> MailMessage:
    """One caught mail by file name (validated; never a path outside ``folder``)."""
    name = validate_mail_file(name)
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise MailNotFoundError(f"No mail {name!r}.")
    msg = _parse_mail(path)
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    attachments = [part.get_filename() or part.get_content_type() for part in msg.iter_attachments()]
    return MailMessage(
        summary=_summary(path, msg),
        headers=[(k, str(v)) for k, v in msg.items()],
        html=html_part.get_content() if html_part is not None else None,
        text=text_part.get_content() if text_part is not None else None,
        attachments=[str(a) for a in attachments],
        links=mail_links(html_part.get_content()) if html_part is not None else [],
    )
