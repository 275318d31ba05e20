"""Moved to :mod:`airflow_automl_provider.evaluation.measures`; kept while ``hooks.tracking`` imports it from here."""

from airflow_automl_provider.evaluation.measures import *  # noqa: F403
from airflow_automl_provider.evaluation.measures import EvaluationError  # noqa: F401
