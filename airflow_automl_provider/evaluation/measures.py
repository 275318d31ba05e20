"""Evaluation measures: pure functions that build the SQL and turn its sums into measures.

Every measure is computed inside the database from one aggregate query where SQL can express it,
so a large prediction table never leaves the database. The definitions follow scikit-learn's
(``roc_auc_score``, ``average_precision_score``, ``log_loss``, ``f1_score``, ...), and the tests hold
them to scikit-learn on the same data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_automl_provider.dialects.base import Dialect

# scikit-learn clips probabilities to float64's machine epsilon in log_loss.
LOG_LOSS_EPS = 2.220446049250313e-16


class EvaluationError(ValueError):
    """The prediction table cannot be evaluated as asked (bad labels, scores or columns)."""


class AurocSums(NamedTuple):
    """
    The one row of :func:`auroc_query`, by name: what :func:`auroc_from_row` checks and turns into
    AUROC and PR-AUC. :class:`AurocGroups` and :class:`StreamingAuroc` give the same row.
    """

    #: Rows of the table.
    rows: Any
    #: Rows whose score is NULL (or NaN).
    null_scores: Any
    #: Rows whose label is NULL.
    null_labels: Any
    #: The lowest and the highest score (None without a scored row).
    min_score: Any
    max_score: Any
    #: Scored rows whose label is the positive class, and the other scored rows.
    positives: Any
    negatives: Any
    #: ``sum(pos * (2 * negatives_at_or_above - negatives_tied))`` over the distinct scores.
    s_sum: Any
    #: ``sum(pos * tp / k)`` over the distinct scores: PR-AUC times the positives.
    ap_num: Any


@dataclass(frozen=True)
class Columns:
    """Quoted SQL names of the table and the columns an evaluation reads."""

    table: str
    target: str
    score: str | None = None
    prediction: str | None = None


def auroc_groups_query(d: Dialect, c: Columns, where: str | None = None, *, cast: bool = True) -> str:
    """
    The rows grouped by distinct score: score, positives, rows, rows with a NULL label.

    :func:`auroc_query` ranks these groups in the database; :class:`AurocGroups` ranks them in
    numpy when they come in parts (ranges of a table grouped on their own, then merged).
    Parameters: the positive class, as text, then those of ``where``.

    :param where: an SQL condition on the rows, or None for every row.
    :param cast: group by the score cast to a float. Without it the scores keep their type: on
        SQLite, where a cast turns text into 0.0, text scores then come back as text.
    """
    score = d.as_float(c.score or "") if cast else (c.score or "")
    return f"""
  SELECT {score} AS s,
         SUM(CASE WHEN {d.as_text(c.target)} = {d.text_placeholder} THEN 1 ELSE 0 END) AS pos,
         COUNT(*) AS n,
         SUM(CASE WHEN {c.target} IS NULL THEN 1 ELSE 0 END) AS null_labels
  FROM {c.table}{f" WHERE {where}" if where else ""}
  GROUP BY {score}"""


def auroc_query(d: Dialect, c: Columns) -> str:
    """
    One query for AUROC and PR-AUC: group rows by distinct score, then one running sum over the
    distinct scores, highest first.

    Grouping first makes the window run over distinct scores rather than rows, and counts ties as
    one half (Mann-Whitney), as ``roc_auc_score`` does; it is also faster than grouping by score
    and label (docs/benchmarks.md). Parameters: the positive class, as text.
    Returns one row, the fields of :class:`AurocSums` in order: rows, null scores, null labels, min
    score, max score, positives, negatives, ``S = sum(pos * (2 * negatives_at_or_above -
    negatives_tied))`` (so that ``2 * AUC * P * N = 2 * P * N - S``) and ``sum(pos * tp / k)``
    (PR-AUC times P).
    """
    # PR-AUC divides as floats: MySQL's DECIMAL division keeps 4 more digits only (3e-9 off).
    # NULL scores sort first in PostgreSQL's DESC order and last elsewhere: they add nothing to the sums.
    running = "OVER (ORDER BY s DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    return f"""
