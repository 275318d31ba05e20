"""The SQL measures against scikit-learn, on SQLite in memory (the same SQL runs on PostgreSQL in integration)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from sklearn import metrics as skm

from airflow_automl_provider.evaluation import measures as m
from airflow_automl_provider.sql import SqlDialect

pytestmark = pytest.mark.unit
D = SqlDialect("sqlite", "?")


def _table(rows, columns="label, p, pred"):
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE TABLE t ({columns})")
    conn.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return conn


COLS = m.Columns(table='"t"', target='"label"', score='"p"', prediction='"pred"')


def _auroc(conn, positive="yes"):
    row = conn.execute(m.auroc_query(D, COLS), (positive,)).fetchone()
    return m.auroc_from_row(row, table="t", score_column="p", positive_class=positive)


@pytest.mark.parametrize(("seed", "decimals"), [(0, 1), (1, 2), (2, 4), (3, 12)])
def test_auroc_and_pr_auc_equal_sklearn_with_ties(seed, decimals):
    rng = np.random.default_rng(seed)
    n = 5000
    y = rng.integers(0, 2, n)
    s = np.round(np.clip(rng.normal(0.45 + 0.15 * y, 0.2), 0, 1), decimals)
    conn = _table([("yes" if a else "no", float(b), "x") for a, b in zip(y, s, strict=True)])
    got = _auroc(conn)
    assert len(np.unique(s)) < n or decimals == 12
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
    assert (got["rows"], got["positives"]) == (n, int(y.sum()))


def test_all_scores_tied_is_one_half():
    conn = _table([("yes", 0.5, "x"), ("no", 0.5, "x"), ("no", 0.5, "x")])
    assert _auroc(conn)["auc"] == 0.5


def test_labels_are_compared_as_text():
    conn = _table([(1, 0.9, 1), (0, 0.2, 0), (1, 0.1, 0), (0, 0.3, 0)])
    assert _auroc(conn, positive="1")["auc"] == pytest.approx(skm.roc_auc_score([1, 0, 1, 0], [0.9, 0.2, 0.1, 0.3]))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("yes", 0.2, "x"), ("yes", 0.3, "x")], "only one class"),
        ([("yes", None, "x"), ("no", 0.3, "x")], "1 NULL or NaN scores"),
        ([("yes", 1.5, "x"), ("no", 0.3, "x")], r"expected probabilities in \[0, 1\]"),
        ([(None, 0.5, "x"), ("no", 0.3, "x")], "NULL label"),
    ],
)
def test_auroc_refuses_bad_tables_with_a_clear_message(rows, message):
    with pytest.raises(m.EvaluationError, match=message):
        _auroc(_table(rows))


def test_binary_measures_equal_sklearn():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 2000)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0, 1)
    p[:3] = [0.0, 1.0, 0.0]  # clipped like scikit-learn
    pred = (p >= 0.5).astype(int)
    labels = np.where(y == 1, ">50K", "<=50K")
    preds = np.where(pred == 1, ">50K", "<=50K")
    conn = _table(list(zip(labels.tolist(), p.tolist(), preds.tolist(), strict=True)))
    row = conn.execute(m.binary_counts_query(D, COLS), m.binary_counts_parameters(">50K", ">50K")).fetchone()
    got = m.binary_measures(*row[:5])
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
    assert row[5] / row[0] == pytest.approx(skm.log_loss(y, p), abs=1e-9)


def test_multiclass_measures_equal_sklearn():
    rng = np.random.default_rng(3)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, 1500)
    pred = np.where(rng.random(1500) < 0.7, y, rng.choice(classes, 1500))
    proba = rng.dirichlet([1, 1, 1], 1500)
    conn = _table(list(zip(y.tolist(), [0.0] * 1500, pred.tolist(), strict=True)))
    confusion = {(a, p): n for a, p, n in conn.execute(m.confusion_query(D, COLS))}
    got = m.multiclass_measures(confusion)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert got["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-12)
    pairs = [
        (label, json.loads(json.dumps(dict(zip(classes, row, strict=True)))))
        for label, row in zip(y, proba, strict=True)
    ]
    assert m.multiclass_log_loss(pairs) == pytest.approx(skm.log_loss(y, proba, labels=classes), abs=1e-9)


def test_regression_measures_equal_sklearn():
    rng = np.random.default_rng(5)
    y = rng.normal(1e4, 50, 3000)
    p = y + rng.normal(0, 10, 3000)
    conn = _table(list(zip(y.tolist(), [0.0] * 3000, p.tolist(), strict=True)))
    got = m.regression_measures(*conn.execute(m.regression_query(D, COLS)).fetchone())
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), rel=1e-9)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-9)


def _streamed(y, s, chunk=1000, block=1 << 18):
    """AUROC and PR-AUC of StreamingAuroc: positives held, negatives in chunks of ``chunk``."""
    counts = m.StreamingAuroc(np.array(s[y == 1], dtype=np.float64))
    negatives = s[y == 0]
    for start in range(0, len(negatives), chunk):
        counts.add_negatives(negatives[start : start + chunk])
    return m.auroc_from_row(counts.row(block=block), table="t", score_column="p", positive_class="1")


@pytest.mark.parametrize("small", [1 << 16, 4], ids=["unsorted-chunks", "sorted-chunks"])
@pytest.mark.parametrize("share", [0.02, 0.3, 0.5, 0.97])
@pytest.mark.parametrize("decimals", [None, 1, 3])
def test_streaming_auroc_equals_sklearn(share, decimals, small, monkeypatch):
    monkeypatch.setattr(m.StreamingAuroc, "SMALL", small)
    rng = np.random.default_rng(int(share * 100) + (decimals or 0))
    n = 4000
    y = (rng.random(n) < share).astype(int)
    s = np.clip(rng.normal(0.45 + 0.2 * y, 0.2), 0, 1)
    if decimals is not None:
        s = np.round(s, decimals)
    got = _streamed(y, s, chunk=333, block=257)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert (got["rows"], got["positives"]) == (n, int(y.sum()))


@pytest.mark.parametrize(
    ("y", "s"),
    [
        ([1, 0], [0.9, 0.1]),
        ([1, 0], [0.1, 0.9]),
        ([1, 0], [0.5, 0.5]),
        ([1, 1, 0, 0, 0], [0.5, 0.5, 0.5, 0.5, 0.5]),  # all tied: one half
        ([1, 1, 1, 0], [0.2, 0.2, 0.7, 0.2]),  # ties across the classes
        ([0, 1, 0, 1, 0, 1], [0.0, 1.0, 1.0, 0.0, 0.3, 0.3]),
    ],
)
@pytest.mark.parametrize("small", [1 << 16, 0])
def test_streaming_auroc_tiny_tables(y, s, small, monkeypatch):
    monkeypatch.setattr(m.StreamingAuroc, "SMALL", small)
    y, s = np.array(y), np.array(s, dtype=np.float64)
    for chunk in (1, 2, 100):
        got = _streamed(y, s, chunk=chunk, block=1)
        assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
        assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_streaming_auroc_agrees_with_the_sql_query():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 3000)
    s = np.round(rng.random(3000), 2)
    conn = _table([("yes" if a else "no", float(b), "x") for a, b in zip(y, s, strict=True)])
    sql = _auroc(conn)
    streamed = _streamed(y, s)
    assert streamed["auc"] == pytest.approx(sql["auc"], abs=1e-12)
    assert streamed["pr_auc"] == pytest.approx(sql["pr_auc"], abs=1e-12)


@pytest.mark.parametrize(
    ("positive", "integer_labels", "where", "parameter"),
    [
        ("1", True, '"label" = CAST(? AS BIGINT)', 1),
        ("-12", True, '"label" = CAST(? AS BIGINT)', -12),
        ("01", True, 'CAST("label" AS VARCHAR) = ?', "01"),  # no integer's text: compared as text
        ("1.0", True, 'CAST("label" AS VARCHAR) = ?', "1.0"),
        (" 1", True, 'CAST("label" AS VARCHAR) = ?', " 1"),
        ("1", False, 'CAST("label" AS VARCHAR) = ?', "1"),
    ],
)
def test_stream_queries_compare_integer_labels_as_integers_only_when_the_same(
    positive, integer_labels, where, parameter
):
    q = m.auroc_stream_queries(D, COLS, positive, integer_labels=integer_labels)
    assert (q.positive_where, q.parameter) == (where, parameter)
    assert q.negative_where == f"({where}) IS NOT TRUE"


def test_stream_queries_split_the_rows_and_read_bad_scores_as_null():
    conn = _table(
        [("yes", 0.9, "x"), ("no", 0.2, "x"), (None, 0.4, "x"), ("no", "high", "x"), ("yes", None, "x"), (1, 0.5, "x")]
    )
    q = m.auroc_stream_queries(D, COLS, "yes")
    pos = conn.execute(f"SELECT {q.positive_value} FROM t WHERE {q.positive_where}", [q.parameter]).fetchall()
    neg = conn.execute(f"SELECT {q.negative_value} FROM t WHERE {q.negative_where}", [q.parameter]).fetchall()
    assert sorted(pos, key=str) == [(0.9,), (None,)]
    assert sorted(neg, key=str) == [(0.2,), (0.5,), (None,), (None,)]  # NULL label and text score read as NULL


def test_ties_sample_counts_distinct_scores_of_the_first_rows():
    conn = _table([("yes", 0.5, "x"), ("no", 0.5, "x"), ("no", 0.25, "x"), ("no", None, "x")])
    assert conn.execute(m.ties_sample_query(D, COLS, rows=3)).fetchone() == (2, 3)


@pytest.mark.parametrize("parts", [1, 2, 7])
@pytest.mark.parametrize("decimals", [1, 3, None])
def test_groups_merged_from_parts_give_the_one_query_row(parts, decimals):
    rng = np.random.default_rng(parts * 10 + (decimals or 0))
    n = 3000
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.45 + 0.2 * y, 0.2), 0, 1)
    s = np.round(s, decimals) if decimals is not None else s
    rows = [("yes" if a else "no", float(b), "x") for a, b in zip(y, s, strict=True)]
    # Integer scores group with equal floats, and NULL scores and labels are counted, not ranked.
    rows[:4] = [("yes", 1, "x"), ("no", 1.0, "x"), ("no", None, "x"), (None, 0.5, "x")]
    conn = _table(rows)
    whole = conn.execute(m.auroc_query(D, COLS), ("yes",)).fetchone()
    groups = m.AurocGroups()
    bounds = np.linspace(1, n + 1, parts + 1).astype(int)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        groups.add(conn.execute(m.auroc_groups_query(D, COLS, "rowid >= ? AND rowid < ?"), ("yes", int(lo), int(hi))))
    got = groups.row()
    assert got[:8] == tuple(whole[:8])
    assert got[8] == pytest.approx(whole[8], rel=1e-12)
    assert got[1:3] == (1, 1)


def test_groups_without_a_cast_keep_text_scores_as_text():
    conn = _table([("yes", 0.5, "x"), ("no", "high", "x")])
    cast = conn.execute(m.auroc_groups_query(D, COLS), ("yes",)).fetchall()
    raw = conn.execute(m.auroc_groups_query(D, COLS, cast=False), ("yes",)).fetchall()
    assert sorted(r[0] for r in cast) == [0.0, 0.5]  # SQLite's cast reads the text as 0.0
    assert set(raw) == {(0.5, 1, 1, 0), ("high", 0, 1, 0)}


def test_no_groups_is_a_row_without_rows():
    assert m.AurocGroups().row() == (0, 0, 0, None, None, 0, 0, 0, 0.0)
