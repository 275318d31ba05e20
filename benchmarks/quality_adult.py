"""
Model quality on UCI Adult: the experiment DAG's path against a plain HistGradientBoostingClassifier.

The DAG's path is its operators, run in order on a SQLite database: train (AutoGluon, the DAG's
presets) on ``adult.data``, predict ``adult.test`` table to table, evaluate in SQL. Prints a table
and writes ``benchmarks/results/quality_adult.json`` (cited by ``docs/benchmarks.md``).

    .venv/bin/python benchmarks/quality_adult.py [--limits 60 180]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADULT = Path(os.environ.get("AUTOML_SHARED_DIR", ROOT.parent / "shared")) / "datasets" / "adult"
RESULTS = ROOT / "benchmarks" / "results" / "quality_adult.json"


def run_dag_path(train, test, time_limit: int, presets: str, workdir: Path) -> dict:
    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.operators.autogluon import AutoGluonPredictOperator, AutoGluonTrainOperator
    from airflow_automl_provider.operators.evaluation import EvaluateModelOperator

    conn_id = f"bench_{presets}_{time_limit}"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = f"sqlite://{workdir}/{conn_id}.db"
    os.environ["AIRFLOW__AUTOML__ALLOWED_CONN_IDS"] = f"automl_default,{conn_id}"
    store = f"file://{workdir}/models"
    hook = TrackingHook(conn_id=conn_id)
    hook.replace_with_frame("gluon_train", train)
    hook.replace_with_frame("gluon_test", test)
    started = time.monotonic()
    trained = AutoGluonTrainOperator(
        task_id="train",
        conn_id=conn_id,
        input_table="gluon_train",
        target_column="class",
        model_name=f"adult_{presets}_{time_limit}",
        time_limit=time_limit,
        presets=presets,
        export_leaderboard="automl_leaderboard",
        export_feature_importance="automl_feature_importance",
        model_store=store,
    ).execute(context={})
    train_seconds = time.monotonic() - started
    predicted = AutoGluonPredictOperator(
        task_id="predict",
        conn_id=conn_id,
        model_name=trained["model_name"],
        input_table="gluon_test",
        output_table="gluon_test_predicted",
        model_store=store,
    ).execute(context={})
    measures = EvaluateModelOperator(
        task_id="evaluation",
        conn_id=conn_id,
        table="gluon_test_predicted",
        target_column="class",
        positive_class=trained["positive_class"],
    ).execute(context={})
    return {
        "way": f"automl_experiment path, {presets}, limit {time_limit} s",
        "time_limit": time_limit,
        "presets": presets,
        "fit_seconds": trained["fit_seconds"],
        "train_task_seconds": round(train_seconds, 1),
        "fit_over_limit": round(trained["fit_seconds"] / time_limit - 1, 3),
        "best_model": trained["best_model"],
        "score_val": trained["score_val"],
        "predict_seconds": predicted["seconds"],
        "test_auroc": measures["auroc"],
        "test_accuracy": measures["accuracy"],
    }


def run_hgb(train, test) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import accuracy_score, roc_auc_score

    cats = [c for c in train.columns if train[c].dtype == object and c != "class"]
    x_train, x_test = train.drop(columns="class"), test.drop(columns="class")
    for c in cats:
        x_train[c] = x_train[c].astype("category")
        x_test[c] = x_test[c].astype(x_train[c].dtype)
    y_train, y_test = train["class"] == ">50K", test["class"] == ">50K"
    started = time.monotonic()
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(x_train, y_train)
    fit_seconds = time.monotonic() - started
    proba = model.predict_proba(x_test)[:, 1]
    return {
        "way": "HistGradientBoostingClassifier (defaults)",
        "fit_seconds": round(fit_seconds, 2),
        "test_auroc": roc_auc_score(y_test, proba),
        "test_accuracy": accuracy_score(y_test, proba >= 0.5),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=int, nargs="+", default=[60, 180])
    # medium_quality is the DAG's default; best_quality (bagging, stacking) is where more time pays.
    parser.add_argument("--presets", nargs="+", default=["medium_quality", "best_quality"])
    args = parser.parse_args()
    from automl_demo import load_uci_adult

    train, test = load_uci_adult(str(ADULT / "adult.data")), load_uci_adult(str(ADULT / "adult.test"))
    rows = [run_hgb(train, test)]
    with tempfile.TemporaryDirectory(prefix="automl_bench_") as tmp:
        os.environ.setdefault("AIRFLOW_HOME", tmp)
        for presets in args.presets:
            for limit in args.limits:
                rows.append(run_dag_path(train, test, limit, presets, Path(tmp)))
    print(f"\nUCI Adult: train {len(train)} rows, test {len(test)} rows; {os.cpu_count()} cores")
    print(f"{'way':<52} {'fit s':>8} {'test AUROC':>11} {'accuracy':>9}")
    for r in rows:
        print(f"{r['way']:<52} {r['fit_seconds']:>8.1f} {r['test_auroc']:>11.4f} {r['test_accuracy']:>9.4f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "make benchmark-quality  (.venv/bin/python benchmarks/quality_adult.py)",
                "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
                "train_rows": len(train),
                "test_rows": len(test),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
