"""Provider metadata read by Airflow's ProvidersManager (``apache_airflow_provider`` entry point)."""

from __future__ import annotations

from typing import Any


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
                "options": {
                    "model_store": {
                        "description": (
                            "Where trained models are saved, as an Airflow ObjectStoragePath URL "
                            "(file:///..., s3://bucket/prefix, gs://...). Empty: a folder automl_models "
                            "under AIRFLOW_HOME."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://my-bucket/automl-models",
                        "default": "",
                    },
                    "ui_conn_id": {
                        "description": "Connection the AutoML UI pages read the tracking tables from.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "automl_default",
                        "default": "automl_default",
                    },
                    "ui_schema": {
                        "description": "Schema of the tracking tables for the AutoML UI; empty: the connection's default.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "ml",
                        "default": "",
                    },
                    "drift_timezone": {
                        "description": (
                            "Timezone of the drift monitor DAG's daily 07:00 schedule, read when the DAG file "
                            "is parsed (an IANA name such as America/Los_Angeles)."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "Europe/Paris",
                        "default": "UTC",
                    },
                    "allowed_conn_ids": {
                        "description": (
                            "The connections the provider's hooks may open, comma-separated (shell patterns such as "
                            "automl_* allowed); checked before a connection is opened, and the DAGs' conn_id param "
                            "is a drop-down of them. ui_conn_id is always allowed."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "automl_default,automl_warehouse",
                        "default": "automl_default",
                    },
                    "allowed_schemas": {
                        "description": (
                            "The schemas tables may be read from or written to, comma-separated (shell patterns "
                            "allowed). Empty: any schema the connection can reach."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "ml_datasets,automl_test",
                        "default": "",
                    },
                    "generic_dialect_conn_ids": {
                        "description": (
                            "Connections (comma-separated; shell patterns such as automl_* allowed) read and "
                            "written with the generic SQL dialect only, without their database's fast paths "
                            "(COPY, the SQLite text reader, parallel ranges). Empty: every connection uses its "
                            "database's dialect; databases without one always use the generic dialect."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "automl_default",
                        "default": "",
                    },
                    "train_pool": {
                        "description": (
                            "Pool of the experiment DAG's train task, read when the DAG file is parsed. Empty: "
                            "default_pool. A named pool must exist (airflow pools set NAME SLOTS DESCRIPTION): a task "
                            "whose pool is missing is never scheduled."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "automl_training",
                        "default": "",
                    },
                    "train_queue": {
                        "description": (
                            "Executor queue of the experiment DAG's train task (Celery workers started with "
                            "--queues default,QUEUE take it), read when the DAG file is parsed. Empty: the default queue."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "automl",
                        "default": "",
                    },
                    "train_task_mem": {
                        "description": (
                            "Memory the KubernetesExecutor's pod of the train task requests and is limited to "
                            "(digdag's docker.task_mem). Empty: no pod override."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "16Gi",
                        "default": "",
                    },
                    "owner_email": {
                        "description": (
                            "E-mail address of the shipped DAGs' owner (a mailto: owner link), recorded as the "
                            "user_email of experiments whose triggering user has no e-mail address (scheduled "
                            "runs, or users of an auth manager that knows none). Read when the DAG file is parsed."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "ml-team@example.com",
                        "default": "",
                    },
                    "mail_dir": {
                        "description": (
                            "Folder of e-mails caught by a local mail catcher, one .eml file each (make airflow sets "
                            "it); the AutoML UI lists them on its Mail page. Empty: no Mail page."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/mail",
                        "default": "",
                    },
                    "model_store_conn_id": {
                        "description": "Airflow connection used to reach a remote model store (s3, gs, ...).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_default",
                        "default": "",
                    },
                },
            }
        },
    }