WITH grouped AS ({auroc_groups_query(d, c)}
),
ranked AS (
  SELECT s, pos, n, null_labels,
         SUM(CASE WHEN s IS NULL THEN 0 ELSE pos END) {running} AS tp,
         SUM(CASE WHEN s IS NULL THEN 0 ELSE n END) {running} AS k
  FROM grouped
)
SELECT SUM(n),
       SUM(CASE WHEN s IS NULL THEN n ELSE 0 END),
       SUM(null_labels),
       MIN(s),
       MAX(s),
       SUM(CASE WHEN s IS NULL THEN 0 ELSE pos END),
       SUM(CASE WHEN s IS NULL THEN 0 ELSE n - pos END),
       SUM(CASE WHEN s IS NULL THEN 0 ELSE pos * (2 * (k - tp) - (n - pos)) END),
       SUM(CASE WHEN s IS NULL OR pos = 0 THEN 0 ELSE pos * tp / {d.as_float("k")} END)
FROM ranked
"""


class AurocGroups:
    """
    The rows of :func:`auroc_groups_query` from several parts of a table, merged by score, for
    :meth:`row`: the same row as :func:`auroc_query` over the whole table.

    Memory: 32 bytes per distinct score, whatever the number of parts.
    """

    def __init__(self) -> None:
        import numpy as np

        self.scores = np.empty(0)
        self.counts = np.empty((0, 2), dtype=np.int64)  # positives, rows per distinct score
        self.rows = self.null_scores = self.null_labels = 0

    def add(self, groups: Iterable[tuple[Any, Any, Any, Any]]) -> None:
        """Merge one part's groups: ``(score or None, positives, rows, NULL labels)``."""
        import numpy as np

        part = list(groups)
        if not part:
            return
        s, pos, n, null_labels = zip(*part, strict=True)
        scores = np.array([math.nan if v is None else v for v in s], dtype=np.float64)
        counts = np.array([pos, n], dtype=np.int64).T
        self.rows += int(counts[:, 1].sum())
        self.null_labels += sum(int(v or 0) for v in null_labels)
        null = np.isnan(scores)
        self.null_scores += int(counts[null, 1].sum())
        scores = np.concatenate((self.scores, scores[~null]))
        counts = np.concatenate((self.counts, counts[~null]))
        self.scores, inverse = np.unique(scores, return_inverse=True)
        self.counts = np.zeros((len(self.scores), 2), dtype=np.int64)
        np.add.at(self.counts, inverse.ravel(), counts)

    def row(self) -> AurocSums:
        """The row :func:`auroc_query` returns (exact integer sums below 4e9 rows)."""
        import numpy as np

        s = self.scores[::-1]  # highest first
        pos, n = self.counts[::-1, 0], self.counts[::-1, 1]
        tp, k = np.cumsum(pos), np.cumsum(n)
        P, scored = int(tp[-1]) if len(tp) else 0, int(k[-1]) if len(k) else 0  # rows with a score
        s_sum = int(np.sum(pos * (2 * (k - tp) - (n - pos))))
        with_pos = pos > 0
        ap_num = float(np.sum(pos[with_pos] * (tp[with_pos] / k[with_pos])))
        lo, hi = (float(s[-1]), float(s[0])) if len(s) else (None, None)
        return AurocSums(self.rows, self.null_scores, self.null_labels, lo, hi, P, scored - P, s_sum, ap_num)


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def auroc_from_row(row: Iterable[Any], *, table: str, score_column: str, positive_class: str) -> dict[str, Any]:
    """
    Check the sums of :func:`auroc_query` and turn them into ``auc``, ``pr_auc`` and counts.

    :param row: the query's row, or an :class:`AurocSums`.
    """
    sums = AurocSums(*row)
    rows, null_scores, null_labels = _int(sums.rows), _int(sums.null_scores), _int(sums.null_labels)
    pos, neg = _int(sums.positives), _int(sums.negatives)
    lo, hi = sums.min_score, sums.max_score
    if rows == 0:
        raise EvaluationError(f"Table {table} has no rows to evaluate.")
    if null_scores:
        raise EvaluationError(
            f"Column {score_column!r} of table {table} has {null_scores} NULL or NaN scores out of {rows} rows: "
            "expected a probability in every row."
        )
    if null_labels:
        raise EvaluationError(f"Table {table} has {null_labels} rows with a NULL label: expected a label in every row.")
    if float(lo) < 0.0 or float(hi) > 1.0 or math.isnan(float(lo)) or math.isnan(float(hi)):
        raise EvaluationError(
            f"Column {score_column!r} of table {table} has scores from {lo} to {hi}: expected probabilities in [0, 1]."
        )
    if pos == 0 or neg == 0:
        raise EvaluationError(
            f"AUROC is not defined for table {table}: only one class is present "
            f"({pos} rows equal positive class {positive_class!r}, {neg} do not)."
        )
    return {
        "auc": (2 * pos * neg - _int(sums.s_sum)) / (2.0 * pos * neg),
        "pr_auc": float(sums.ap_num) / pos,
        "rows": rows,
        "positives": pos,
    }


