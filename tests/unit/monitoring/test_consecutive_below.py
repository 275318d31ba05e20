"""The run of days under the fixed AUROC threshold."""

from __future__ import annotations

import pytest

from airflow_automl_provider.monitoring import rules as drift

pytestmark = pytest.mark.unit


# --- consecutive_below -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], 0),
        ([0.9, 0.85], 0),
        ([0.9, 0.7, 0.6], 2),
        ([0.7, 0.6], 2),
        ([0.7, 0.9, 0.6], 1),
        ([0.7, None, 0.6, 0.5], 2),  # no measure that day breaks the run
        ([0.7, 0.6, None], 0),
        ([0.6, 0.8], 0),  # equal to the threshold is not below
        ([0.6, float("nan"), 0.5], 1),
    ],
)
def test_consecutive_below(history, expected):
    assert drift.consecutive_below(history, 0.8) == expected
