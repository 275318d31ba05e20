"""``python -m automl_demo seed|show|week``: see :mod:`automl_demo.cli`."""

from __future__ import annotations

import sys

from automl_demo.cli import main

sys.exit(main())
