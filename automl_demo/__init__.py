"""
The demo and the test helpers of airflow-automl-provider: not part of the provider, and not in its
wheel (``[tool.hatch.build.targets.wheel] packages``). Importable from the repository root (the
editable install, pytest's ``pythonpath``) and, in the Docker image, through ``PYTHONPATH``.

- :mod:`automl_demo.data`: ``load_uci_adult``, ``generate``, ``simulate_days``;
- :mod:`automl_demo.servers`: ``free_port`` and ``MailCatcher`` (the aiosmtpd handler of demos and tests);
- :mod:`automl_demo.cli`: ``python -m automl_demo seed|show|week`` (``make demo``).
"""

from __future__ import annotations

from automl_demo.data import ADULT_COLUMNS, generate, load_uci_adult, simulate_days
from automl_demo.servers import MailCatcher, free_port

__all__ = ["ADULT_COLUMNS", "MailCatcher", "free_port", "generate", "load_uci_adult", "simulate_days"]
