"""Operators of the drift monitor: pick the model, measure performance drift and data drift, record them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_automl_provider.constants import DEFAULT_CONN_ID
from airflow_automl_provider.links import MonitoringLink
from airflow_automl_provider.operators.tracking import session_time

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_automl_provider.hooks.tracking import TrackingHook

# The hooks, metrics and schemas are imported in execute(), so that the drift monitor's DAG file
# parses without loading them (docs/benchmarks.md, "DAG parsing").


class SelectModelOperator(BaseOperator):
    """
    The model to monitor: ``model_name`` if given, else the newest one recorded in ``automl_experiments``.

    Returns the model's name, label, positive class and validation AUROC (the drift baseline).

    :param conn_id: common-sql connection of the tracking tables. (templated)
    :param schema: schema of the tracking tables. (templated)
    :param model_name: the model; empty for the newest recorded one. (templated)
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    """

    template_fields: Sequence[str] = ("conn_id", "schema", "model_name", "model_store")
    ui_color = "#ededed"

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_CONN_ID,
        schema: str | None = None,
        model_name: str | None = None,
        model_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.schema = schema
        self.model_name = model_name
        self.model_store = model_store

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.hooks.model_store import ModelStoreHook
        from airflow_automl_provider.hooks.tracking import TrackingHook
        from airflow_automl_provider.schemas import EXPERIMENTS

        name = self.model_name or None
        if not name:
            hook = TrackingHook(conn_id=self.conn_id)
            d = hook.dialect
            table = d.table(EXPERIMENTS.name, self.schema or None)
            # NULLs sort first in PostgreSQL's DESC order, last elsewhere: leave them out.
            rows = hook.query(
                f"SELECT {d.quote('model_name')} FROM {table} WHERE {d.quote('session_time')} IS NOT NULL "
                f"ORDER BY {d.quote('session_time')} DESC, {d.quote('model_name')} DESC LIMIT 1"
            )
            if not rows:
                raise ValueError(f"No model_name given and no experiment recorded in {table}: train a model first.")
            name = rows[0][0]
        manifest = ModelStoreHook(base_uri=self.model_store or None).manifest(name)
        self.log.info("Monitoring model %s", name)
        return {
            "model_name": name,
            "label": manifest["label"],
            "problem_type": manifest["problem_type"],
            "positive_class": manifest.get("positive_class"),
            "validation_auroc": manifest.get("validation_auroc"),
            "test_table": self._test_table(name),
        }

    def _test_table(self, model_name: str) -> str | None:
        """The table the model's own experiment evaluated it on (for retraining), if one was recorded."""
        from airflow_automl_provider.hooks.tracking import TrackingHook
        from airflow_automl_provider.schemas import EVAL_RESULTS, EXPERIMENTS

        hook = TrackingHook(conn_id=self.conn_id)
        if not {EXPERIMENTS.name, EVAL_RESULTS.name} <= hook.table_names(self.schema or None):
            return None
        d = hook.dialect
        e, r = d.table(EXPERIMENTS.name, self.schema or None), d.table(EVAL_RESULTS.name, self.schema or None)
        q = d.quote
        rows = hook.query(
            f"SELECT r.{q('test_table')} FROM {r} r JOIN {e} e ON e.{q('dag_id')} = r.{q('dag_id')} "
            f"AND e.{q('run_id')} = r.{q('run_id')} AND e.{q('model_name')} = r.{q('model_name')} "
            f"WHERE e.{q('model_name')} = {d.placeholder} ORDER BY r.{q('test_table')} LIMIT 1",
            [model_name],
        )
        return rows[0][0] if rows else None


