"""Evaluate a prediction table inside the database: AUROC, and the standard measures of each problem type."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.links import MonitoringLink
from airflow_automl_provider.operators.base import AutoMLBaseOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.sql import TableRef

# The measures, the AUROC strategies and the hook are imported when a task runs, so that DAG files using
# these operators parse without loading them (docs/benchmarks.md, "DAG parsing").
__all__ = ["AUROC_METHODS", "AUROCEvaluationOperator", "EvaluateModelOperator", "check_score_class", "evaluate_auroc"]  # noqa: F822 (__getattr__)
_FROM_AUROC = ("AUROC_METHODS", "check_score_class", "evaluate_auroc")


def __getattr__(name: str) -> Any:
    """The AUROC strategies' names, which live in :mod:`..evaluation.auroc`, importable from here as before."""
    if name in _FROM_AUROC:
        from airflow_automl_provider.evaluation import auroc

        return getattr(auroc, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AUROCEvaluationOperator(AutoMLBaseOperator):
    """
    AUROC of a prediction table, without loading it: one grouped SQL query (on SQLite, run over
    ranges of the table in parallel), or two streaming passes in bounded memory where those are
    faster (see :func:`evaluate_auroc`).

    Ties count one half (Mann-Whitney), so the result equals ``sklearn.metrics.roc_auc_score``.
    Returns ``{"auc": ..., "rows": ..., "positives": ..., "pr_auc": ...}``.

    :param conn_id: common-sql connection of the table. (templated)
    :param table: prediction table, ``table`` or ``schema.table``. (templated)
    :param target_column: the true label column. (templated)
    :param positive_class: the label value that counts as positive, compared as text. (templated)
    :param score_column: probability of the positive class. (templated)
    :param schema: schema of ``table`` when not qualified. (templated)
    :param score_class: the class whose probability ``score_column`` holds (the model's positive class);
        a different ``positive_class`` is refused. Empty: not checked. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "table",
        "target_column",
        "positive_class",
        "score_column",
        "schema",
        "score_class",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        table: str,
        target_column: str,
        positive_class: Any,
        score_column: str = "predicted_proba",
        schema: str | None = None,
        score_class: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.target_column = target_column
        self.positive_class = positive_class
        self.score_column = score_column
        self.schema = schema
        self.score_class = score_class

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.evaluation.auroc import check_score_class, evaluate_auroc

        check_score_class(self.positive_class, self.score_class, self.score_column)
        hook = self.hook
        result = evaluate_auroc(
            hook, self.table, self.target_column, self.positive_class, self.score_column, self.schema or None
        )
        self.log.info("AUROC of %s: %.6f over %d rows", self.table, result["auc"], result["rows"])
        return result


class EvaluateModelOperator(AutoMLBaseOperator):
    """
    The standard measures of a prediction table, in SQL where the database can.

    - binary: ``auroc``, ``pr_auc``, ``log_loss``, ``accuracy``, ``precision``, ``recall``, ``f1``
    - multiclass: ``accuracy``, ``macro_f1``, ``log_loss`` (the last read from ``predicted_probabilities``)
    - regression: ``rmse``, ``mae``, ``r2``

    :param conn_id: common-sql connection of the table. (templated)
    :param table: prediction table. (templated)
    :param target_column: the true label column. (templated)
    :param problem_type: ``binary``, ``multiclass`` or ``regression``. (templated)
    :param positive_class: positive label (binary). (templated)
    :param prediction_column: predicted label; default ``predicted_<target_column>``. (templated)
    :param score_column: probability of the positive class (binary). (templated)
    :param probabilities_column: JSON class -> probability (multiclass log loss). (templated)
    :param schema: schema of ``table`` when not qualified. (templated)
    :param model_name: the model whose predictions these are; passed on in the XCom, so that the
        task's "AutoML monitoring" link opens that model's page. (templated)
    :param score_class: the class whose probability ``score_column`` holds (the model's positive class);
        a different ``positive_class`` is refused. Empty: not checked. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "table",
        "target_column",
        "problem_type",
        "positive_class",
        "prediction_column",
        "score_column",
        "probabilities_column",
        "schema",
        "model_name",
        "score_class",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        table: str,
        target_column: str,
        problem_type: str = "binary",
        positive_class: Any = None,
        prediction_column: str | None = None,
        score_column: str = "predicted_proba",
        probabilities_column: str = "predicted_probabilities",
        schema: str | None = None,
        model_name: str | None = None,
        score_class: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.target_column = target_column
        self.problem_type = problem_type
        self.positive_class = positive_class
        self.prediction_column = prediction_column
        self.score_column = score_column
        self.probabilities_column = probabilities_column
        self.schema = schema
        self.model_name = model_name
        self.score_class = score_class

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.evaluation import measures as m
        from airflow_automl_provider.evaluation.auroc import resolve_columns
        from airflow_automl_provider.sql import TableRef

        hook = self.hook
        table = TableRef.parse(self.table, self.schema or None)
        pred = self.prediction_column or f"predicted_{self.target_column}"
        self._check_writer(hook, table)
        if self.problem_type == "binary":
            result = self._binary(hook, table, pred)
        elif self.problem_type == "multiclass":
            result = self._multiclass(hook, table, pred)
        elif self.problem_type in ("regression", "quantile"):
            cols = resolve_columns(hook, table, target=self.target_column, prediction=pred)
            (row,) = hook.query(m.regression_query(hook.dialect, cols))
            n, sse, sae, sst = row
            result = {**m.regression_measures(int(n or 0), float(sse or 0), float(sae or 0), float(sst or 0))}
            result["rows"] = int(n)
        else:
            raise ValueError(f"Unknown problem_type {self.problem_type!r}: expected binary, multiclass or regression.")
        if self.model_name:
            result["model_name"] = self.model_name
        self.log.info("Measures of %s: %s", self.table, result)
        return result

    def _check_writer(self, hook: TrackingHook, table: TableRef) -> None:
        """Refuse to record another model's predictions under ``model_name`` (``automl_predictions`` says who wrote them)."""
        from airflow_automl_provider.evaluation.measures import EvaluationError

        if not self.model_name:
            return
        record = hook.prediction_record(table)
        if record is None:
            self.log.warning(
                "No record of which model wrote %s (not written by AutoGluonPredictOperator): evaluating it as %s's.",
                hook.dialect.table(table),
                self.model_name,
            )
        elif record["model_name"] != self.model_name:
            run = f" (written by {record['dag_id']} run {record['run_id']})" if record.get("run_id") else ""
            raise EvaluationError(
                f"Table {hook.dialect.table(table)} holds the predictions of model "
                f"{record['model_name']!r}{run}, not of model {self.model_name!r}: its measures would be "
                "recorded under the wrong model."
            )

    def _binary(self, hook: TrackingHook, table: TableRef, pred: str) -> dict[str, Any]:
        from airflow_automl_provider.evaluation import measures as m
        from airflow_automl_provider.evaluation.auroc import check_score_class, evaluate_auroc, resolve_columns

        check_score_class(self.positive_class, self.score_class, self.score_column)
        result = evaluate_auroc(hook, table, self.target_column, self.positive_class, self.score_column)
        cols = resolve_columns(hook, table, target=self.target_column, prediction=pred, score=self.score_column)
        # The positive class as each column holds it: 1.0 in a REAL label column, 1 from the model, say.
        positive = hook.resolve_label(table, None, self.target_column, self.positive_class)
        try:
            predicted = hook.resolve_label(table, None, pred, self.positive_class)
        except m.EvaluationError:
            predicted = positive  # never predicted: no row matches either way
        (row,) = hook.query(m.binary_counts_query(hook.dialect, cols), m.binary_counts_parameters(positive, predicted))
        rows, tp, pred_pos, actual_pos, correct, loss = row
        counts = (int(rows), int(tp or 0), int(pred_pos or 0), int(actual_pos or 0), int(correct or 0))
        return {
            **result,
            "auroc": result["auc"],
            "log_loss": float(loss) / counts[0],
            **m.binary_measures(*counts),
        }

    def _multiclass(self, hook: TrackingHook, table: TableRef, pred: str) -> dict[str, Any]:
        from airflow_automl_provider.evaluation import measures as m
        from airflow_automl_provider.evaluation.auroc import resolve_columns
        from airflow_automl_provider.hooks.tracking import label_text

        cols = resolve_columns(hook, table, target=self.target_column, prediction=pred)
        confusion = {
            (label_text(a), label_text(p)): int(n) for a, p, n in hook.query(m.confusion_query(hook.dialect, cols))
        }
        result: dict[str, Any] = {**m.multiclass_measures(confusion), "rows": sum(confusion.values())}
        # Log loss needs the probability of each row's true class, which lives in JSON: read it in chunks.
        conn = hook.connect()
        try:
            pairs = (
                (label, json.loads(probs))
                for chunk in hook.iter_chunks(conn, table, None, [self.target_column, self.probabilities_column])
                for label, probs in chunk.itertuples(index=False, name=None)
            )
            result["log_loss"] = m.multiclass_log_loss(pairs)
        finally:
            conn.close()
        return result
