"""
Provider metadata read by Airflow's ProvidersManager (``apache_airflow_provider`` entry point).

The ``[automl]`` options come from :data:`airflow_automl_provider.config.OPTIONS`, where each has its one default.
The UI plugin is not listed under ``plugins``: it is registered by the ``airflow.plugins`` entry point (see
``pyproject.toml``), which Airflow loads whether or not providers load lazily; listed here too, it would be
loaded twice with lazy loading off, and Airflow reports the second as a plugin import error.
"""

from __future__ import annotations

from typing import Any

from airflow_automl_provider.config import provider_config_options


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-automl-provider",
        "name": "AutoML",
        "description": "AutoML experiment tracking and model management with AutoGluon, on any common-sql database.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "AutoML",
                "external-doc-url": "https://auto.gluon.ai/",
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "AutoML",
                "python-modules": [
                    "airflow_automl_provider.operators.base",
                    "airflow_automl_provider.operators.autogluon",
                    "airflow_automl_provider.operators.tracking",
                    "airflow_automl_provider.operators.evaluation",
                    "airflow_automl_provider.operators.drift",
                    "airflow_automl_provider.operators.monitoring",
                ],
            }
        ],
        "hooks": [
            {
                "integration-name": "AutoML",
                "python-modules": [
                    "airflow_automl_provider.hooks.table",
                    "airflow_automl_provider.hooks.tracking",
                    "airflow_automl_provider.hooks.model_store",
                ],
            }
        ],
        "extra-links": [
            "airflow_automl_provider.links.ModelReportLink",
            "airflow_automl_provider.links.MonitoringLink",
            "airflow_automl_provider.operators.monitoring.TriggeredDagRunLink",
        ],
        "config": {
            "automl": {
                "description": "Settings of the AutoML provider.",
                # Generated from config.OPTIONS: the one default of each option, read there.
                "options": provider_config_options(),
            }
        },
    }
