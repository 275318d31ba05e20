"""
Parse one DAG folder with ``DagBag`` in this process and print three figures: the process CPU time of
the ``DagBag(...)`` call, its wall time, and the file's own duration from ``dagbag_stats``.

For quick A/B checks of a DAG file's variants (fresh interpreter per call; run each variant
alternately, several times):

    AIRFLOW_HOME=/tmp/parse/home PYTHONPYCACHEPREFIX=/tmp/parse/pyc AIRFLOW__CORE__LOAD_EXAMPLES=false \
        .venv/bin/python benchmarks/parse_one.py /tmp/parse/a

``benchmarks/dag_parse.py`` is the full measurement (``airflow dags report``, import times, both
bytecode modes).
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    folder = sys.argv[1]
    import airflow  # noqa: F401  (the DAG processor has Airflow imported already)
    from airflow.dag_processing.dagbag import DagBag

    cpu, wall = time.process_time(), time.perf_counter()
    bag = DagBag(dag_folder=folder)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    print(f"{cpu:.4f} {wall:.4f} {bag.dagbag_stats[0].duration.total_seconds():.4f}")


if __name__ == "__main__":
    main()
