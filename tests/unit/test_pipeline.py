"""The predict/read/write overlap and the predictions' JSON: order, bounded look-ahead, errors, exact floats."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

from airflow_automl_provider.operators.autogluon import probabilities_json
from airflow_automl_provider.pipeline import overlapped


def test_overlapped_keeps_order_and_runs_fn_off_the_callers_thread():
    caller = threading.get_ident()
    seen_threads = set()

    def slow_square(x):
        seen_threads.add(threading.get_ident())
        time.sleep(0.001 * (5 - x % 5))  # later items finish sooner if run out of order
        return x * x

    assert list(overlapped(slow_square, range(20))) == [x * x for x in range(20)]
    assert caller not in seen_threads


def test_overlapped_looks_at_most_one_item_ahead():
    taken = []

    def items():
        for i in range(10):
            taken.append(i)
            yield i

    gen = overlapped(lambda x: x, items())
    for got in gen:
        # While result `got` is handled, the worker has at most item got + 1.
        assert max(taken) <= got + 1
    assert taken == list(range(10))


def test_overlapped_raises_the_workers_error_and_stops():
    def fail_on_three(x):
        if x == 3:
            raise RuntimeError("chunk 3 is bad")
        return x

    out = []
    with pytest.raises(RuntimeError, match="chunk 3 is bad"):
        for value in overlapped(fail_on_three, range(10)):
            out.append(value)
    assert out == [0, 1, 2]


def test_probabilities_json_reads_back_as_the_same_floats():
    rng = np.random.default_rng(0)
    p = rng.random(500)
    p[:4] = [0.0, 1.0, 1e-300, 0.30000000000000004]
    proba = pd.DataFrame({"no": p, 'say "yes"': 1 - p, "é": p / 3})
    texts = probabilities_json(proba)
    assert len(texts) == 500
    for text, row in zip(texts, proba.itertuples(index=False), strict=True):
        assert json.loads(text) == dict(zip(proba.columns, row, strict=True))
