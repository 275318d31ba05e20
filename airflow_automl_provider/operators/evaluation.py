"""Evaluate a prediction table inside the database: AUROC, and the standard measures of each problem type."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_automl_provider import metrics as m
from airflow_automl_provider.hooks.tracking import RangesUnavailable, TrackingHook, label_text
from airflow_automl_provider.links import MonitoringLink
from airflow_automl_provider.pipeline import read_ahead

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.sdk import Context


def _columns(hook: TrackingHook, table: str, schema: str | None, **cols: str | None) -> m.Columns:
    """Check the columns exist, then quote everything the query needs."""
    hook.check_columns(table, schema, [c for c in cols.values() if c])
    d = hook.dialect
    return m.Columns(table=d.table(table, schema), **{k: (d.quote(v) if v else None) for k, v in cols.items()})


AUROC_METHODS = ("auto", "sql", "stream")
# A sample with fewer distinct scores than this share of its rows has many ties: the grouped query
# then aggregates few groups (10k for 10M rows rounded to 4 decimals: 0.8 s on PostgreSQL).
TIED_SHARE = 0.5
# The streaming pass holds every positive score (8 bytes) and a histogram (4 bytes per positive):
# 6M positives stay under 100 MB with the chunks in flight.
MAX_STREAM_POSITIVES = 6_000_000


def evaluate_auroc(
    hook: TrackingHook,
    table: str,
    target_column: str,
    positive_class: Any,
    score_column: str,
    schema: str | None = None,
    method: str = "auto",
) -> dict[str, Any]:
    """
    AUROC and PR-AUC of a table, equal to ``roc_auc_score`` and ``average_precision_score``.

    Every method gives the same result and raises the same errors; they differ in speed only.

    :param hook: the table's connection.
    :param table: prediction table, ``table`` or ``schema.table``.
    :param target_column: the true label column.
    :param positive_class: the label value that counts as positive, compared as text.
    :param score_column: probability of the positive class.
    :param schema: schema of ``table`` when not qualified.
    :param method: ``"sql"``: one grouped query (:func:`..metrics.auroc_query`), all the work in
        the database, fast when the scores have many ties (few distinct values). On SQLite the
        grouping runs over 1M-row ranges of the table in parallel, merged in numpy
        (:meth:`TrackingHook.sqlite_range_query`: rollback-journal files, tables with rowids, at
        most ``MAX_RANGE_GROUPS`` distinct scores a range), else as one query. ``"stream"``: two
        passes (:class:`..metrics.StreamingAuroc`) that hold the positive scores, 12 bytes each,
        and stream the others; fast when nearly every score differs. With more than
        ``MAX_STREAM_POSITIVES`` positives, or a table that breaks a rule (NULL, NaN, text or
        out-of-range scores, NULL labels, one class only), it leaves the table to ``"sql"``, whose
        checks raise the errors. ``"auto"`` (default): on MySQL/MariaDB ``"sql"`` (the streaming
        pass reads row by row there; not benchmarked); on PostgreSQL and SQLite ``"sql"`` when
        fewer than half the scores of the first 100,000 rows are distinct, else ``"stream"``.
    """
    if method not in AUROC_METHODS:
        raise ValueError(f"Unknown AUROC method {method!r}: expected one of {list(AUROC_METHODS)}.")
    if positive_class is None or positive_class == "":
        raise ValueError("positive_class is required: the label value that counts as positive.")
    cols = _columns(hook, table, schema, target=target_column, score=score_column)
    positive = hook.resolve_label(table, schema, target_column, positive_class)
    # A catalog lookup, except where it scans the table (SQLite): there the streaming pass finds
    # text scores itself and leaves them to the SQL path, which checks first.
    cheap_check = hook.dialect.cheap_numeric_check
    if cheap_check:
        hook.check_numeric(table, schema, score_column)
    if method == "auto":
        method = _auroc_method(hook, cols)
    if method == "stream":
        row = _auroc_stream_row(hook, cols, positive)
        if row is not None:
            return m.auroc_from_row(row, table=cols.table, score_column=score_column, positive_class=positive)
    row = (
        _auroc_ranges_row(hook, table, schema, cols, positive) if hook.dialect.has_rowids and method == "sql" else None
    )
    if row is None:
        if not cheap_check:
            hook.check_numeric(table, schema, score_column)
        (row,) = hook.query(m.auroc_query(hook.dialect, cols), [positive])
    if row[0] and not row[5]:  # rows, but none equal the positive class
        labels = [label_text(v) for v in hook.distinct_values(table, schema, target_column)]
        raise m.EvaluationError(
            f"positive_class {positive!r} is not among the labels of column {target_column!r} in table "
            f"{cols.table}: labels seen {labels}."
        )
    return m.auroc_from_row(row, table=cols.table, score_column=score_column, positive_class=positive)


def check_score_class(positive_class: Any, score_class: Any, score_column: str) -> None:
    """
    Refuse a ``positive_class`` that is not the class whose probability ``score_column`` holds: its
    AUROC, precision and recall would silently be those of the other class.
    """
    from airflow_automl_provider.labels import same_label

    if score_class in (None, "", "None") or same_label(str(positive_class), str(score_class)):
        return
    raise m.EvaluationError(
        f"positive_class {str(positive_class)!r} is not the class whose probability {score_column!r} holds "
        f"({str(score_class)!r}, the model's positive class): the measures would be those of the other class. "
        f"Leave positive_class empty, or set it to {str(score_class)!r}."
    )


def _auroc_method(hook: TrackingHook, cols: m.Columns) -> str:
    """The faster exact method for this table: see ``method`` in :func:`evaluate_auroc`."""
    if hook.dialect.auroc_grouped_only:
        return "sql"
    ((distinct, scores),) = hook.query(m.ties_sample_query(hook.dialect, cols))
    return "sql" if scores and int(distinct) < TIED_SHARE * int(scores) else "stream"


# Rowids per range of the parallel SQLite grouping: sorts of 1M rows, few ranges to merge.
RANGE_ROWS = 1 << 20
# Most distinct scores one range may return: 10,001 for scores rounded to 4 decimals.
MAX_RANGE_GROUPS = 1 << 16


def _auroc_ranges_row(
    hook: TrackingHook, table: str, schema: str | None, cols: m.Columns, positive: str
) -> tuple[Any, ...] | None:
    """
    SQLite: the row of :func:`..metrics.auroc_query` from the grouped query run over ranges of
    rowids in parallel (:meth:`TrackingHook.sqlite_range_query`), or None for the one query to
    take over (the table cannot be read in ranges, a range has too many distinct scores, or a
    rule is broken: its checks raise).
    """

    def sql(where: str) -> str:
        # Scores keep their type: text, which the cast would turn into 0.0, comes back as text.
        return m.auroc_groups_query(hook.dialect, cols, where, cast=False)

    groups = m.AurocGroups()
    parts = hook.sqlite_range_query(table, schema, sql, [positive], max_rows=MAX_RANGE_GROUPS, range_rows=RANGE_ROWS)
    try:
        # closing: an early return ends the ranges' threads and read lock at once.
        with contextlib.closing(parts):
            for part in parts:
                if any(not isinstance(s, int | float) for s, *_ in part if s is not None):
                    return None
                groups.add(part)
    except RangesUnavailable as exc:
        hook.log.debug("Grouping %s in one query: %s", cols.table, exc)
        return None
    row = groups.row()
    return None if row[1] or row[2] or not row[0] else row


def _integer_labels(hook: TrackingHook, conn: Any, cols: m.Columns) -> bool:
    """Whether the database types the label column as an integer (PostgreSQL; SQLite's declared types bind nothing)."""
    return hook.dialect.integer_labels(conn, cols.table, cols.target)


_END_OF_POSITIVES = object()


def _stream_passes(hook: TrackingHook, cols: m.Columns, positive: str) -> Iterator[Any]:
    """The positives' chunks, then ``_END_OF_POSITIVES``, then the negatives' chunks, from one snapshot."""
    chunk_rows = hook.dialect.stream_chunk_rows
    with hook.read_snapshot() as conn:
        q = m.auroc_stream_queries(hook.dialect, cols, positive, integer_labels=_integer_labels(hook, conn, cols))
        yield from hook.stream_float_column(
            conn, cols.table, q.positive_value, q.positive_where, [q.parameter], chunk_rows
        )
        yield _END_OF_POSITIVES
        yield from hook.stream_float_column(
            conn, cols.table, q.negative_value, q.negative_where, [q.parameter], chunk_rows
        )


def _auroc_stream_row(hook: TrackingHook, cols: m.Columns, positive: str) -> tuple[Any, ...] | None:
    """
    The row of :func:`..metrics.auroc_from_row` from two streaming passes, or None for the SQL
    query to take over (too many positives to hold, or a rule broken: its checks raise).
    """
    import numpy as np

    with read_ahead(lambda: _stream_passes(hook, cols, positive), name="automl-auroc-reader") as chunks:
        # One buffer for the most positives we hold: only the pages written become memory, and no
        # second copy is made (a list of chunks then concatenated would need twice as much).
        held, positives = 0, np.empty(MAX_STREAM_POSITIVES)
        for chunk in chunks:
            if chunk is _END_OF_POSITIVES:
                break
            if held + len(chunk) > len(positives) or np.isnan(chunk).any():
                return None
            positives[held : held + len(chunk)] = chunk
            held += len(chunk)
        if not held:
            return None
        counts = m.StreamingAuroc(positives[:held])
        for chunk in chunks:
            if np.isnan(chunk).any():
                return None
            counts.add_negatives(chunk)
    row = counts.row()
    if not counts.negatives or row[3] < 0.0 or row[4] > 1.0:
        return None
    return row


class AUROCEvaluationOperator(BaseOperator):
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
        "conn_id",
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
        conn_id: str = TrackingHook.default_conn_name,
        table: str,
        target_column: str,
        positive_class: Any,
        score_column: str = "predicted_proba",
        schema: str | None = None,
        score_class: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.table = table
        self.target_column = target_column
        self.positive_class = positive_class
        self.score_column = score_column
        self.schema = schema
        self.score_class = score_class

    def execute(self, context: Context) -> dict[str, Any]:
        check_score_class(self.positive_class, self.score_class, self.score_column)
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
    :param model_name: the model whose predictions these are; passed on in the XCom, so that the
        task's "AutoML monitoring" link opens that model's page. (templated)
    :param score_class: the class whose probability ``score_column`` holds (the model's positive class);
        a different ``positive_class`` is refused. Empty: not checked. (templated)
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
        "model_name",
        "score_class",
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
        model_name: str | None = None,
        score_class: Any = None,
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
        self.model_name = model_name
        self.score_class = score_class

    def execute(self, context: Context) -> dict[str, Any]:
        hook = TrackingHook(conn_id=self.conn_id)
        schema = self.schema or None
        pred = self.prediction_column or f"predicted_{self.target_column}"
        self._check_writer(hook, schema)
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
        if self.model_name:
            result["model_name"] = self.model_name
        self.log.info("Measures of %s: %s", self.table, result)
        return result

    def _check_writer(self, hook: TrackingHook, schema: str | None) -> None:
        """Refuse to record another model's predictions under ``model_name`` (``automl_predictions`` says who wrote them)."""
        if not self.model_name:
            return
        record = hook.prediction_record(self.table, schema)
        if record is None:
            self.log.warning(
                "No record of which model wrote %s (not written by AutoGluonPredictOperator): evaluating it as %s's.",
                hook.dialect.table(self.table, schema),
                self.model_name,
            )
        elif record["model_name"] != self.model_name:
            run = f" (written by {record['dag_id']} run {record['run_id']})" if record.get("run_id") else ""
            raise m.EvaluationError(
                f"Table {hook.dialect.table(self.table, schema)} holds the predictions of model "
                f"{record['model_name']!r}{run}, not of model {self.model_name!r}: its measures would be "
                "recorded under the wrong model."
            )

    def _binary(self, hook: TrackingHook, schema: str | None, pred: str) -> dict[str, Any]:
        check_score_class(self.positive_class, self.score_class, self.score_column)
        result = evaluate_auroc(hook, self.table, self.target_column, self.positive_class, self.score_column, schema)
        cols = _columns(hook, self.table, schema, target=self.target_column, prediction=pred, score=self.score_column)
        # The positive class as each column holds it: 1.0 in a REAL label column, 1 from the model, say.
        positive = hook.resolve_label(self.table, schema, self.target_column, self.positive_class)
        try:
            predicted = hook.resolve_label(self.table, schema, pred, self.positive_class)
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

    def _multiclass(self, hook: TrackingHook, schema: str | None, pred: str) -> dict[str, Any]:
        cols = _columns(hook, self.table, schema, target=self.target_column, prediction=pred)
        confusion = {
            (label_text(a), label_text(p)): int(n) for a, p, n in hook.query(m.confusion_query(hook.dialect, cols))
        }
        result: dict[str, Any] = {**m.multiclass_measures(confusion), "rows": sum(confusion.values())}
        # Log loss needs the probability of each row's true class, which lives in JSON: read it in chunks.
        conn = hook.connect()
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
