"""The AUROC methods against scikit-learn on every database: each path forced, and the bad-input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from airflow_automl_provider.hooks.tracking import TrackingHook
from airflow_automl_provider.metrics import EvaluationError
from airflow_automl_provider.operators import evaluation
from airflow_automl_provider.operators.evaluation import evaluate_auroc

pytestmark = pytest.mark.integration


def _scores(seed: int, n: int, share: float, decimals: int | None):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < share).astype(int)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    return y, (np.round(s, decimals) if decimals is not None else s)


@pytest.fixture
def scored_tables(db):
    """Prediction tables of text and integer labels, distinct and tied scores, minority and majority positives."""
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    tables = {}
    for name, seed, share, decimals in [("full", 1, 0.3, None), ("tied", 2, 0.3, 2), ("majority", 3, 0.8, 3)]:
        y, s = _scores(seed, 5000, share, decimals)
        frame = pd.DataFrame({"label": np.where(y == 1, " >50K", " <=50K"), "code": y, "p": s})
        hook.replace_with_frame(f"auc_{name}", frame, schema)
        tables[name] = (y, s)
    return conn_id, schema, hook, tables


@pytest.mark.parametrize("method", ["auto", "sql", "stream"])
@pytest.mark.parametrize("table", ["full", "tied", "majority"])
@pytest.mark.parametrize(("label", "positive"), [("label", " >50K"), ("code", "1"), ("code", 1)])
def test_every_method_equals_sklearn(scored_tables, method, table, label, positive):
    conn_id, schema, hook, tables = scored_tables
    y, s = tables[table]
    got = evaluate_auroc(hook, f"auc_{table}", label, positive, "p", schema, method=method)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
    assert (got["rows"], got["positives"]) == (len(y), int(y.sum()))


def test_auto_streams_distinct_scores_and_groups_tied_ones(scored_tables):
    conn_id, schema, hook, _ = scored_tables
    cols = evaluation._columns(hook, "auc_full", schema, target="label", score="p")
    tied = evaluation._columns(hook, "auc_tied", schema, target="label", score="p")
    # SQLite streams both (its GROUP BY sorts every row); MySQL groups both; PostgreSQL groups ties.
    expected = {"sqlite": ("stream", "stream"), "mysql": ("sql", "sql"), "postgresql": ("stream", "sql")}
    got = (evaluation._auroc_method(hook, cols), evaluation._auroc_method(hook, tied))
    assert got == expected[hook.dialect.name]


def test_too_many_positives_to_hold_fall_back_to_sql(scored_tables, monkeypatch):
    conn_id, schema, hook, tables = scored_tables
    monkeypatch.setattr(evaluation, "MAX_STREAM_POSITIVES", 100)
    y, s = tables["full"]
    got = evaluate_auroc(hook, "auc_full", "label", " >50K", "p", schema, method="stream")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)


def test_stream_float_column_reads_every_value_across_chunks(scored_tables):
    conn_id, schema, hook, tables = scored_tables
    y, s = tables["full"]
    d = hook.dialect
    conn = hook.db_hook.get_conn()
    try:
        chunks = list(
            hook.stream_float_column(
                conn, d.table("auc_full", schema), d.quote("p"), f"{d.quote('code')} = {d.placeholder}", [1], 300
            )
        )
    finally:
        conn.close()
    assert len(chunks) > 1
    assert np.array_equal(np.sort(np.concatenate(chunks)), np.sort(s[y == 1]))


def test_unknown_method_is_refused(scored_tables):
    conn_id, schema, hook, _ = scored_tables
    with pytest.raises(ValueError, match=r"Unknown AUROC method 'fast': expected one of \['auto', 'sql', 'stream'\]"):
        evaluate_auroc(hook, "auc_full", "label", " >50K", "p", schema, method="fast")


@pytest.mark.parametrize("method", ["stream", "auto"])
@pytest.mark.parametrize(
    ("table", "positive", "error", "message"),
    [
        ("scores_ok", ">50K", EvaluationError, r"positive_class '>50K' is not among the labels .*\['a', 'b'\]"),
        ("scores_text", "b", TypeError, "Column 'p' of table .*scores_text.* is not numeric"),
        ("scores_null", "b", EvaluationError, "1 NULL or NaN scores out of 4 rows"),
        ("scores_null_neg", "b", EvaluationError, "1 NULL or NaN scores out of 4 rows"),
        ("scores_range", "b", EvaluationError, r"scores from -0.2 to 1.7: expected probabilities in \[0, 1\]"),
        ("scores_range_neg", "b", EvaluationError, r"scores from -0.1 to 0.9: expected probabilities in \[0, 1\]"),
        ("scores_empty", "b", EvaluationError, "has no rows to evaluate"),
        ("scores_one_class", "b", EvaluationError, "only one class is present"),
        ("scores_null_label", "b", EvaluationError, "1 rows with a NULL label"),
    ],
)
def test_the_streaming_path_raises_the_same_errors(bad_scores, method, table, positive, error, message):
    conn_id, schema, hook = bad_scores
    with pytest.raises(error, match=message):
        evaluate_auroc(hook, table, "label", positive, "p", schema, method=method)


def test_a_nan_score_is_refused_by_the_streaming_path_on_postgres(nan_scores):
    hook, schema = nan_scores
    with pytest.raises(EvaluationError, match="scores from 0.1 to nan"):
        evaluate_auroc(hook, "scores_nan", "label", "b", "p", schema, method="stream")


def test_a_view_streams_through_a_cursor_on_postgres(postgres_schema):
    hook = TrackingHook(conn_id="automl_pg")
    y, s = _scores(4, 2000, 0.4, None)
    hook.replace_with_frame("st_base", pd.DataFrame({"label": y, "p": s}), postgres_schema)
    conn = hook.db_hook.get_conn()
    d = hook.dialect
    conn.cursor().execute(
        f"CREATE VIEW {d.table('st_view', postgres_schema)} AS SELECT * FROM {d.table('st_base', postgres_schema)}"
    )
    conn.commit()
    conn.close()
    got = evaluate_auroc(hook, "st_view", "label", "1", "p", postgres_schema, method="stream")
    assert got["auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
