"""Bad input: a clear error that names the table, column or value and what was expected; nothing written.

Each case is listed in docs/reliability.md with its test.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from airflow_automl_provider.evaluation.measures import EvaluationError
from airflow_automl_provider.hooks.tracking import MissingColumnError, TableNotFoundError, TrackingHook
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator, AutoGluonTrainOperator
from airflow_automl_provider.operators.evaluation import AUROCEvaluationOperator
from airflow_automl_provider.sql import InvalidIdentifierError

pytestmark = pytest.mark.integration


def _train(conn_id, schema, store, **kwargs):
    args = {
        "task_id": "train",
        "conn_id": conn_id,
        "input_table": "bad_train",
        "input_schema": schema,
        "output_schema": schema,
        "target_column": "y",
        "model_name": "bad_model",
        "time_limit": 30,
        "hyperparameters": {"GBM": {}},
        "export_leaderboard": "bad_leaderboard",
        "model_store": store,
        **kwargs,
    }
    return AutoGluonTrainOperator(**args)


@pytest.fixture
def bad_db(db, tmp_path):
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    frame = pd.DataFrame({"a": range(40), "b": ["x", "y"] * 20, "y": ["yes", "no"] * 20})
    hook.replace_with_frame("bad_train", frame, schema)
    hook.replace_with_frame("one_class", frame.assign(y="yes"), schema)
    hook.replace_with_frame("empty_train", frame.head(0), schema)
    store = "file://" + str(tmp_path / "store")
    return conn_id, schema, hook, store, hook.table_names(schema)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"input_table": "no_such_table"}, TableNotFoundError, "no_such_table.* does not exist"),
        ({"target_column": "label"}, MissingColumnError, r"\['label'\] not found .*'a', 'b', 'y'"),
        ({"input_table": "one_class"}, ValueError, "single class 'yes'.*at least two classes"),
        ({"input_table": "empty_train"}, ValueError, "empty_train.* has no rows"),
        ({"time_limit": 0}, ValueError, "Invalid time_limit 0: expected a positive number"),
        ({"time_limit": -5}, ValueError, "Invalid time_limit -5"),
        ({"problem_type": "clustering"}, ValueError, "Unknown problem_type 'clustering': expected one of"),
        ({"eval_metric": "auc_typo"}, ValueError, "Unknown eval_metric 'auc_typo': expected one of"),
        ({"model_name": "../../etc/passwd"}, ValueError, r"Invalid model name '\.\./\.\./etc/passwd'"),
        ({"input_table": 'bad_train"; DROP TABLE bad_train; --'}, InvalidIdentifierError, "Invalid table name"),
        ({"input_schema": "x y"}, InvalidIdentifierError, "Invalid schema name 'x y'"),
        ({"export_leaderboard": "lb;drop"}, InvalidIdentifierError, "Invalid table name 'lb;drop'"),
        ({"ignore_columns": "a, b"}, ValueError, r"ignore_columns \['a', 'b'\] leaves no feature .*bad_train"),
        ({"check_input_tables": ["no_test_table"]}, TableNotFoundError, "no_test_table.* does not exist"),
        ({"check_output_tables": ["t" * 60 + "_predicted"]}, InvalidIdentifierError, "at most 63 characters"),
    ],
)
def test_train_refuses_bad_input_and_writes_nothing(bad_db, kwargs, error, message):
    conn_id, schema, hook, store, before = bad_db
    with pytest.raises(error, match=message):
        _train(conn_id, schema, store, **kwargs).execute(context={})
    assert hook.table_names(schema) == before  # no export table, no half-written table
    assert not (Path(store[len("file://") :]) / "bad_model").exists()  # no model saved
    assert "bad_train" in before  # the injection attempt dropped nothing


def _auroc(conn_id, schema, table, positive="b"):
    return AUROCEvaluationOperator(
        task_id="auc",
        conn_id=conn_id,
        schema=schema,
        table=table,
        target_column="label",
        positive_class=positive,
        score_column="p",
    ).execute(context={})


@pytest.mark.parametrize(
    ("table", "positive", "error", "message"),
    [
        ("scores_ok", ">50K", EvaluationError, r"positive_class '>50K' is not among the labels .*\['a', 'b'\]"),
        ("scores_text", "b", TypeError, "Column 'p' of table .*scores_text.* is not numeric"),
        ("scores_null", "b", EvaluationError, "1 NULL or NaN scores out of 4 rows"),
        ("scores_range", "b", EvaluationError, r"scores from -0.2 to 1.7: expected probabilities in \[0, 1\]"),
        ("scores_empty", "b", EvaluationError, "has no rows to evaluate"),
        ("no_table", "b", TableNotFoundError, "no_table.* does not exist"),
    ],
)
def test_evaluation_refuses_bad_scores_and_labels(bad_scores, table, positive, error, message):
    conn_id, schema, _ = bad_scores
    with pytest.raises(error, match=message):
        _auroc(conn_id, schema, table, positive)


def test_a_nan_score_is_refused_on_postgres(nan_scores):
    """Only PostgreSQL keeps NaN apart from NULL (the others store NaN as NULL, tested above)."""
    _, schema = nan_scores
    with pytest.raises(EvaluationError, match="scores from 0.1 to nan"):
        _auroc("automl_pg", schema, "scores_nan")


def test_the_good_table_evaluates(bad_scores):
    conn_id, schema, _ = bad_scores
    assert math.isclose(_auroc(conn_id, schema, "scores_ok")["auc"], 1.0)


def test_unseen_categories_at_prediction_work(db, adult_model, adult_frames, model_store):
    conn_id, schema = db
    _, test = adult_frames
    frame = test.head(50).copy()
    frame.loc[:9, "workclass"] = "Martian-colony"
    frame.loc[10:19, "native_country"] = "Atlantis"
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("unseen", frame, schema)
    result = AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name=adult_model["model_name"],
        input_table="unseen",
        output_table="unseen_pred",
        input_schema=schema,
        output_schema=schema,
        model_store=model_store,
    ).execute(context={})
    assert result["rows"] == 50
    out = hook.read_frame("unseen_pred", schema)
    assert out["predicted_proba"].between(0, 1).all()


def test_unknown_models_are_named(db, model_store):
    conn_id, schema = db
    from airflow_automl_provider.hooks.model_store import ModelNotFoundError

    op = AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name="never_trained",
        input_table="x",
        output_table="y",
        model_store=model_store,
    )
    with pytest.raises(ModelNotFoundError, match="No model named 'never_trained'"):
        op.execute(context={})


def test_an_output_schema_that_does_not_exist_is_named(db, adult_model, adult_frames, model_store):
    """Not 'table does not exist': the schema is what is missing, and nothing is written."""
    from airflow_automl_provider.hooks.tracking import SchemaNotFoundError

    conn_id, schema = db
    _, test = adult_frames
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("schema_in", test.head(20), schema)
    missing = "main_nope" if hook.dialect.name == "sqlite" else "automl_no_such_schema"
    with pytest.raises(SchemaNotFoundError, match=f"'{missing}' does not exist on connection '{conn_id}'"):
        hook.create_tables(missing)
    with pytest.raises(SchemaNotFoundError, match=f"'{missing}' does not exist on connection '{conn_id}'"):
        AutoGluonPredictOperator(
            task_id="predict",
            conn_id=conn_id,
            model_name=adult_model["model_name"],
            input_table="schema_in",
            input_schema=schema,
            output_table="schema_out",
            output_schema=missing,
            model_store=model_store,
        ).execute(context={})
    assert "schema_out" not in hook.table_names(schema)


def _labels_table(hook, schema, name: str, labels, predicted, scores) -> None:
    frame = pd.DataFrame({"y": labels, "predicted_y": predicted, "predicted_proba": scores})
    hook.replace_with_frame(name, frame, schema)


def _measures(conn_id, schema, table, positive, score_class=None):
    from airflow_automl_provider.operators.evaluation import EvaluateModelOperator

    return EvaluateModelOperator(
        task_id="evaluation",
        conn_id=conn_id,
        schema=schema,
        table=table,
        target_column="y",
        positive_class=positive,
        score_class=score_class,
    ).execute(context={})


def test_labels_compare_as_values_of_the_training_labels_type(db):
    """0/1 labels stored as REAL (1.0), and booleans, match the model's positive class '1' / 'True'."""
    from sklearn import metrics as skm

    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    y = [0, 1, 1, 0, 1, 0, 0, 1]
    p = [0.1, 0.8, 0.4, 0.3, 0.9, 0.6, 0.2, 0.7]
    predicted = [int(s >= 0.5) for s in p]
    expected = skm.roc_auc_score(y, p)
    _labels_table(hook, schema, "real_labels", [float(v) for v in y], predicted, p)
    got = _measures(conn_id, schema, "real_labels", "1", score_class="1")
    assert got["auroc"] == pytest.approx(expected) and got["positives"] == 4
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert got["precision"] == pytest.approx(skm.precision_score(y, predicted))
    _labels_table(hook, schema, "bool_labels", [bool(v) for v in y], [bool(v) for v in predicted], p)
    got = _measures(conn_id, schema, "bool_labels", "True", score_class="True")
    assert got["auroc"] == pytest.approx(expected) and got["positives"] == 4
    assert got["recall"] == pytest.approx(skm.recall_score(y, predicted))


def test_the_other_class_as_positive_class_is_refused_not_inverted(db):
    """positive_class '0' of a model that scores '1' would record 1 - AUROC: refused, naming both."""
    conn_id, schema = db
    hook = TrackingHook(conn_id=conn_id)
    _labels_table(hook, schema, "inv_labels", [0, 1, 1, 0], [0, 1, 0, 0], [0.1, 0.8, 0.4, 0.3])
    with pytest.raises(EvaluationError, match=r"positive_class '0' is not the class .*'predicted_proba' holds \('1'"):
        _measures(conn_id, schema, "inv_labels", "0", score_class="1")
    with pytest.raises(EvaluationError, match=r"positive_class '2' is not among the labels .*\['0', '1'\]"):
        _measures(conn_id, schema, "inv_labels", "2")
