"""
Which rows of the tracking tables a user of the AutoML pages may see: those of the DAGs that Airflow's auth
manager lets the user read, as the Airflow UI itself filters DAGs and runs.
"""

from __future__ import annotations

from typing import Any


def readable_dag_ids(user: Any) -> set[str] | None:
    """
    The DAG ids ``user`` may read (``get_authorized_dag_ids``), or ``None`` when that is every DAG Airflow
    knows: such a user sees every row, and models in the store that no experiment row names.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    readable = set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))
    with create_session() as session:
        known = set(session.scalars(select(DagModel.dag_id)))
    return None if known <= readable else readable