class PerformanceDriftOperator(BaseOperator):
    """
    AUROC of the day's prediction table against the threshold, the baseline and the recorded history.

    A batch with fewer than ``min_rows`` rows, or fewer than ``min_rows`` rows in either class, is
    reported as ``insufficient_data`` (recorded, never alerted on). With ``significance="delong"`` the
    DeLong confidence interval of the AUROC is computed (reads the score and label columns).

    :param conn_id: common-sql connection. (templated)
    :param table: the day's prediction table. (templated)
    :param schema: its schema, and the tracking tables'. (templated)
    :param target_column: the true label. (templated)
    :param positive_class: the positive label. (templated)
    :param score_column: probability of the positive class. (templated)
    :param model_name: the monitored model, to read its history. (templated)
    :param test_table: the monitored input table, to read its history. (templated)
    :param baseline: the model's validation AUROC. (templated)
    :param threshold: the AUROC threshold, to count consecutive runs under it. (templated)
    :param min_rows: smallest batch that is judged. (templated)
    :param significance: ``none`` or ``delong``. (templated)
    :param confidence: level of the DeLong interval. (templated)
    :param consecutive_runs: how many recorded runs to read back. (templated)
    :param score_class: the class whose probability ``score_column`` holds (the model's positive class);
        a different ``positive_class`` is refused. Empty: not checked. (templated)
    :param problem_type: the model's problem type; only ``binary`` models are judged (AUROC), any
        other fails the task with a message saying so. Empty: not checked. (templated)
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "table",
        "schema",
        "target_column",
        "positive_class",
        "score_class",
        "problem_type",
        "score_column",
        "model_name",
        "test_table",
        "baseline",
        "threshold",
        "min_rows",
        "significance",
        "confidence",
        "consecutive_runs",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_CONN_ID,
        table: str,
        schema: str | None = None,
        target_column: str,
        positive_class: Any,
        score_column: str = "predicted_proba",
        model_name: str,
        test_table: str,
        baseline: float | str | None = None,
        threshold: float | str = 0.93,
        min_rows: int | str = 100,
        significance: str = "none",
        confidence: float | str = 0.95,
        consecutive_runs: int | str = 1,
        score_class: Any = None,
        problem_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.score_class = score_class
        self.problem_type = problem_type
        self.conn_id = conn_id
        self.table = table
        self.schema = schema
        self.target_column = target_column
        self.positive_class = positive_class
        self.score_column = score_column
        self.model_name = model_name
        self.test_table = test_table
        self.baseline = baseline
        self.threshold = threshold
        self.min_rows = min_rows
        self.significance = significance
        self.confidence = confidence
        self.consecutive_runs = consecutive_runs

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider import metrics as m
        from airflow_automl_provider.hooks.tracking import TrackingHook
        from airflow_automl_provider.operators.evaluation import _columns, check_score_class

        if self.problem_type not in (None, "", "None", "binary"):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                f"Model {self.model_name!r} is a {self.problem_type} model: the drift monitor judges the AUROC of "
                "binary models only, so its performance cannot be monitored (its data drift is recorded)."
            )
        check_score_class(self.positive_class, self.score_class, self.score_column)
        hook = TrackingHook(conn_id=self.conn_id)
        schema = self.schema or None
        cols = _columns(hook, self.table, schema, target=self.target_column, score=self.score_column)
        # A typo, or labels stored as 0.0/1.0 for a model trained on 0/1, must not read as "0 positive".
        try:
            positive = hook.resolve_label(self.table, schema, self.target_column, self.positive_class)
        except m.EvaluationError:
            if self.score_class in (None, "", "None"):
                raise
            positive = str(self.positive_class)  # the model's own class, absent from this batch: judged below
        (row,) = hook.query(m.auroc_query(hook.dialect, cols), [positive])
        rows, pos, neg = int(row[0] or 0), int(row[5] or 0), int(row[6] or 0)
        min_rows = int(self.min_rows)
        baseline = None if self.baseline in (None, "", "None") else float(self.baseline)
        result: dict[str, Any] = {
            "model_name": self.model_name,
            "rows": rows,
            "positives": pos,
            "baseline": baseline,
            "status": "ok",
        }
        if rows == 0:
            raise ValueError(f"Prediction table {cols.table} has no rows: there is no batch to judge.")
        if rows < min_rows or min(pos, neg) < min_rows:
            reason = (
                f"batch too small to judge: {rows} rows, {pos} positive and {neg} negative "
                f"(min_rows is {min_rows} rows, and in each class)"
            )
            self.log.warning(reason)
            return {**result, "status": "insufficient_data", "reason": reason, "auc": None}
        result.update(m.auroc_from_row(row, table=cols.table, score_column=self.score_column, positive_class=positive))
        result["auroc"] = result["auc"]
        if self.significance == "delong":
            result.update(self._delong(hook, schema, positive))
        elif self.significance not in ("none", "", None):
            raise ValueError(f"Unknown significance {self.significance!r}: expected 'none' or 'delong'.")
        result["consecutive_below"] = self._consecutive_below(hook, schema, context, result["auc"])
        self.log.info("Performance of %s on %s: %s", self.model_name, self.table, result)
        return result

    def _delong(self, hook: TrackingHook, schema: str | None, positive: str) -> dict[str, Any]:
        from airflow_automl_provider.drift import auc_confidence_interval

        frame = hook.read_frame(self.table, schema, [self.target_column, self.score_column])
        y = (frame[self.target_column].astype(str) == positive).to_numpy()
        level = float(self.confidence)
        auc, low, high = auc_confidence_interval(y, frame[self.score_column].to_numpy(), alpha=1 - level)
        return {"auc_low": low, "auc_high": high, "confidence": level}

    def _consecutive_below(self, hook: TrackingHook, schema: str | None, context: Context, auc: float) -> int:
        """Runs in a row under the threshold, this one included, from the recorded evaluations."""
        from airflow_automl_provider.drift import consecutive_below
        from airflow_automl_provider.schemas import EVAL_RESULTS
        from airflow_automl_provider.sql import timestamp_value

        wanted = max(int(self.consecutive_runs), 1)
        history: list[float | None] = []
        if wanted > 1:
            d = hook.dialect
            ph = d.placeholder
            table = d.table(EVAL_RESULTS.name, schema)
            rows = hook.query(
                f"SELECT {d.quote('auroc')} FROM {table} WHERE {d.quote('model_name')} = {ph} "
                f"AND {d.quote('test_table')} = {ph} AND {d.quote('run_id')} <> {ph} "
                f"AND {d.quote('session_time')} < {ph} ORDER BY {d.quote('session_time')} DESC LIMIT {wanted - 1}",
                [self.model_name, self.test_table, context["ti"].run_id, timestamp_value(d, session_time(context))],
            )
            history = [None if r[0] is None else float(r[0]) for r in reversed(rows)]
        return consecutive_below([*history, auc], float(self.threshold))


class DataDriftOperator(BaseOperator):
    """
    Data drift of every feature between the model's training data and a batch, one row each in
    ``automl_drift_results``.

    The training side is the reference profile saved with the model at training time, so the
    training table is not read again.

    :param conn_id: common-sql connection. (templated)
    :param table: the batch (the day's prediction table holds the features). (templated)
    :param schema: its schema, and the tracking tables'. (templated)
    :param model_name: the monitored model. (templated)
    :param test_table: the monitored input table, as recorded. (templated)
    :param numeric_threshold: normed Wasserstein distance from which a numeric feature drifted. (templated)
    :param categorical_threshold: Jensen-Shannon distance from which a categorical feature drifted. (templated)
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "table",
        "schema",
        "model_name",
        "test_table",
        "numeric_threshold",
        "categorical_threshold",
        "model_store",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_CONN_ID,
        table: str,
        schema: str | None = None,
        model_name: str,
        test_table: str,
        numeric_threshold: float | str = 0.1,
        categorical_threshold: float | str = 0.1,
        model_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.table = table
        self.schema = schema
        self.model_name = model_name
        self.test_table = test_table
        self.numeric_threshold = numeric_threshold
        self.categorical_threshold = categorical_threshold
        self.model_store = model_store

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.drift import compute_feature_drift, drifted_share
        from airflow_automl_provider.hooks.model_store import ModelStoreHook
        from airflow_automl_provider.hooks.tracking import TrackingHook
        from airflow_automl_provider.operators.autogluon import REFERENCE_PROFILE
        from airflow_automl_provider.schemas import DRIFT_RESULTS
        from airflow_automl_provider.sql import timestamp_value

        store = ModelStoreHook(base_uri=self.model_store or None)
        manifest = store.manifest(self.model_name)
        profile = json.loads(store.read_extra(manifest, REFERENCE_PROFILE))
        features = [entry["name"] for entry in profile["features"]]
        hook = TrackingHook(conn_id=self.conn_id)
        schema = self.schema or None
        batch = hook.read_frame(self.table, schema, features)
        if batch.empty:
            raise ValueError(f"Batch table {hook.dialect.table(self.table, schema)} has no rows to compare.")
        results = compute_feature_drift(
            profile,
            batch,
            numeric_threshold=float(self.numeric_threshold),
            categorical_threshold=float(self.categorical_threshold),
        )
        ti = context["ti"]
        when = timestamp_value(hook.dialect, session_time(context))
        hook.upsert(
            DRIFT_RESULTS,
            [
                {
                    "session_time": when,
                    "model_name": self.model_name,
                    "test_table": self.test_table,
                    **{k: r[k] for k in ("feature", "kind", "statistic", "value", "threshold", "psi", "test")},
                    "drifted": bool(r["drifted"]),
                    "p_value": r["p_value"],
                    "reference_rows": r["reference_rows"],
                    "batch_rows": r["batch_rows"],
                    "dag_id": ti.dag_id,
                    "run_id": ti.run_id,
                }
                for r in results
            ],
            schema,
        )
        drifted = [
            {k: r[k] for k in ("feature", "statistic", "value", "threshold", "psi", "p_value")}
            for r in results
            if r["drifted"]
        ]
        share = drifted_share(results)
        self.log.info("Data drift of %s: %d of %d features drifted %s", self.table, len(drifted), len(results), drifted)
        return {
            "model_name": self.model_name,
            "features": len(results),
            "drifted": drifted,
            "drifted_share": share,
            "rows": len(batch),
        }