def ties_sample_query(d: Dialect, c: Columns, rows: int = 100_000) -> str:
    """
    Distinct and non-NULL scores among the first ``rows`` rows: a cheap look at how tied the scores
    are, to choose the fastest exact way (:func:`auroc_query` when few distinct scores, the
    streaming pass of :class:`StreamingAuroc` when nearly all differ). Any rows will do.
    """
    return (
        f"SELECT COUNT(DISTINCT s), COUNT(s) FROM "
        f"(SELECT {d.as_float(c.score or '')} AS s FROM {c.table} LIMIT {int(rows)}) first_rows"
    )


@dataclass(frozen=True)
class StreamQueries:
    """
    The two passes of the streaming AUROC: each an SQL value and condition over the table, with
    ``parameter`` (the positive class) as the condition's one parameter.

    The positives pass reads the scores of the rows whose label equals the positive class; the
    negatives pass those of every other row, a NULL label included, whose value is then NULL. A
    NULL, NaN or non-numeric score also reads as NULL (NaN once in numpy), so either pass tells
    that the table breaks a rule of :func:`auroc_from_row` without a query of its own.
    """

    positive_value: str
    positive_where: str
    negative_value: str
    negative_where: str
    parameter: Any


def auroc_stream_queries(d: Dialect, c: Columns, positive_class: str, *, integer_labels: bool = False) -> StreamQueries:
    """
    The SQL of the two streaming passes; see :class:`StreamQueries`.

    :param positive_class: the positive label, as text.
    :param integer_labels: the label column has an integer type. An integer's text is its decimal
        form, so when ``positive_class`` is one (``"1"``; not ``"01"`` or ``"1.0"``, which match no
        integer's text) comparing the integers selects the same rows as comparing the texts,
        without making text of every label (most of a pass's time: docs/benchmarks.md).
    """
    score = c.score or ""
    value = d.numbers_only(score)  # as TrackingHook.check_numeric requires
    positive, parameter = f"{d.as_text(c.target)} = {d.text_placeholder}", positive_class
    if integer_labels and re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", positive_class):
        positive, parameter = f"{c.target} = CAST({d.placeholder} AS BIGINT)", int(positive_class)
    return StreamQueries(
        positive_value=value,
        positive_where=positive,
        negative_value=f"CASE WHEN {c.target} IS NULL THEN NULL ELSE {value} END",
        negative_where=f"({positive}) IS NOT TRUE",
        parameter=parameter,
    )


