"""
Airflow connections the package needs: fetched once, and a missing one fails the task at once with the
command that defines it (a retry cannot help, so it is not retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Connection

#: What each connection the package uses is for, and an example URI for the command that defines it.
EXAMPLES: dict[str, tuple[str, str]] = {
    # An absolute SQLite path /abs/path/automl.db is written sqlite:///abs/path/automl.db (not sqlite:////).
    "sql": ("a common-sql database", "sqlite:///abs/path/automl.db"),
    "smtp": (
        "the SMTP server the alert e-mails go through",
        "smtp://user:password@smtp.example.com:587?from_email=automl%40example.com",
    ),
}


def missing_connection_message(conn_id: str, kind: str) -> str:
    """The error for an undefined connection: what it is for, and the two ways to define it."""
    what, example = EXAMPLES[kind]
    env = "AIRFLOW_CONN_" + "".join(c if c.isalnum() else "_" for c in conn_id).upper()
    return (
        f"The Airflow connection {conn_id!r} ({what}) is not defined. Define it with "
        f"`airflow connections add {conn_id} --conn-uri '{example}'`, or set the environment variable "
        f"{env}='{example}' for the Airflow processes, then clear the task."
    )


def get_connection(conn_id: str, kind: str) -> Connection:
    """
    ``BaseHook.get_connection``, failing the task without retries when the connection is not defined, or
    (for SQL connections, which a DAG's params choose) not in ``[automl] allowed_conn_ids``.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    from airflow_automl_provider.config import NotAllowedError, check_conn_id

    if kind == "sql":
        try:
            check_conn_id(conn_id)
        except NotAllowedError as err:
            raise AirflowFailException(str(err)) from None
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise AirflowFailException(missing_connection_message(conn_id, kind)) from None
