"""
Every configuration option the package and its DAG files read: read here, in one place, lazily.

An administrator sets the ``[automl]`` options in ``airflow.cfg`` or as ``AIRFLOW__AUTOML__<OPTION>`` for every
Airflow process; a DAG's params cannot change them. Each has one default, in :data:`OPTIONS`, from which
``get_provider_info`` declares them to Airflow (which then answers ``conf.get`` with that default), and one
function here that reads it. ``[api] base_url`` is Airflow's own option, read by :func:`api_base_url`.

This module imports only the standard library at its top (``airflow.sdk`` inside the functions), so DAG files
and ``get_provider_info`` can import it at parse time.
"""

from __future__ import annotations

import os
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from airflow.sdk import Param


class Option(NamedTuple):
    """An ``[automl]`` option as ``get_provider_info`` declares it: its default is always a string."""

    default: str
    type: str
    example: str
    description: str
    version_added: str = "0.1.0"


#: Every ``[automl]`` option, in the order ``get_provider_info`` lists them.
OPTIONS: dict[str, Option] = {
    "model_store": Option(
        "",
        "string",
        "s3://my-bucket/automl-models",
        "Where trained models are saved, as an Airflow ObjectStoragePath URL (file:///..., s3://bucket/prefix, "
        "gs://...). Empty: a folder automl_models under AIRFLOW_HOME.",
    ),
    "model_store_conn_id": Option(
        "",
        "string",
        "aws_default",
        "Airflow connection used to reach a remote model store (s3, gs, ...).",
    ),
    "ui_conn_id": Option(
        "automl_default",
        "string",
        "automl_default",
        "Connection the AutoML UI pages read the tracking tables from. Empty: automl_default.",
    ),
    "ui_schema": Option(
        "",
        "string",
        "ml",
        "Schema of the tracking tables for the AutoML UI; empty: the connection's default.",
    ),
    "drift_timezone": Option(
        "UTC",
        "string",
        "Europe/Paris",
        "Timezone of the drift monitor DAG's daily 07:00 schedule, read when the DAG file is parsed (an IANA "
        "name such as America/Los_Angeles). Empty: UTC.",
    ),
    "allowed_conn_ids": Option(
        "automl_default",
        "string",
        "automl_default,automl_warehouse",
        "The connections the provider's hooks may open, comma-separated (shell patterns such as automl_* "
        "allowed); checked before a connection is opened, and the DAGs' conn_id param is a drop-down of them. "
        "ui_conn_id is always allowed.",
    ),
    "allowed_schemas": Option(
        "",
        "string",
        "ml_datasets,automl_test",
        "The schemas tables may be read from or written to, comma-separated (shell patterns allowed). Empty: "
        "any schema the connection can reach.",
    ),
    "lock_timeout": Option(
        "120",
        "float",
        "30",
        "Seconds a statement waits for a table lock (replacing a table, recording a row) before it fails with "
        "the database's lock error; a positive number.",
    ),
    "generic_dialect_conn_ids": Option(
        "",
        "string",
        "automl_default",
        "Connections (comma-separated; shell patterns such as automl_* allowed) read and written with the "
        "generic SQL dialect only, without their database's fast paths (COPY, the SQLite text reader, parallel "
        "ranges). Empty: every connection uses its database's dialect; databases without one always use the "
        "generic dialect.",
    ),
    "train_pool": Option(
        "",
        "string",
        "automl_training",
        "Pool of the experiment DAG's train task, read when the DAG file is parsed. Empty: default_pool. A named "
        "pool must exist (airflow pools set NAME SLOTS DESCRIPTION): a task whose pool is missing is never "
        "scheduled.",
    ),
    "train_queue": Option(
        "",
        "string",
        "automl",
        "Executor queue of the experiment DAG's train task (Celery workers started with --queues default,QUEUE "
        "take it), read when the DAG file is parsed. Empty: the default queue.",
    ),
    "train_task_mem": Option(
        "",
        "string",
        "16Gi",
        "Memory the KubernetesExecutor's pod of the train task requests and is limited to (digdag's "
        "docker.task_mem). Empty: no pod override.",
    ),
    "owner_email": Option(
        "",
        "string",
        "ml-team@example.com",
        "E-mail address of the shipped DAGs' owner (a mailto: owner link), recorded as the user_email of "
        "experiments whose triggering user has no e-mail address (scheduled runs, or users of an auth manager "
        "that knows none). Read when the DAG file is parsed.",
    ),
    "mail_dir": Option(
        "",
        "string",
        "/opt/airflow/mail",
        "Folder of e-mails caught by a local mail catcher, one .eml file each (make airflow sets it); the AutoML "
        "UI lists them on its Mail page. Empty: no Mail page.",
    ),
}