class StreamingAuroc:
    """
    Exact AUROC and PR-AUC with the positives' scores held sorted and the negatives' streamed.

    The positives are sorted and kept as their distinct values with, for each, how many positives
    score below it. For each negative score ``x`` a binary search in the distinct values gives
    ``j(x)``, the distinct values at or below ``x``, hence the positives at or below it and those
    tied with it; the pair counts are then integers, so AUROC = (pairs ranked right + half the
    tied pairs) / (P * N) is exact, as ``roc_auc_score`` (Mann-Whitney). A histogram of ``j(x)``
    gives, for every distinct positive score ``t``, the negatives at or above it, which with the
    positives at or above it is PR-AUC as ``average_precision_score`` defines it (one step per
    distinct score).

    Memory: the positives (8 bytes each) and the histogram (4 bytes per distinct positive score;
    with ties, 16 more per distinct score), plus one chunk of negatives at a time; nothing grows
    with the negatives. Few distinct scores (rounded probabilities) make the searches cheap.

    :param positives: every positive score (NaN-free), in any order; sorted in place.
    """

    #: Up to this many distinct positive scores the searches stay in cache without sorting each chunk.
    SMALL = 1 << 16

    def __init__(self, positives: Any) -> None:
        import numpy as np

        positives.sort()
        self.P = len(positives)
        self.negatives = 0
        self.greater = 0  # pairs whose positive scores higher than its negative
        self.tied = 0
        self.lo = float(positives[0]) if self.P else math.inf
        self.hi = float(positives[-1]) if self.P else -math.inf
        steps = positives[1:] != positives[:-1]
        if int(np.count_nonzero(steps)) + 1 >= self.P:  # all distinct: value k has k positives below it
            self.values, self.below = positives, None  # (no index array: 8 bytes a positive saved)
        else:
            starts = np.flatnonzero(steps) + 1
            self.values = positives[np.concatenate(([0], starts))]
            # below[k]: positives scoring under values[k]; below[-1] = P.
            self.below = np.concatenate(([0], starts, [self.P])).astype(np.int64)
        # hist[j]: negatives with exactly j distinct positive values at or below them.
        self.hist = np.zeros(len(self.values) + 1, dtype=np.int32)

    def _positives_at_or_below(self, j: Any) -> Any:
        return j if self.below is None else self.below[j]

    def add_negatives(self, scores: Any) -> None:
        """Count one chunk of negative scores (NaN-free) against the positives."""
        import numpy as np

        if not len(scores):
            return
        values, n = self.values, len(scores)
        self.lo, self.hi = min(self.lo, float(scores.min())), max(self.hi, float(scores.max()))
        self.negatives += n
        if self.negatives >= 2**31 and self.hist.dtype != np.int64:
            self.hist = self.hist.astype(np.int64)
        few = len(values) <= self.SMALL
        # Sorted needles keep searches in a large array in cache (docs/benchmarks.md); a small
        # array stays in cache anyway.
        x = scores if few else np.sort(scores)
        j = np.searchsorted(values, x, side="right")
        r = self._positives_at_or_below(j)
        self.greater += self.P * n - int(r.sum())
        if len(values):
            # Ties only where the distinct value just below is equal.
            equal = np.flatnonzero(values[np.maximum(j - 1, 0)] == x)
            if len(equal):
                je = j[equal]
                self.tied += int((r[equal] - self._positives_at_or_below(je - 1)).sum())
        if few:
            self.hist += np.bincount(j, minlength=len(self.hist)).astype(self.hist.dtype, copy=False)
        else:
            # j is sorted: add each run of equal values to the histogram at once.
            starts = np.flatnonzero(np.concatenate(([True], j[1:] != j[:-1])))
            self.hist[j[starts]] += np.diff(np.append(starts, n)).astype(self.hist.dtype, copy=False)

    def row(self, block: int = 1 << 18) -> AurocSums:
        """
        The row :func:`auroc_query` returns, for :func:`auroc_from_row` (the table passed every
        check: no NULL scores or labels).
        """
        import numpy as np

        P, N = self.P, self.negatives
        under = np.cumsum(self.hist, out=self.hist)  # under[k]: negatives scoring below values[k]
        # Each distinct positive score k counts its positives once each: tp = P - (positives below
        # it) and fp = N - under[k] score at or above it.
        ap_num = 0.0
        for start in range(0, len(self.values), block):
            k = np.arange(start, min(start + block, len(self.values)))
            below = self._positives_at_or_below(k)
            count = 1 if self.below is None else self.below[k + 1] - below
            tp = P - below
            ap_num += float(np.sum(count * (tp / (tp + N - under[k]))))
        s_sum = 2 * (P * N - self.greater) - self.tied
        return AurocSums(P + N, 0, 0, self.lo, self.hi, P, N, s_sum, ap_num)


