"""AutoGluon's progress reaches the task log as log records at their own level, not as stderr (ERROR) lines."""

from __future__ import annotations

import logging

import pytest

pytestmark = pytest.mark.unit


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_autogluon_records_go_through_logging_not_stderr(capfd):
    import autogluon.tabular  # noqa: F401 (installs AutoGluon's own stderr handler, as in a task)

    from airflow_automl_provider.operators.autogluon import _autogluon_logging

    ag = logging.getLogger("autogluon")
    predictor_log = logging.getLogger("autogluon.tabular.predictor.predictor")
    before = (list(ag.handlers), ag.propagate)
    assert any(isinstance(h, logging.StreamHandler) for h in ag.handlers) and not ag.propagate

    # Another test's logging.config (dag.test) may have disabled the loggers that existed then; a task
    # process configures logging before AutoGluon's loggers exist.
    # And a load with verbosity=0 (the model store's) lowers AutoGluon's level until the next fit sets it.
    disabled = {name: logging.getLogger(name).disabled for name in ("autogluon", predictor_log.name)}
    for name in disabled:
        logging.getLogger(name).disabled = False
    level = ag.level
    ag.setLevel(logging.INFO)  # what a fit at verbosity 2 sets
    keep = _Keep()
    logging.getLogger().addHandler(keep)  # where the task runner's log handler is
    with _autogluon_logging():
        predictor_log.log(20, "Fitting model: LightGBM ...")
        predictor_log.log(30, "Warning: something to look at")
        predictor_log.log(20, 'TabularPredictor saved. To load, use: predictor = TabularPredictor.load("/tmp/x")')
    logging.getLogger().removeHandler(keep)
    for name, flag in disabled.items():
        logging.getLogger(name).disabled = flag
    ag.setLevel(level)
    records = [(r.name, r.levelno, r.getMessage()) for r in keep.records if r.name.startswith("autogluon")]
    assert records == [
        ("autogluon.tabular.predictor.predictor", 20, "Fitting model: LightGBM ..."),
        ("autogluon.tabular.predictor.predictor", 30, "Warning: something to look at"),
    ]
    assert "Fitting model" not in capfd.readouterr().err  # nothing on stderr: no ERROR line in a task log
    # Restored afterwards: AutoGluon outside a task behaves as it always did.
    assert (list(ag.handlers), ag.propagate) == before
    assert predictor_log.filters == []


def test_a_failure_inside_still_raises():
    from airflow_automl_provider.operators.autogluon import _autogluon_logging

    with pytest.raises(RuntimeError, match="boom"), _autogluon_logging():
        raise RuntimeError("boom")
    assert not logging.getLogger("autogluon").propagate


def test_in_a_fresh_process_autogluons_first_import_does_not_bring_stderr_back(tmp_path):
    """As in a task process: AutoGluon is imported for the first time inside the block."""
    import subprocess
    import sys

    script = tmp_path / "fresh.py"
    script.write_text(
        "import logging, sys\n"
        "from airflow_automl_provider.operators.autogluon import _autogluon_logging\n"
        "assert 'autogluon' not in sys.modules\n"
        "root = logging.getLogger()\n"
        "root.handlers[:] = [logging.StreamHandler(sys.stdout)]\n"
        "root.handlers[0].setFormatter(logging.Formatter('%(levelname)s %(name)s %(message)s'))\n"
        "root.setLevel(logging.INFO)\n"
        "with _autogluon_logging():\n"
        "    from autogluon.tabular import TabularPredictor  # noqa: F401\n"
        "    logging.getLogger('autogluon.tabular.predictor.predictor').log(20, 'Fitting model: LightGBM')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "INFO autogluon.tabular.predictor.predictor Fitting model: LightGBM" in done.stdout
    assert "Fitting model" not in done.stderr
