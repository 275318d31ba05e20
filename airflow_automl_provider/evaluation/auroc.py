"""
AUROC and PR-AUC of a prediction table in its database, by the fastest exact way for that table.

Three strategies give the same :class:`~.measures.AurocSums` (and so the same result and the same
errors): the grouped query of :func:`~.measures.auroc_query`; on SQLite that query over ranges of
the table in parallel, merged by :class:`~.measures.AurocGroups`; and two streaming passes counted
by :class:`~.measures.StreamingAuroc`. :func:`evaluate_auroc` picks one.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.evaluation import measures as m
from airflow_automl_provider.hooks.tracking import RangesUnavailable, label_text
from airflow_automl_provider.pipeline import read_ahead

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.sql import TableRef


AUROC_METHODS = ("auto", "sql", "stream")
# A sample with fewer distinct scores than this share of its rows has many ties: the grouped query
# then aggregates few groups, which is faster than streaming (docs/benchmarks.md).
TIED_SHARE = 0.5
# The streaming pass holds every positive score (8 bytes) and a histogram (4 bytes per positive):
# 6M positives stay under 100 MB with the chunks in flight.
MAX_STREAM_POSITIVES = 6_000_000
# Rowids per range of the parallel SQLite grouping: sorts of 1M rows, few ranges to merge.
RANGE_ROWS = 1 << 20
# Most distinct scores one range may return: 10,001 for scores rounded to 4 decimals.
MAX_RANGE_GROUPS = 1 << 16


def resolve_columns(
    hook: TrackingHook, table: str | TableRef, schema: str | None = None, **cols: str | None
) -> m.Columns:
    """
    Check that the columns exist, then quote the table and every column a query needs.

    :param hook: the table's connection.
    :param table: the table: a :class:`~airflow_automl_provider.sql.TableRef`, or ``table`` or ``schema.table``.
    :param schema: schema of ``table`` when it is a name that is not qualified.
    :param cols: the :class:`~.measures.Columns` fields (``target``, ``score``, ``prediction``) by
        column name; None or empty: not used.
    """
    hook.check_columns(table, schema, [c for c in cols.values() if c])
    d = hook.dialect
    return m.Columns(table=d.table(table, schema), **{k: (d.quote(v) if v else None) for k, v in cols.items()})


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


def evaluate_auroc(
    hook: TrackingHook,
    table: str | TableRef,
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
    :param table: prediction table: a :class:`~airflow_automl_provider.sql.TableRef`, or ``table`` or
        ``schema.table``.
    :param target_column: the true label column.
    :param positive_class: the label value that counts as positive, compared as text.
    :param score_column: probability of the positive class.
    :param schema: schema of ``table`` when it is a name that is not qualified.
    :param method: ``"sql"``: one grouped query (:func:`.measures.auroc_query`), all the work in
        the database, fast when the scores have many ties (few distinct values). On SQLite the
        grouping runs over 1M-row ranges of the table in parallel, merged in numpy
        (:meth:`TrackingHook.sqlite_range_query`: rollback-journal files, tables with rowids, at
        most ``MAX_RANGE_GROUPS`` distinct scores a range), else as one query. ``"stream"``: two
        passes (:class:`.measures.StreamingAuroc`) that hold the positive scores, 12 bytes each,
        and stream the others; fast when nearly every score differs. With more than
        ``MAX_STREAM_POSITIVES`` positives, or a table that breaks a rule (NULL, NaN, text or
        out-of-range scores, NULL labels, one class only), it leaves the table to ``"sql"``, whose
        checks raise the errors. ``"auto"`` (default): :func:`choose_method`.
    :return: ``auc``, ``pr_auc``, ``rows`` and ``positives``.
    """
    if method not in AUROC_METHODS:
        raise ValueError(f"Unknown AUROC method {method!r}: expected one of {list(AUROC_METHODS)}.")
    if positive_class is None or positive_class == "":
        raise ValueError("positive_class is required: the label value that counts as positive.")
    from airflow_automl_provider.sql import TableRef

    table = TableRef.parse(table, schema)  # validated once, passed on as it is
    cols = resolve_columns(hook, table, target=target_column, score=score_column)
    positive = hook.resolve_label(table, None, target_column, positive_class)
    # A catalog lookup, except where it scans the table (SQLite): there the streaming pass finds
    # text scores itself and leaves them to the SQL path, which checks first.
    cheap_check = hook.dialect.cheap_numeric_check
    if cheap_check:
        hook.check_numeric(table, None, score_column)
    if method == "auto":
        method = choose_method(hook, cols)
    if method == "stream":
        sums = stream_sums(hook, cols, positive)
        if sums is not None:
            return m.auroc_from_row(sums, table=cols.table, score_column=score_column, positive_class=positive)
    sums = ranges_sums(hook, table, cols, positive) if hook.dialect.has_rowids and method == "sql" else None
    if sums is None:
        if not cheap_check:
            hook.check_numeric(table, None, score_column)
        (row,) = hook.query(m.auroc_query(hook.dialect, cols), [positive])
        sums = m.AurocSums(*row)
    if sums.rows and not sums.positives:
        labels = [label_text(v) for v in hook.distinct_values(table, None, target_column)]
        raise m.EvaluationError(
            f"positive_class {positive!r} is not among the labels of column {target_column!r} in table "
            f"{cols.table}: labels seen {labels}."
        )
    return m.auroc_from_row(sums, table=cols.table, score_column=score_column, positive_class=positive)