def binary_counts_query(d: Dialect, c: Columns) -> str:
    """
    Confusion counts and log loss sums of a binary prediction table.

    Parameters (as text): the positive class as the label column holds it, then as the prediction
    column holds it (they can differ in form: ``1.0`` read back from a REAL label column, ``1`` from
    the model), in the order of :func:`binary_counts_parameters`. Returns one row: rows, true
    positives, predicted positives, actual positives, correct, log loss sum.
    """
    ph = d.text_placeholder
    t = d.as_text(c.target)
    p = d.as_text(c.prediction or "")
    s = d.as_float(c.score or "")
    eps = repr(LOG_LOSS_EPS)
    clipped = f"(CASE WHEN {s} < {eps} THEN {eps} WHEN {s} > 1 - {eps} THEN 1 - {eps} ELSE {s} END)"
    return f"""
SELECT COUNT(*),
       SUM(CASE WHEN {t} = {ph} AND {p} = {ph} THEN 1 ELSE 0 END),
       SUM(CASE WHEN {p} = {ph} THEN 1 ELSE 0 END),
       SUM(CASE WHEN {t} = {ph} THEN 1 ELSE 0 END),
       SUM(CASE WHEN ({t} = {ph}) = ({p} = {ph}) THEN 1 ELSE 0 END),
       SUM(CASE WHEN {t} = {ph} THEN -LN({clipped}) ELSE -LN(1 - {clipped}) END)
FROM {c.table}
"""


def binary_counts_parameters(label_positive: str, predicted_positive: str) -> list[str]:
    """The bound values of :func:`binary_counts_query`, in its order."""
    t, p = label_positive, predicted_positive
    return [t, p, p, t, t, p, t]


def binary_measures(rows: int, tp: int, pred_pos: int, actual_pos: int, correct: int) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of the positive class (0 where undefined, as scikit-learn)."""
    precision = tp / pred_pos if pred_pos else 0.0
    recall = tp / actual_pos if actual_pos else 0.0
    f1 = 2 * tp / (pred_pos + actual_pos) if (pred_pos + actual_pos) else 0.0
    return {"accuracy": correct / rows, "precision": precision, "recall": recall, "f1": f1}


def confusion_query(d: Dialect, c: Columns) -> str:
    """Counts per (actual, predicted) label pair, as text."""
    t, p = d.as_text(c.target), d.as_text(c.prediction or "")
    return f"SELECT {t}, {p}, COUNT(*) FROM {c.table} GROUP BY {t}, {p}"


def multiclass_measures(confusion: Mapping[tuple[str, str], int]) -> dict[str, float]:
    """Accuracy and macro F1 (over the labels seen as actual or predicted) from a confusion map."""
    total = sum(confusion.values())
    if total == 0:
        raise EvaluationError("No rows to evaluate.")
    labels = {a for a, _ in confusion} | {p for _, p in confusion}
    correct = sum(n for (a, p), n in confusion.items() if a == p)
    f1s = []
    for label in labels:
        tp = confusion.get((label, label), 0)
        actual = sum(n for (a, _), n in confusion.items() if a == label)
        predicted = sum(n for (_, p), n in confusion.items() if p == label)
        f1s.append(2 * tp / (actual + predicted) if actual + predicted else 0.0)
    return {"accuracy": correct / total, "macro_f1": sum(f1s) / len(f1s)}


def multiclass_log_loss(pairs: Iterable[tuple[Any, Mapping[str, float]]]) -> float:
    """Mean negative log of the probability given to the true class (clipped as scikit-learn does)."""
    total, n = 0.0, 0
    for label, probabilities in pairs:
        p = float(probabilities.get(str(label), 0.0))
        p = min(max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
        total -= math.log(p)
        n += 1
    if n == 0:
        raise EvaluationError("No rows to evaluate.")
    return total / n


def regression_query(d: Dialect, c: Columns) -> str:
    """Sums for RMSE, MAE and R² in one query (the mean is taken first, for a stable R²)."""
    y, p = d.as_float(c.target), d.as_float(c.prediction or "")
    return f"""
SELECT COUNT(*), SUM(({y} - {p}) * ({y} - {p})), SUM(ABS({y} - {p})), SUM(({y} - m) * ({y} - m))
FROM {c.table} CROSS JOIN (SELECT AVG({y}) AS m FROM {c.table}) mean_target
"""


def regression_measures(rows: int, sse: float, sae: float, sst: float) -> dict[str, float]:
    """RMSE, MAE and R² from the sums of :func:`regression_query`."""
    if rows == 0:
        raise EvaluationError("No rows to evaluate.")
    r2 = 1.0 - sse / sst if sst else (1.0 if sse == 0 else 0.0)
    return {"rmse": math.sqrt(sse / rows), "mae": sae / rows, "r2": r2}
