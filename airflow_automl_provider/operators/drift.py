"""Operators of the drift monitor: pick the model, measure performance drift and data drift, record them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.links import MonitoringLink
from airflow_automl_provider.operators.base import AutoMLBaseOperator
from airflow_automl_provider.operators.tracking import session_time

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context

    from airflow_automl_provider.hooks.tracking import TrackingHook
    from airflow_automl_provider.sql import TableRef

# The hooks (AutoMLBaseOperator's accessors), metrics and schemas are imported when a task runs, so that the
# drift monitor's DAG file parses without loading them (docs/benchmarks.md, "DAG parsing").


class SelectModelOperator(AutoMLBaseOperator):
    """
    The model to monitor: ``model_name`` if given, else the newest one recorded in ``automl_experiments``.

    Returns the model's name, label, positive class and validation AUROC, and the drift baseline: the
    AUROC its own experiment measured on its test table (with that table's name and the prediction
    table it was computed on), else the validation AUROC; ``baseline_source`` says which.

    :param conn_id: common-sql connection of the tracking tables. (templated)
    :param schema: schema of the tracking tables. (templated)
    :param model_name: the model; empty for the newest recorded one. (templated)
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    """

    template_fields: Sequence[str] = (*AutoMLBaseOperator.template_fields, "schema", "model_name", "model_store")
    ui_color = "#ededed"

    def __init__(
        self,
        *,
        schema: str | None = None,
        model_name: str | None = None,
        model_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.schema = schema
        self.model_name = model_name
        self.model_store = model_store

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.schemas import EXPERIMENTS

        name = self.model_name or None
        if not name:
            name = self.hook.newest_model(self.schema or None)
            if not name:
                table = self.hook.dialect.table(EXPERIMENTS.name, self.schema or None)
                raise ValueError(f"No model_name given and no experiment recorded in {table}: train a model first.")
        manifest = self.model_store_hook.manifest(name)
        self.log.info("Monitoring model %s", name)
        tested = self._test_evaluation(name)
        validation = manifest.get("validation_auroc")
        if tested and tested["auroc"] is not None:
            baseline, source = tested["auroc"], f"test AUROC on {tested['test_table']}"
        else:
            baseline, source = validation, "validation AUROC" if validation is not None else None
        return {
            "model_name": name,
            "label": manifest["label"],
            "problem_type": manifest["problem_type"],
            "positive_class": manifest.get("positive_class"),
            "validation_auroc": validation,
            "test_table": tested["test_table"] if tested else None,
            # The drop is measured against a table the model was not picked on, when there is one.
            "baseline_auroc": baseline,
            "baseline_source": source,
            "baseline_table": tested["predictions"] if tested else None,
        }

    def _test_evaluation(self, model_name: str) -> dict[str, Any] | None:
        """
        The evaluation the model's own experiment recorded (its newest): the test table, its AUROC,
        and the prediction table it was computed on, if that is recorded too.
        """
        found = self.hook.experiment_evaluation(model_name, self.schema or None)
        if found is None:
            return None
        return {key: found[key] for key in ("test_table", "auroc", "predictions")}


class PerformanceDriftOperator(AutoMLBaseOperator):
    """
    AUROC of the day's prediction table, with what the monitor's rules need to judge it.

    A batch with fewer than ``min_rows`` rows, or fewer rows of a class than the AUROC needs (1, and
    2 for DeLong's variance: :data:`~airflow_automl_provider.monitoring.MIN_CLASS_ROWS`), is reported as
    ``insufficient_data`` (recorded; its AUROC is not judged). Unless ``significance`` is ``none``
    the scores and labels are read to compute the DeLong interval of the AUROC. With ``sequential``
    (the default) the result also holds ``days``: the ``(auc, variance)`` of this day and of the
    last ``window_days - 1`` judged days with the same baseline, read back from
    ``automl_eval_results``; the variance is the one the AUROC would have if nothing had changed,
    from the DeLong components of the model on ``baseline_table`` (its experiment's predictions)
    over the day's class counts, or the day's own when there is no such table.

    :param conn_id: common-sql connection. (templated)
    :param table: the day's prediction table. (templated)
    :param schema: its schema, and the tracking tables'. (templated)
    :param target_column: the true label. (templated)
    :param positive_class: the positive label. (templated)
    :param score_column: probability of the positive class. (templated)
    :param model_name: the monitored model, to read its history. (templated)
    :param test_table: the monitored input table, to read its history. (templated)
    :param baseline: the AUROC the drop is measured against. (templated)
    :param baseline_source: what ``baseline`` is, for the reasons and the e-mail (e.g. "test AUROC on
        gluon_test"). (templated)
    :param baseline_table: the prediction table ``baseline`` was measured on (same label and score
        columns), in ``schema``; empty: unknown. (templated)
    :param threshold: the fixed AUROC threshold, to count consecutive runs under it; empty: none. (templated)
    :param min_rows: smallest batch, in rows, that is judged. (templated)
    :param significance: ``sequential``, ``delong`` or ``none``. (templated)
    :param confidence: level of the DeLong interval. (templated)
    :param consecutive_runs: how many recorded runs to read back for the fixed threshold. (templated)
    :param window_days: ``sequential``: how many days, this one included, to judge together. (templated)
    :param score_class: the class whose probability ``score_column`` holds (the model's positive class);
        a different ``positive_class`` is refused. Empty: not checked. (templated)
    :param problem_type: the model's problem type; only ``binary`` models are judged (AUROC), any
        other fails the task with a message saying so. Empty: not checked. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
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
        "baseline_source",
        "baseline_table",
        "threshold",
        "min_rows",
        "significance",
        "confidence",
        "consecutive_runs",
        "window_days",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        table: str,
        schema: str | None = None,
        target_column: str,
        positive_class: Any,
        score_column: str = "predicted_proba",
        model_name: str,
        test_table: str,
        baseline: float | str | None = None,
        baseline_source: str | None = None,
        baseline_table: str | None = None,
        threshold: float | str | None = None,
        min_rows: int | str = 100,
        significance: str = "sequential",
        confidence: float | str = 0.95,
        consecutive_runs: int | str = 1,
        window_days: int | str = 3,
        score_class: Any = None,
        problem_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.score_class = score_class
        self.problem_type = problem_type
        self.table = table
        self.schema = schema
        self.target_column = target_column
        self.positive_class = positive_class
        self.score_column = score_column
        self.model_name = model_name
        self.test_table = test_table
        self.baseline = baseline
        self.baseline_source = baseline_source
        self.baseline_table = baseline_table
        self.threshold = threshold
        self.min_rows = min_rows
        self.significance = significance
        self.confidence = confidence
        self.consecutive_runs = consecutive_runs
        self.window_days = window_days

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.evaluation import measures as m
        from airflow_automl_provider.evaluation.auroc import check_score_class
        from airflow_automl_provider.evaluation.auroc import resolve_columns as _columns
        from airflow_automl_provider.monitoring.rules import MIN_CLASS_ROWS, SIGNIFICANCES, optional_float
        from airflow_automl_provider.sql import TableRef

        if self.problem_type not in (None, "", "None", "binary"):
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                f"Model {self.model_name!r} is a {self.problem_type} model: the drift monitor judges the AUROC of "
                "binary models only, so its performance cannot be monitored (its data drift is recorded)."
            )
        significance = self.significance or "sequential"
        if significance not in SIGNIFICANCES:
            raise ValueError(f"Unknown significance {significance!r}: expected one of {', '.join(SIGNIFICANCES)}.")
        check_score_class(self.positive_class, self.score_class, self.score_column)
        hook = self.hook
        schema = self.schema or None
        table = TableRef.parse(self.table, schema)
        cols = _columns(hook, table, None, target=self.target_column, score=self.score_column)
        # A typo, or labels stored as 0.0/1.0 for a model trained on 0/1, must not read as "0 positive".
        try:
            positive = hook.resolve_label(table, None, self.target_column, self.positive_class)
        except m.EvaluationError:
            if self.score_class in (None, "", "None"):
                raise
            positive = str(self.positive_class)  # the model's own class, absent from this batch: judged below
        (row,) = hook.query(m.auroc_query(hook.dialect, cols), [positive])
        rows, pos, neg = int(row[0] or 0), int(row[5] or 0), int(row[6] or 0)
        min_rows = int(self.min_rows)
        baseline = optional_float(self.baseline)
        result: dict[str, Any] = {
            "model_name": self.model_name,
            "rows": rows,
            "positives": pos,
            "baseline": baseline,
            "baseline_source": (self.baseline_source or None) if baseline is not None else None,
            "status": "ok",
        }
        if rows == 0:
            raise ValueError(f"Prediction table {cols.table} has no rows: there is no batch to judge.")
        per_class = MIN_CLASS_ROWS[significance]
        if rows < min_rows or min(pos, neg) < per_class:
            reason = (
                f"batch too small to judge: {rows} rows, {pos} positive and {neg} negative "
                f"(min_rows is {min_rows} rows in all, and the AUROC needs {per_class} of each class)"
            )
            self.log.warning(reason)
            return {**result, "status": "insufficient_data", "reason": reason, "auc": None}
        result.update(m.auroc_from_row(row, table=cols.table, score_column=self.score_column, positive_class=positive))
        result["auroc"] = result["auc"]
        if significance != "none":
            result.update(self._delong(hook, table, positive))
        if significance == "sequential":
            result.update(self._sequential(hook, schema, context, result, positive))
        threshold = optional_float(self.threshold)
        result["consecutive_below"] = (
            self._consecutive_below(hook, schema, context, result["auc"], threshold) if threshold is not None else 0
        )
        self.log.info("Performance of %s on %s: %s", self.model_name, self.table, result)
        return result

    def _read_scores(self, hook: TrackingHook, table: TableRef, positive: str):
        from airflow_automl_provider.hooks.tracking import label_text

        frame = hook.read_frame(table, columns=[self.target_column, self.score_column])
        y = (frame[self.target_column].map(label_text) == positive).to_numpy()
        return y, frame[self.score_column].to_numpy(dtype="float64")

    def _delong(self, hook: TrackingHook, table: TableRef, positive: str) -> dict[str, Any]:
        from airflow_automl_provider.evaluation.delong import delong_auc_variance, interval_from_variance

        y, scores = self._read_scores(hook, table, positive)
        level = float(self.confidence)
        auc, variance = delong_auc_variance(y, scores)  # once: the interval and the rule both use it
        low, high = interval_from_variance(auc, variance, alpha=1 - level)
        return {"auc_low": low, "auc_high": high, "confidence": level, "auc_variance": variance}

    def _sequential(
        self, hook: TrackingHook, schema: str | None, context: Context, result: dict[str, Any], positive: str
    ) -> dict[str, Any]:
        """This day's null variance, the baseline's variance, and the judged days to test together."""
        from airflow_automl_provider.evaluation.delong import delong_components
        from airflow_automl_provider.sql import TableRef

        baseline = result["baseline"]
        null_variance, baseline_variance = result["auc_variance"], None
        if baseline is not None and self.baseline_table:
            table = TableRef.parse(self.baseline_table, schema)
            label = hook.resolve_label(table, None, self.target_column, positive)
            _, s10, s01, pb, nb = delong_components(*self._read_scores(hook, table, label))
            null_variance = s10 / result["positives"] + s01 / (result["rows"] - result["positives"])
            baseline_variance = s10 / pb + s01 / nb
        days = [*self._judged_days(hook, schema, context, baseline), [result["auc"], null_variance]]
        return {"auc_null_variance": null_variance, "baseline_variance": baseline_variance, "days": days}

    def _judged_days(
        self, hook: TrackingHook, schema: str | None, context: Context, baseline: float | None
    ) -> list[list[float]]:
        """
        ``[auc, null variance]`` of the days judged against the same baseline within the last ``window_days``
        days (half a day of slack for the runs' times), oldest first.
        """
        from datetime import timedelta

        wanted = max(int(self.window_days or 1), 1) - 1
        if wanted == 0 or baseline is None:
            return []
        since = session_time(context) - timedelta(days=wanted + 0.5)
        days = []
        for metrics in self._history(hook, schema, context, "metrics_json", 4 * wanted, since=since):
            try:
                report = json.loads(metrics or "{}")
            except ValueError:
                continue
            if report.get("baseline") is None or abs(float(report["baseline"]) - baseline) > 1e-12:
                break  # another model, or a model retrained under this name: a new sequence
            if report.get("auc") is not None and report.get("auc_null_variance") is not None:
                days.append([float(report["auc"]), float(report["auc_null_variance"])])
                if len(days) == wanted:
                    break
        return days[::-1]

    def _history(
        self, hook: TrackingHook, schema: str | None, context: Context, column: str, limit: int, since: Any = None
    ) -> list:
        """A column of this model's earlier evaluations of ``test_table`` (since ``since``), newest first."""
        return hook.evaluation_history(
            self.model_name,
            self.test_table,
            column,
            before=session_time(context),
            other_than_run=context["ti"].run_id,
            limit=limit,
            since=since,
            schema=schema,
        )

    def _consecutive_below(
        self, hook: TrackingHook, schema: str | None, context: Context, auc: float, threshold: float
    ) -> int:
        """Runs in a row under the threshold, this one included, from the recorded evaluations."""
        from airflow_automl_provider.monitoring.rules import consecutive_below

        wanted = max(int(self.consecutive_runs), 1)
        history: list[float | None] = []
        if wanted > 1:
            history = [
                None if v is None else float(v)
                for v in reversed(self._history(hook, schema, context, "auroc", wanted - 1))
            ]
        return consecutive_below([*history, auc], threshold)


class DataDriftOperator(AutoMLBaseOperator):
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
    :param method: ``tests`` (default): a feature drifted when one of its tests rejects at the
        family level ``alpha`` (Holm over all features) with at least its minimum effect;
        ``distance``: when its normed Wasserstein / Jensen-Shannon distance reaches the threshold
        below, whatever the batch size (Evidently's rule on large data). (templated)
    :param alpha: ``tests``: family-wise error rate over the batch's tests. (templated)
    :param numeric_threshold: ``distance``: normed Wasserstein distance from which a numeric feature
        drifted. (templated)
    :param categorical_threshold: ``distance``: Jensen-Shannon distance from which a categorical
        feature drifted. (templated)
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "table",
        "schema",
        "model_name",
        "test_table",
        "method",
        "alpha",
        "numeric_threshold",
        "categorical_threshold",
        "model_store",
    )
    ui_color = "#f0d5f7"
    operator_extra_links = (MonitoringLink(),)

    def __init__(
        self,
        *,
        table: str,
        schema: str | None = None,
        model_name: str,
        test_table: str,
        method: str = "tests",
        alpha: float | str | None = None,
        numeric_threshold: float | str = 0.1,
        categorical_threshold: float | str = 0.1,
        model_store: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.schema = schema
        self.model_name = model_name
        self.test_table = test_table
        self.method = method
        self.alpha = alpha
        self.numeric_threshold = numeric_threshold
        self.categorical_threshold = categorical_threshold
        self.model_store = model_store

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.monitoring.rules import optional_float
        from airflow_automl_provider.monitoring.statistics import DEFAULT_ALPHA, compute_feature_drift, drifted_share
        from airflow_automl_provider.operators.autogluon import REFERENCE_PROFILE
        from airflow_automl_provider.schemas import DRIFT_RESULTS
        from airflow_automl_provider.sql import TableRef, timestamp_value

        store = self.model_store_hook
        manifest = store.manifest(self.model_name)
        profile = json.loads(store.read_extra(manifest, REFERENCE_PROFILE))
        features = [entry["name"] for entry in profile["features"]]
        hook = self.hook
        schema = self.schema or None
        table = TableRef.parse(self.table, schema)
        batch = hook.read_frame(table, columns=features)
        if batch.empty:
            raise ValueError(f"Batch table {hook.dialect.table(table)} has no rows to compare.")
        method = self.method or "tests"
        alpha = optional_float(self.alpha)
        alpha = DEFAULT_ALPHA if alpha is None else alpha
        results = compute_feature_drift(
            profile,
            batch,
            method=method,
            alpha=alpha,
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
                    "alpha": r["alpha"],
                    "distance": r["distance"],
                    "tests_json": json.dumps(r["tests"], sort_keys=True),
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
            {k: r[k] for k in ("feature", "test", "statistic", "value", "threshold", "p_value", "alpha", "psi")}
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
            "method": method,
            "alpha": alpha,
            "rows": len(batch),
        }
