"""Moved to :mod:`.monitoring.statistics`, :mod:`.evaluation.delong` and :mod:`.monitoring.rules`; kept for importers not yet updated."""

from airflow_automl_provider.evaluation.delong import *  # noqa: F403
from airflow_automl_provider.monitoring.rules import consecutive_below  # noqa: F401
from airflow_automl_provider.monitoring.statistics import *  # noqa: F403
