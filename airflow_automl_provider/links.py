"""Operator extra links: from a task in the Airflow UI to the AutoML pages (see ``plugins``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, TaskInstanceKey

UI_PREFIX = "/automl"


def ui_url(path: str, **query: Any) -> str:
    """Absolute URL of an AutoML page under the Airflow API server's ``[api] base_url``."""
    from airflow.sdk import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    params = {k: v for k, v in query.items() if v}
    return f"{base}{UI_PREFIX}{path}" + (f"?{urlencode(params)}" if params else "")


def _model_name(ti_key: TaskInstanceKey) -> str | None:
    from airflow.sdk.execution_time.xcom import XCom

    value = XCom.get_value(ti_key=ti_key, key="return_value")
    return value.get("model_name") if isinstance(value, dict) else None


class ModelReportLink(BaseOperatorLink):
    """The trained model's report."""

    name = "AutoML model report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        model = _model_name(ti_key)
        return ui_url(f"/models/{quote(model, safe='')}/report") if model else ""


class MonitoringLink(BaseOperatorLink):
    """AUROC over time and data drift of the evaluated model."""

    name = "AutoML monitoring"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return ui_url("/monitoring", model=_model_name(ti_key))
