"""
Operator extra links: from a task in the Airflow UI to the AutoML pages (see ``plugins``), inside the Airflow UI.

The plugin's external view (``url_route = "automl"``) is shown by the Airflow UI at ``{base_url}/plugin/automl``,
in a frame. The UI's route for it is ``plugin/:page/*``: whatever path follows ``/plugin/automl`` (with the query
string) is loaded into the frame, if it is on the same origin, and the UI keeps its own address in step with the
frame's (``/plugin/automl/automl/experiments`` while the frame shows ``/automl/experiments``). So a link to
``{base_url}/plugin/automl{base path}/automl/models/<name>`` opens that page inside the Airflow UI, with its
navigation around it, rather than as a bare page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, TaskInstanceKey

#: The plugin app's URL prefix (``fastapi_apps[...]["url_prefix"]``).
UI_PREFIX = "/automl"
#: The plugin's external view's ``url_route``: the Airflow UI shows it at ``/plugin/<url_route>``.
URL_ROUTE = "automl"


def ui_url(path: str, **query: Any) -> str:
    """
    The URL that opens the AutoML page ``path`` (``/models/<name>``, ``/monitoring``, ...) inside the Airflow UI,
    under the API server's ``[api] base_url`` (a path relative to the UI's origin when that is not set).
    """
    from airflow_automl_provider.config import api_base_url

    base_url = api_base_url()
    base_path = urlsplit(base_url).path.rstrip("/")  # where the app is mounted, for the frame's own URL
    params = {k: v for k, v in query.items() if v}
    frame = f"{base_path}{UI_PREFIX}{path}" + (f"?{urlencode(params)}" if params else "")
    return f"{base_url}/plugin/{URL_ROUTE}{frame}"


def _model_name(ti_key: TaskInstanceKey) -> str | None:
    """``model_name`` of the task's XCom (train, evaluation, performance and data_drift return it)."""
    from airflow.sdk.execution_time.xcom import XCom

    value = XCom.get_value(ti_key=ti_key, key="return_value")
    name = value.get("model_name") if isinstance(value, dict) else None
    return name if isinstance(name, str) and name else None


class ModelReportLink(BaseOperatorLink):
    """The trained model's report, inside the Airflow UI."""

    name = "AutoML model report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        model = _model_name(ti_key)
        return ui_url(f"/models/{quote(model, safe='')}/report") if model else ""


class MonitoringLink(BaseOperatorLink):
    """The evaluated model's own page (AUROC over time, data drift), inside the Airflow UI."""

    name = "AutoML monitoring"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        model = _model_name(ti_key)
        # Without a model name (an XCom of an older version): all models' monitoring page.
        return ui_url(f"/models/{quote(model, safe='')}") if model else ui_url("/monitoring")
