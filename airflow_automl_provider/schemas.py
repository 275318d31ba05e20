"""The tables this package writes, defined once for every database (see :mod:`.sql` for the types)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSchema:
    """A tracking table: its columns (name, abstract type) and its natural key for retry-safe upserts."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


# The standard measures that get a column of their own in ``automl_eval_results``; any other measure
# given to the recorder is kept in ``metrics_json``.
EVAL_MEASURES: tuple[str, ...] = (
    "auroc",
    "log_loss",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "pr_auc",
    "macro_f1",
    "rmse",
    "mae",
    "r2",
)

EXPERIMENTS = TableSchema(
    name="automl_experiments",
    columns=(
        ("task_attempt_id", "key"),
        ("session_time", "timestamp"),
        ("user_id", "text"),
        ("user_email", "text"),
        ("model_name", "key"),
        ("shared_model", "text"),
        ("notebook_url", "text"),
        ("dag_id", "key"),
        ("run_id", "key"),
        ("try_number", "integer"),
        ("logical_date", "timestamp"),
        ("problem_type", "text"),
        ("eval_metric", "text"),
        ("score_val", "float"),
        ("model_uri", "text"),
        # The fit, for comparing experiments (added later: create_tables adds them to older tables).
        ("best_model", "text"),
        ("num_rows_train", "integer"),
        ("time_limit", "float"),
        ("presets", "text"),
        ("input_table", "text"),
        ("params_json", "text"),
    ),
    # One experiment per model per DAG run: a retried or cleared task replaces its row.
    key=("dag_id", "run_id", "model_name"),
)

EVAL_RESULTS = TableSchema(
    name="automl_eval_results",
    columns=(
        ("session_time", "timestamp"),
        ("model_name", "key"),
        ("test_table", "key"),
        *((measure, "float") for measure in EVAL_MEASURES),
        ("num_rows", "integer"),
        ("positives", "integer"),
        # "ok", or "insufficient_data" for a batch too small to judge (recorded, never alerted on).
        ("status", "text"),
        ("metrics_json", "text"),
        ("dag_id", "key"),
        ("run_id", "key"),
    ),
    key=("dag_id", "run_id", "model_name", "test_table"),
)

DRIFT_RESULTS = TableSchema(
    name="automl_drift_results",
    columns=(
        ("session_time", "timestamp"),
        ("model_name", "key"),
        ("test_table", "key"),
        ("feature", "key"),
        ("kind", "text"),
        ("statistic", "text"),
        ("value", "float"),
        ("threshold", "float"),
        ("drifted", "boolean"),
        ("psi", "float"),
        ("test", "text"),
        ("p_value", "float"),
        # The test's family level; Evidently's distance beside the decision; every test of the feature.
        ("alpha", "float"),
        ("distance", "float"),
        ("tests_json", "text"),
        ("reference_rows", "integer"),
        ("batch_rows", "integer"),
        ("dag_id", "key"),
        ("run_id", "key"),
    ),
    key=("dag_id", "run_id", "model_name", "test_table", "feature"),
)

# Which model wrote each prediction table, kept in the prediction table's own schema: an evaluation
# checks that it scores the predictions of the model it records them under.
PREDICTIONS = TableSchema(
    name="automl_predictions",
    columns=(
        ("output_table", "key"),
        ("input_table", "text"),
        ("model_name", "text"),
        ("model_version", "text"),
        ("shared_model", "text"),
        ("positive_class", "text"),
        ("num_rows", "integer"),
        ("dag_id", "text"),
        ("run_id", "text"),
        ("written_at", "timestamp"),
    ),
    # The output table's name as the database resolves it (case folded where it ignores case).
    key=("output_table",),
)

TRACKING_TABLES: tuple[TableSchema, ...] = (EXPERIMENTS, EVAL_RESULTS, DRIFT_RESULTS, PREDICTIONS)
