"""Evaluate a prediction table inside the database: AUROC, and the standard measures of each problem type."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_automl_provider import metrics as m
from airflow_automl_provider.hooks.tracking import TrackingHook
from airflow_automl_provider.links import MonitoringLink

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context


def _text(value: Any) -> str:
    """A label read back as text (MySQL returns the binary casts as bytes)."""
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _columns(hook: TrackingHook, table: str, schema: str | None, **cols: str | None) -> m.Columns:
    """Check the columns exist, then quote everything the query needs."""
    hook.check_columns(table, schema, [c for c in cols.values() if c])
    d = hook.dialect
    return m.Columns(table=d.table(table, schema), **{k: (d.quote(v) if v else None) for k, v in cols.items()})


def evaluate_auroc(
    hook: TrackingHook,
    table: str,
    target_column: str,
    positive_class: Any,
    score_column: str,
    schema: str | None = None,
) -> dict[str, Any]:
    """AUROC (and PR-AUC) of a table by one grouped SQL query; see :func:`..metrics.auroc_query`."""
    if positive_class is None or positive_class == "":
        raise ValueError("positive_class is required: the label value that counts as positive.")
    cols = _columns(hook, table, schema, target=target_column, score=score_column)
    hook.check_numeric(table, schema, score_column)
    (row,) = hook.query(m.auroc_query(hook.dialect, cols), [str(positive_class)])
    if row[0] and not row[5]:  # rows, but none equal the positive class
        labels = [_text(v) for v in hook.distinct_values(table, schema, target_column)]
        raise m.EvaluationError(
            f"positive_class {str(positive_class)!r} is not among the labels of column {target_column!r} in table "
            f"{cols.table}: labels seen {labels}."
        )
    return m.auroc_from_row(row, table=cols.table, score_column=score_column, positive_class=str(positive_class))


class AUROCEvaluationOperator(BaseOperator):
    """
    AUROC of a prediction table, computed inside the database with one SQL query.

    Ties count one half (Mann-Whitney), so the result equals ``sklearn.metrics.roc_auc_score``.
    Returns ``{"auc": ..., "rows": ..., "positives": ..., "pr_auc": ...}``.

    :param conn_id: common-sql connection of the table. (templated)
    :param table: prediction table, ``table`` or ``schema.table``. (templated)
    :param target_column: the true label column. (templated)
    :param positive_class: the label value that counts as positive, compared as text. (templated)
    :param score_column: probability of the positive class. (templated)
    :param schema: schema of ``table`` when not qualified. (templated)
    """

    template_fields: Sequence[str] = ("conn_id", "table", "target_column", "positive_class", "score_column", "schema")
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        conn_id: str = TrackingHook.default_conn_name,
        table: str,
        target_column: str,
        positive_class: Any,
        score_column: str = "predicted_proba",
        schema: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.table = table
        self.target_column = target_column
        self.positive_class = positive_class
        self.score_column = score_column
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        hook = TrackingHook(conn_id=self.conn_id)
        result = evaluate_auroc(
            hook, self.table, self.target_column, self.positive_class, self.score_column, self.schema or None
        )
        self.log.info("AUROC of %s: %.6f over %d rows", self.table, result["auc"], result["rows"])
        return result


class EvaluateModelOperator(BaseOperator):
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
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "table",
        "target_column",
        "problem_type",
        "positive_class",
        "prediction_column",
        "score_column",
        "probabilities_column",
        "schema",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        conn_id: str = TrackingHook.default_conn_name,
        table: str,
        target_column: str,
        problem_type: str = "binary",
        positive_class: Any = None,
        prediction_column: str | None = None,
        score_column: str = "predicted_proba",
        probabilities_column: str = "predicted_probabilities",
        schema: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.table = table
        self.target_column = target_column
        self.problem_type = problem_type
        self.positive_class = positive_class
        self.prediction_column = prediction_column
        self.score_column = score_column
        self.probabilities_column = probabilities_column
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        hook = TrackingHook(conn_id=self.conn_id)
        schema = self.schema or None
        pred = self.prediction_column or f"predicted_{self.target_column}"
        if self.problem_type == "binary":
            result = self._binary(hook, schema, pred)
        elif self.problem_type == "multiclass":
            result = self._multiclass(hook, schema, pred)
        elif self.problem_type in ("regression", "quantile"):
            cols = _columns(hook, self.table, schema, target=self.target_column, prediction=pred)
            (row,) = hook.query(m.regression_query(hook.dialect, cols))
            n, sse, sae, sst = row
            result = {**m.regression_measures(int(n or 0), float(sse or 0), float(sae or 0), float(sst or 0))}
            result["rows"] = int(n)
        else:
            raise ValueError(f"Unknown problem_type {self.problem_type!r}: expected binary, multiclass or regression.")
        self.log.info("Measures of %s: %s", self.table, result)
        return result

    def _binary(self, hook: TrackingHook, schema: str | None, pred: str) -> dict[str, Any]:
        result = evaluate_auroc(hook, self.table, self.target_column, self.positive_class, self.score_column, schema)
        cols = _columns(hook, self.table, schema, target=self.target_column, prediction=pred, score=self.score_column)
        positive = str(self.positive_class)
        (row,) = hook.query(m.binary_counts_query(hook.dialect, cols), [positive] * 4)
        rows, tp, pred_pos, actual_pos, correct, loss = row
        counts = (int(rows), int(tp or 0), int(pred_pos or 0), int(actual_pos or 0), int(correct or 0))
        return {
            **result,
            "auroc": result["auc"],
            "log_loss": float(loss) / counts[0],
            **m.binary_measures(*counts),
        }

    def _multiclass(self, hook: TrackingHook, schema: str | None, pred: str) -> dict[str, Any]:
        cols = _columns(hook, self.table, schema, target=self.target_column, prediction=pred)
        confusion = {(_text(a), _text(p)): int(n) for a, p, n in hook.query(m.confusion_query(hook.dialect, cols))}
        result: dict[str, Any] = {**m.multiclass_measures(confusion), "rows": sum(confusion.values())}
        # Log loss needs the probability of each row's true class, which lives in JSON: read it in chunks.
        conn = hook.db_hook.get_conn()
        try:
            pairs = (
                (label, json.loads(probs))
                for chunk in hook.iter_chunks(conn, self.table, schema, [self.target_column, self.probabilities_column])
                for label, probs in chunk.itertuples(index=False, name=None)
            )
            result["log_loss"] = m.multiclass_log_loss(pairs)
        finally:
            conn.close()
        return result
