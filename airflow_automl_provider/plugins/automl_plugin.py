"""
``AutoMLPlugin``: mounts the AutoML pages (:mod:`.app`) under ``/automl`` in the Airflow API server and adds
"AutoML" to the Airflow navigation, where the UI shows the pages in a frame.

Registered through the provider's ``plugins`` entry in ``get_provider_info`` (or an ``airflow.plugins``
entry point). The pages need an authenticated Airflow user: see :mod:`.app`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_automl_provider.plugins.app import URL_PREFIX, app


def _href(path: str) -> str:
    """A path of the app under Airflow's base URL path (``[api] base_url``), as the navigation needs it."""
    from urllib.parse import urlparse

    from airflow_automl_provider import config

    base = urlparse(config.api_base_url() or "/").path.rstrip("/")
    return f"{base}{URL_PREFIX}{path}"


class AutoMLPlugin(AirflowPlugin):
    """AutoML experiments, models and monitoring pages inside the Airflow UI."""

    name = "automl"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "AutoML"}]
    external_views = [
        {
            "name": "AutoML",
            "href": _href("/experiments"),
            "destination": "nav",
            "url_route": "automl",
            "nav_top_level": True,
        }
    ]