#: ``[automl] allowed_conn_ids``'s default: the one connection the shipped DAGs use.
DEFAULT_ALLOWED_CONN_IDS = OPTIONS["allowed_conn_ids"].default
#: ``[automl] lock_timeout``'s default, in seconds.
DEFAULT_LOCK_TIMEOUT = float(OPTIONS["lock_timeout"].default)
#: Where links that leave the Airflow UI (e-mails, the triggered run's link) point when ``[api] base_url`` is
#: not set: the API server's default address.
LOCAL_API_BASE_URL = "http://localhost:8080"


class NotAllowedError(PermissionError):
    """A connection or schema that the ``[automl]`` allow-lists do not name."""


def _option(name: str) -> str:
    """``[automl] <name>`` as text, its default from :data:`OPTIONS` when unset; ``""`` when set empty."""
    from airflow.sdk import conf

    return conf.get("automl", name, fallback=OPTIONS[name].default) or ""


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def provider_config_options() -> dict[str, dict[str, str]]:
    """:data:`OPTIONS` in ``get_provider_info``'s ``config`` form."""
    return {
        name: {
            "description": option.description,
            "version_added": option.version_added,
            "type": option.type,
            "example": option.example,
            "default": option.default,
        }
        for name, option in OPTIONS.items()
    }


# -- [api] --------------------------------------------------------------------------------------------------
def api_base_url(*, absolute: bool = False) -> str:
    """
    ``[api] base_url``, the Airflow UI's address, without a trailing ``/``. When it is not set: ``""``, so the
    extra links and the plugin's navigation are relative to the UI's own origin; with ``absolute=True`` (links
    read outside the UI: e-mails), :data:`LOCAL_API_BASE_URL`.
    """
    from airflow.sdk import conf

    base_url = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return base_url or (LOCAL_API_BASE_URL if absolute else "")


# -- connections and schemas --------------------------------------------------------------------------------
def allowed_conn_ids() -> list[str]:
    """
    ``[automl] allowed_conn_ids``: the connections the package's hooks may open (comma-separated; shell
    patterns such as ``automl_*`` allowed), plus the UI's own ``[automl] ui_conn_id``.
    """
    allowed = _items(_option("allowed_conn_ids"))
    ui = ui_conn_id()
    return [*allowed, *([ui] if ui and ui not in allowed else [])]


def allowed_schemas() -> list[str] | None:
    """``[automl] allowed_schemas``: the schemas a table may be read from or written to; empty: any."""
    return _items(_option("allowed_schemas")) or None


def check_conn_id(conn_id: str) -> str:
    """Refuse a connection the allow-list does not name, before it is opened."""
    allowed = allowed_conn_ids()
    if not any(fnmatchcase(conn_id, pattern) for pattern in allowed):
        raise NotAllowedError(
            f"Connection {conn_id!r} is not one the AutoML provider may use: [automl] allowed_conn_ids is "
            f"{allowed}. An administrator can add it there (env AIRFLOW__AUTOML__ALLOWED_CONN_IDS)."
        )
    return conn_id


def check_schema(schema: str) -> str:
    """Refuse a schema that ``[automl] allowed_schemas`` does not name (when it names any)."""
    allowed = allowed_schemas()
    if allowed is not None and not any(fnmatchcase(schema, pattern) for pattern in allowed):
        raise NotAllowedError(
            f"Schema {schema!r} is not one the AutoML provider may use: [automl] allowed_schemas is {allowed}. "
            "An administrator can add it there (env AIRFLOW__AUTOML__ALLOWED_SCHEMAS)."
        )
    return schema