def choose_method(hook: TrackingHook, cols: m.Columns) -> str:
    """
    The faster exact method for this table, ``"sql"`` or ``"stream"``.

    On MySQL/MariaDB ``"sql"`` (the streaming pass reads row by row there; not benchmarked); on
    PostgreSQL and SQLite ``"sql"`` when fewer than ``TIED_SHARE`` of the scores of the first
    100,000 rows are distinct, else ``"stream"``.
    """
    if hook.dialect.auroc_grouped_only:
        return "sql"
    ((distinct, scores),) = hook.query(m.ties_sample_query(hook.dialect, cols))
    return "sql" if scores and int(distinct) < TIED_SHARE * int(scores) else "stream"


def ranges_sums(hook: TrackingHook, table: TableRef, cols: m.Columns, positive: str) -> m.AurocSums | None:
    """
    SQLite: the sums of :func:`.measures.auroc_query` from the grouped query run over ranges of
    rowids in parallel (:meth:`TrackingHook.sqlite_range_query`), or None for the one query to
    take over (the table cannot be read in ranges, a range has too many distinct scores, or a
    rule is broken: its checks raise).
    """

    def sql(where: str) -> str:
        # Scores keep their type: text, which the cast would turn into 0.0, comes back as text.
        return m.auroc_groups_query(hook.dialect, cols, where, cast=False)

    groups = m.AurocGroups()
    parts = hook.sqlite_range_query(table, None, sql, [positive], max_rows=MAX_RANGE_GROUPS, range_rows=RANGE_ROWS)
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
    sums = groups.row()
    return None if sums.null_scores or sums.null_labels or not sums.rows else sums


_END_OF_POSITIVES = object()


def _stream_passes(hook: TrackingHook, cols: m.Columns, positive: str) -> Iterator[Any]:
    """The positives' chunks, then ``_END_OF_POSITIVES``, then the negatives' chunks, from one snapshot."""
    chunk_rows = hook.dialect.stream_chunk_rows
    with hook.read_snapshot() as conn:
        # PostgreSQL types integer labels; SQLite's declared types bind nothing.
        integer_labels = hook.dialect.integer_labels(conn, cols.table, cols.target)
        q = m.auroc_stream_queries(hook.dialect, cols, positive, integer_labels=integer_labels)
        yield from hook.stream_float_column(
            conn, cols.table, q.positive_value, q.positive_where, [q.parameter], chunk_rows
        )
        yield _END_OF_POSITIVES
        yield from hook.stream_float_column(
            conn, cols.table, q.negative_value, q.negative_where, [q.parameter], chunk_rows
        )


def stream_sums(hook: TrackingHook, cols: m.Columns, positive: str) -> m.AurocSums | None:
    """
    The sums for :func:`.measures.auroc_from_row` from two streaming passes, or None for the SQL
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
    sums = counts.row()
    if not counts.negatives or sums.min_score < 0.0 or sums.max_score > 1.0:
        return None
    return sums
