"""
The ``[automl]`` options that decide what a DAG's user may reach: read here, in one place, lazily.

An administrator sets them in ``airflow.cfg`` or as ``AIRFLOW__AUTOML__<OPTION>`` for every Airflow
process; a DAG's params cannot change them. Each is declared with its default in ``get_provider_info``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Param

#: ``[automl] allowed_conn_ids``'s default: the one connection the shipped DAGs use.
DEFAULT_ALLOWED_CONN_IDS = "automl_default"
#: ``[automl] lock_timeout``'s default, in seconds.
DEFAULT_LOCK_TIMEOUT = 120.0


class NotAllowedError(PermissionError):
    """A connection or schema that the ``[automl]`` allow-lists do not name."""


def _option(name: str, fallback: str) -> str:
    from airflow.sdk import conf

    return conf.get("automl", name, fallback=fallback) or ""


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def allowed_conn_ids() -> list[str]:
    """
    ``[automl] allowed_conn_ids``: the connections the package's hooks may open (comma-separated; shell
    patterns such as ``automl_*`` allowed), plus the UI's own ``[automl] ui_conn_id``.
    """
    allowed = _items(_option("allowed_conn_ids", DEFAULT_ALLOWED_CONN_IDS))
    ui = _option("ui_conn_id", "")
    return [*allowed, *([ui] if ui and ui not in allowed else [])]


def allowed_schemas() -> list[str] | None:
    """``[automl] allowed_schemas``: the schemas a table may be read from or written to; empty: any."""
    return _items(_option("allowed_schemas", "")) or None


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
    text = _option("lock_timeout", str(DEFAULT_LOCK_TIMEOUT))
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
    return any(fnmatchcase(conn_id, pattern) for pattern in _items(_option("generic_dialect_conn_ids", "")))
