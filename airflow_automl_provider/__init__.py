"""Apache Airflow provider for AutoML experiment tracking and model management with AutoGluon."""

from __future__ import annotations

__version__ = "0.1.0"
