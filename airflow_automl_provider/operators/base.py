"""The base of the package's operators: the connection they share and the hooks they build from it."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_automl_provider.constants import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_automl_provider.hooks.model_store import ModelStoreHook
    from airflow_automl_provider.hooks.tracking import TrackingHook

# The hooks are imported by the accessors, when a task first asks for them, so that DAG files using the
# operators parse without loading them (docs/benchmarks.md, "DAG parsing").


class AutoMLBaseOperator(BaseOperator):
    """
    Base of the operators that work on a ``common-sql`` connection: keeps ``conn_id`` and builds, once per
    task and only when ``execute()`` asks, the hooks the operators use (as common-sql's
    ``BaseSQLOperator.get_db_hook``).

    ``conn_id`` is templated: subclasses extend ``template_fields`` with
    ``(*AutoMLBaseOperator.template_fields, ...)``. The operators that take a ``schema`` or a
    ``model_store`` argument declare it themselves (not every operator has one); :attr:`model_store_hook`
    reads ``model_store``. ``[automl] allowed_conn_ids`` is checked where the connection is opened, by the
    hook (:func:`airflow_automl_provider.connections.get_connection`), as for every other user of it.

    :param conn_id: common-sql connection of the tables. (templated)
    """

    template_fields: Sequence[str] = ("conn_id",)

    #: Model store base URL of the operators that take a ``model_store`` argument (they set it).
    model_store: str | None

    def __init__(self, *, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    @cached_property
    def hook(self) -> TrackingHook:
        """The :class:`~airflow_automl_provider.hooks.tracking.TrackingHook` of ``conn_id``, built once."""
        from airflow_automl_provider.hooks.tracking import TrackingHook

        return TrackingHook(conn_id=self.conn_id)

    @cached_property
    def model_store_hook(self) -> ModelStoreHook:
        """The model store at ``model_store`` (empty: ``[automl] model_store``), built once."""
        from airflow_automl_provider.hooks.model_store import ModelStoreHook

        return ModelStoreHook(base_uri=self.model_store or None)
