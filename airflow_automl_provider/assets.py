"""Assets the package's tasks update: schedule your own DAG on "a new model was trained"."""

from __future__ import annotations

from airflow.sdk import Asset


def model_asset(dag_id: str = "automl_experiment") -> Asset:
    """
    The asset a train task of ``dag_id`` updates with each new model.

    Its events carry ``model_name``, ``shared_model`` and ``model_uri`` in ``extra``; a prediction DAG
    scheduled on it reads them from ``triggering_asset_events``::

        with DAG("score_customers", schedule=[model_asset()]): ...
    """
    return Asset(name=f"{dag_id}_model", uri=f"automl://models/{dag_id}", group="automl")


AUTOML_EXPERIMENT_MODEL = model_asset()