def conn_id_choices() -> list[str] | None:
    """The allowed connections as a list for a form's drop-down, or ``None`` when patterns make it open."""
    allowed = allowed_conn_ids()
    return None if any(ch in pattern for pattern in allowed for ch in "*?[") else allowed


def conn_id_param() -> Param:
    """The DAGs' ``conn_id`` param: a drop-down of the allowed connections (free text where patterns allow more)."""
    from airflow.sdk import Param

    from airflow_automl_provider.constants import DEFAULT_CONN_ID

    choices = conn_id_choices()
    return Param(
        choices[0] if choices else DEFAULT_CONN_ID,
        type="string",
        **({"enum": choices} if choices else {}),
        description="The common-sql connection of the tables: one of [automl] allowed_conn_ids.",
    )


def lock_timeout() -> float:
    """``[automl] lock_timeout``: seconds a statement waits for a table lock before it fails."""
    text = _option("lock_timeout")
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"Invalid [automl] lock_timeout {text!r}: expected a number of seconds.") from None
    if not seconds > 0:
        raise ValueError(f"Invalid [automl] lock_timeout {text!r}: expected a positive number of seconds.")
    return seconds


def uses_generic_dialect(conn_id: str) -> bool:
    """
    ``[automl] generic_dialect_conn_ids``: the connections (comma-separated; shell patterns allowed) read
    and written with the generic SQL dialect only, without their database's fast paths.
    """
    return any(fnmatchcase(conn_id, pattern) for pattern in _items(_option("generic_dialect_conn_ids")))


# -- the UI -------------------------------------------------------------------------------------------------
def ui_conn_id() -> str:
    """``[automl] ui_conn_id``: the connection the AutoML UI reads the tracking tables from (empty: the default)."""
    return _option("ui_conn_id") or OPTIONS["ui_conn_id"].default


def ui_schema() -> str | None:
    """``[automl] ui_schema``: the schema of the tracking tables for the UI; ``None``: the connection's default."""
    return _option("ui_schema") or None


def mail_dir() -> str:
    """``[automl] mail_dir``: the folder of caught e-mails the UI's Mail page lists; ``""``: no Mail page."""
    return _option("mail_dir").strip()


# -- the model store ----------------------------------------------------------------------------------------
def default_store_uri() -> str:
    """The model store when ``[automl] model_store`` is empty: ``file://$AIRFLOW_HOME/automl_models``."""
    home = os.path.expanduser(os.environ.get("AIRFLOW_HOME", "~/airflow"))
    return "file://" + os.path.abspath(os.path.join(home, "automl_models"))


def model_store() -> str:
    """``[automl] model_store``: the model store's URL (a bare path is made a ``file://`` URL); empty: the default."""
    uri = _option("model_store") or default_store_uri()
    return uri if "://" in uri else "file://" + os.path.abspath(os.path.expanduser(uri))


def model_store_conn_id() -> str | None:
    """``[automl] model_store_conn_id``: the connection of a remote model store; ``None``: none."""
    return _option("model_store_conn_id") or None


# -- the DAG files, read when they are parsed ---------------------------------------------------------------
def drift_timezone() -> str:
    """``[automl] drift_timezone``: the drift monitor's schedule timezone (empty: UTC)."""
    return _option("drift_timezone") or OPTIONS["drift_timezone"].default


def owner_email() -> str:
    """``[automl] owner_email``: the shipped DAGs' owner address; ``""``: none."""
    return _option("owner_email")


def train_pool() -> str | None:
    """``[automl] train_pool``: the train task's pool; ``None``: ``default_pool``."""
    return _option("train_pool") or None


def train_queue() -> str | None:
    """``[automl] train_queue``: the train task's executor queue; ``None``: the default queue."""
    return _option("train_queue") or None


def train_task_mem() -> str:
    """``[automl] train_task_mem``: the train task's pod memory for the KubernetesExecutor; ``""``: no override."""
    return _option("train_task_mem")
