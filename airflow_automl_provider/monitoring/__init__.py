"""
The drift monitor: :mod:`.statistics` (the features' profile, distances and tests), :mod:`.rules`
(when a day counts as drifted) and :mod:`.branch` (the DAG's ``BranchPythonOperator`` callable).

DAG files import this package at parse time, so it re-exports only the light modules' names.
"""

from __future__ import annotations

from airflow_automl_provider.monitoring.branch import choose_branch, run_link
from airflow_automl_provider.monitoring.rules import (
    DEFAULT_WINDOW_DAYS,
    DEFAULT_Z_BOUND,
    MIN_CLASS_ROWS,
    SIGNIFICANCES,
    Decision,
    DriftRules,
    decide,
    feature_reason,
    performance_statistics,
    rules_from_params,
    sequential_figures,
)

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "DEFAULT_Z_BOUND",
    "MIN_CLASS_ROWS",
    "SIGNIFICANCES",
    "Decision",
    "DriftRules",
    "choose_branch",
    "decide",
    "feature_reason",
    "performance_statistics",
    "rules_from_params",
    "run_link",
    "sequential_figures",
]
