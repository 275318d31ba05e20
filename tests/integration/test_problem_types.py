"""Train, predict and evaluate beyond binary: multiclass and regression targets, with real AutoGluon fits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from airflow_automl_provider.hooks.tracking import TrackingHook
from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator, AutoGluonTrainOperator
from airflow_automl_provider.operators.evaluation import EvaluateModelOperator

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("target", "given", "problem_type"),
    # AutoGluon infers multiclass for a text label; integer hours would be inferred multiclass too, so say it.
    [("relationship", None, "multiclass"), ("hours_per_week", "regression", "regression")],
)
def test_train_predict_evaluate(target, given, problem_type, adult_frames, sqlite_db, model_store):
    train, test = adult_frames
    hook = TrackingHook(conn_id="automl_sqlite")
    hook.replace_with_frame(f"train_{target}", train.head(3000))
    hook.replace_with_frame(f"test_{target}", test.head(1500))
    trained = AutoGluonTrainOperator(
        task_id="train",
        conn_id="automl_sqlite",
        input_table=f"train_{target}",
        target_column=target,
        model_name=f"model_{target}",
        time_limit=60,
        problem_type=given,
        hyperparameters={"GBM": {}},
        ignore_columns="class",
        export_leaderboard=f"leaderboard_{target}",
        model_store=model_store,
    ).execute(context={})
    assert trained["problem_type"] == problem_type
    assert "class" not in trained["features"] and target not in trained["features"]
    AutoGluonPredictOperator(
        task_id="predict",
        conn_id="automl_sqlite",
        model_name=trained["model_name"],
        input_table=f"test_{target}",
        output_table=f"pred_{target}",
        chunk_rows=400,
        model_store=model_store,
    ).execute(context={})
    out = hook.read_frame(f"pred_{target}")
    assert len(out) == 1500
    measures = EvaluateModelOperator(
        task_id="evaluate",
        conn_id="automl_sqlite",
        table=f"pred_{target}",
        target_column=target,
        problem_type=problem_type,
    ).execute(context={})
    y, pred = out[target], out[f"predicted_{target}"]
    if problem_type == "multiclass":
        proba = [json.loads(p) for p in out["predicted_probabilities"]]
        labels = sorted(proba[0])
        matrix = np.array([[p[c] for c in labels] for p in proba])
        assert measures["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
        assert measures["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"), abs=1e-12)
        assert measures["log_loss"] == pytest.approx(skm.log_loss(y, matrix, labels=labels), abs=1e-9)
        assert np.allclose(out["predicted_proba"], matrix.max(axis=1))
        assert measures["accuracy"] > 0.6
    else:
        assert "predicted_proba" not in out.columns
        assert measures["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, pred)), rel=1e-9)
        assert measures["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-9)
        assert measures["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-9)
        assert measures["r2"] > 0.1
