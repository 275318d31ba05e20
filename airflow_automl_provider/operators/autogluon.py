"""Train an AutoGluon ``TabularPredictor`` on a SQL table, and predict a SQL table with it."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import itertools
import json
import logging
import tempfile
import time
import uuid
from typing import TYPE_CHECKING, Any

from airflow_automl_provider.constants import DEFAULT_CHUNK_ROWS
from airflow_automl_provider.links import ModelReportLink
from airflow_automl_provider.operators.base import AutoMLBaseOperator

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pandas as pd
    from airflow.sdk import Context

    from airflow_automl_provider.hooks.tracking import TimeWindow

# The hooks (AutoMLBaseOperator's accessors) and the SQL helpers are imported when a task runs, so that DAG
# files using these operators parse without loading them (docs/benchmarks.md, "DAG parsing").

PROBLEM_TYPES = ("binary", "multiclass", "regression", "quantile")
REFERENCE_PROFILE = "reference_profile.json"
LEADERBOARD = "leaderboard.json"
FEATURE_IMPORTANCE = "feature_importance.json"
# Model families that need torch; skipped (without a warning per model) when torch is absent.
TORCH_MODEL_TYPES = ["NN_TORCH", "FASTAI", "TABPFNV2", "TABICL", "MITRA", "TABM", "REALMLP"]


class _DropMessages(logging.Filter):
    """Drop AutoGluon records that mislead in a task log (see :func:`_autogluon_logging`)."""

    def __init__(self, *needles: str) -> None:
        super().__init__()
        self.needles = needles

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(n in message for n in self.needles)


# logger -> what it says that does not belong in a task log.
_MISLEADING = {
    # Without torch, a "Failed to import torch" error per model family is expected (they are excluded).
    "autogluon.common.utils.resource_utils": ("Failed to import torch",),
    # The fit saves into a temporary folder that is gone when the task ends; the model store's copy is logged.
    "autogluon.tabular.predictor.predictor": ("To load, use: predictor = TabularPredictor.load(",),
}


@contextlib.contextmanager
def _autogluon_logging() -> Iterator[None]:
    """
    AutoGluon's progress as ordinary log records, at their own level, while the block runs.

    AutoGluon writes its log to stderr through a handler of its own (and stops propagation), and a
    supervised Airflow task shows every stderr line as an ERROR; through Python logging the same lines
    reach the task log at INFO (warnings at WARNING). A real failure still raises and is logged as one.
    """
    # AutoGluon's packages install their stderr handler when first imported: import them before replacing it.
    import autogluon.tabular  # noqa: F401

    ag = logging.getLogger("autogluon")
    streams = [
        h for h in ag.handlers if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    propagate = ag.propagate
    filters = []
    for name, needles in _MISLEADING.items():
        if name == "autogluon.common.utils.resource_utils" and importlib.util.find_spec("torch") is not None:
            continue
        drop = _DropMessages(*needles)
        logging.getLogger(name).addFilter(drop)
        filters.append((name, drop))
    for handler in streams:
        ag.removeHandler(handler)
    ag.propagate = True
    try:
        yield
    finally:
        ag.propagate = propagate
        for handler in streams:
            ag.addHandler(handler)
        for name, drop in filters:
            logging.getLogger(name).removeFilter(drop)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    """Columns given as a list or as comma-separated text (as a form field gives them)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _hyperparameters(value: dict[str, Any] | str | None) -> dict[str, Any] | None:
    """AutoGluon ``hyperparameters`` given as a dict or as JSON text (as a form field gives them)."""
    if not value:
        return None
    return json.loads(value) if isinstance(value, str) else value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A small DataFrame as JSON-safe dicts."""
    return json.loads(df.to_json(orient="records"))


class AutoGluonTrainOperator(AutoMLBaseOperator):
    """
    Fit an AutoGluon ``TabularPredictor`` on a SQL table and save it to the model store.

    :param conn_id: common-sql connection of the input table (and of the export tables). (templated)
    :param input_table: training table, ``table`` or ``schema.table``. (templated)
    :param target_column: the label column. (templated)
    :param model_name: name to save the model under (letters, digits, ``_``, ``-``, ``.``). (templated)
    :param time_limit: soft limit of the fit in seconds, as AutoGluon's ``time_limit``. (templated)
    :param problem_type: ``binary``, ``multiclass``, ``regression`` or ``quantile``; empty to infer. (templated)
    :param eval_metric: AutoGluon metric name, for example ``roc_auc``; empty for the default. (templated)
    :param presets: AutoGluon presets, for example ``medium_quality``. (templated)
    :param ignore_columns: columns not to train on (list or comma-separated); missing ones are skipped. (templated)
    :param hyperparameters: AutoGluon ``hyperparameters`` dict; empty for the presets' own. (templated)
    :param share_model: give the model a shareable id (UUID) that others can predict with. (templated)
    :param export_leaderboard: table to write the leaderboard to, replaced whole. (templated)
    :param export_feature_importance: table to write permutation feature importance to. (templated)
    :param input_schema: schema of ``input_table`` when not qualified. (templated)
    :param output_schema: schema of the export tables when not qualified. (templated)
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    :param fit_kwargs: further keyword arguments of ``TabularPredictor.fit``. (templated)
    :param check_input_tables: tables the tasks after this one read (``table`` or ``schema.table``, in
        ``input_schema`` when not qualified): each must exist, checked before the fit, so a missing test
        table fails the run before the expensive part. (templated)
    :param check_output_tables: tables the tasks after this one write (in ``output_schema`` when not
        qualified): their names are checked before the fit (a derived name over 63 characters, say). (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "input_table",
        "target_column",
        "model_name",
        "time_limit",
        "problem_type",
        "eval_metric",
        "presets",
        "ignore_columns",
        "hyperparameters",
        "share_model",
        "export_leaderboard",
        "export_feature_importance",
        "input_schema",
        "output_schema",
        "model_store",
        "fit_kwargs",
        "check_input_tables",
        "check_output_tables",
    )
    template_fields_renderers = {"hyperparameters": "json", "fit_kwargs": "json"}
    ui_color = "#d5e8f7"
    operator_extra_links = (ModelReportLink(),)

    def __init__(
        self,
        *,
        input_table: str,
        target_column: str,
        model_name: str,
        time_limit: int | str | None = 3600,
        problem_type: str | None = None,
        eval_metric: str | None = None,
        presets: str | list[str] | None = None,
        ignore_columns: str | list[str] | None = None,
        hyperparameters: dict[str, Any] | str | None = None,
        share_model: bool = True,
        export_leaderboard: str | None = None,
        export_feature_importance: str | None = None,
        input_schema: str | None = None,
        output_schema: str | None = None,
        model_store: str | None = None,
        fit_kwargs: dict[str, Any] | None = None,
        check_input_tables: Sequence[str] | str | None = None,
        check_output_tables: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check_input_tables = check_input_tables
        self.check_output_tables = check_output_tables
        self.input_table = input_table
        self.target_column = target_column
        self.model_name = model_name
        self.time_limit = time_limit
        self.problem_type = problem_type
        self.eval_metric = eval_metric
        self.presets = presets
        self.ignore_columns = ignore_columns
        self.hyperparameters = hyperparameters
        self.share_model = share_model
        self.export_leaderboard = export_leaderboard
        self.export_feature_importance = export_feature_importance
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.model_store = model_store
        self.fit_kwargs = fit_kwargs

    def _checked_time_limit(self) -> float | None:
        if self.time_limit in (None, ""):
            return None
        try:
            limit = float(self.time_limit)
        except (TypeError, ValueError):
            raise ValueError(f"Invalid time_limit {self.time_limit!r}: expected a number of seconds.") from None
        if not limit > 0:
            raise ValueError(f"Invalid time_limit {self.time_limit!r}: expected a positive number of seconds.")
        return limit

    def _validate(self) -> tuple[float | None, str | None, str | None]:
        from airflow_automl_provider.hooks.model_store import validate_model_name
        from airflow_automl_provider.sql import TableRef, validate_column

        # Every name is checked before any work, so a bad one never leaves a fitted model behind.
        validate_model_name(self.model_name)
        validate_column(self.target_column)
        TableRef.parse(self.input_table, self.input_schema)
        for export in (self.export_leaderboard, self.export_feature_importance, *_as_list(self.check_output_tables)):
            if export:
                TableRef.parse(export, self.output_schema)
        for table in _as_list(self.check_input_tables):
            TableRef.parse(table, self.input_schema)
        problem_type = self.problem_type or None
        if problem_type is not None and problem_type not in PROBLEM_TYPES:
            raise ValueError(f"Unknown problem_type {problem_type!r}: expected one of {list(PROBLEM_TYPES)} or empty.")
        eval_metric = self.eval_metric or None
        if eval_metric is not None:
            from autogluon.core.metrics import METRICS

            known = sorted({name for metrics in METRICS.values() for name in metrics})
            if eval_metric not in known:
                raise ValueError(f"Unknown eval_metric {eval_metric!r}: expected one of {known}.")
        return self._checked_time_limit(), problem_type, eval_metric

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.sql import TableRef

        time_limit, problem_type, eval_metric = self._validate()
        source = TableRef.parse(self.input_table, self.input_schema)
        hook = self.hook
        ignore = _as_list(self.ignore_columns)
        existing = hook.check_columns(source, None, [self.target_column])
        for table in _as_list(self.check_input_tables):  # what later tasks read: there before the fit
            hook.columns(table, self.input_schema)
        hook.check_schema(self.output_schema or None)
        if self.target_column in ignore:
            raise ValueError(f"target_column {self.target_column!r} is also listed in ignore_columns.")
        skipped = [c for c in ignore if c not in existing]
        if skipped:
            self.log.info("ignore_columns not in the table, nothing to drop: %s", skipped)
        columns = [c for c in existing if c not in ignore]
        if columns == [self.target_column]:
            raise ValueError(
                f"ignore_columns {ignore} leaves no feature to train on in table "
                f"{hook.dialect.table(source)}: its columns are {existing}, "
                f"{self.target_column!r} is the label. Remove some columns from ignore_columns."
            )
        df = hook.read_frame(source, columns=columns)
        table_name, plain_name = hook.dialect.table(source), str(source)
        if df.empty:
            raise ValueError(f"Training table {table_name} has no rows.")
        labels = df[self.target_column].dropna()
        if labels.empty:
            raise ValueError(f"Target column {self.target_column!r} of table {table_name} has only NULL values.")
        if problem_type != "regression" and labels.nunique() < 2:
            raise ValueError(
                f"Target column {self.target_column!r} of table {table_name} has a single class "
                f"{labels.iloc[0]!r}: expected at least two classes to train a classifier."
            )
        self.log.info("Training on %s: %d rows, %d columns", table_name, len(df), len(df.columns))

        store = self.model_store_hook
        with _autogluon_logging(), tempfile.TemporaryDirectory(prefix="automl_train_") as tmp:
            predictor, fit_seconds = self._fit(df, tmp + "/predictor", time_limit, problem_type, eval_metric)
            leaderboard = predictor.leaderboard(silent=True)
            importance, importance_data = self._feature_importance(predictor, df, time_limit)
            # Kept with the model (the export tables hold only the newest model's), for comparing models.
            leaderboard_records = _records(leaderboard)
            importance_records = _records(importance.reset_index(names="feature")) if importance is not None else None
            from airflow_automl_provider.report import data_summary, render_report, validation_curves

            validation = _validation_predictions(predictor)
            threshold = predictor.decision_threshold if predictor.problem_type == "binary" else None
            curves = validation_curves(*validation, threshold=threshold) if validation else None
            result = self._summary(predictor, leaderboard, df, plain_name, fit_seconds, curves, time_limit)
            shared_model = str(uuid.uuid4()) if self.share_model else None
            trained_at = context["dag_run"].run_after.isoformat() if "dag_run" in context else None
            report = render_report(
                {
                    **result,
                    "shared_model": shared_model,
                    "time_limit": time_limit,
                    "presets": self.presets,
                    "input_table": plain_name,
                    "label": self.target_column,
                    "trained_at": trained_at,
                    "autogluon_version": _autogluon_version(),
                    "importance_data": importance_data,
                },
                leaderboard_records,
                importance_records or [],
                data=data_summary(df, self.target_column, problem_type=predictor.problem_type),
                curves=curves,
            )
            from airflow_automl_provider.monitoring.statistics import build_reference_profile

            profile = build_reference_profile(df, result["features"])
            manifest = store.save(
                tmp + "/predictor",
                self.model_name,
                {
                    **result,
                    "label": self.target_column,
                    "class_labels": [str(c) for c in predictor.class_labels or []],
                    "feature_types": {c: str(df[c].dtype) for c in result["features"]},
                    "autogluon_version": _autogluon_version(),
                    "trained_at": trained_at,
                },
                share=bool(self.share_model),
                report_html=report,
                extras={
                    REFERENCE_PROFILE: json.dumps(profile),
                    LEADERBOARD: json.dumps(leaderboard_records),
                    **({FEATURE_IMPORTANCE: json.dumps(importance_records)} if importance_records is not None else {}),
                },
                shared_model=shared_model,
            )

        self.log.info("Saved model %s to %s", self.model_name, manifest["model_uri"])
        if self.export_leaderboard:
            lb = leaderboard.copy()
            lb.insert(0, "model_name", self.model_name)
            hook.replace_with_frame(self.export_leaderboard, lb, self.output_schema)
        if self.export_feature_importance and importance is not None:
            fi = importance.reset_index(names="feature")
            fi.insert(0, "model_name", self.model_name)
            hook.replace_with_frame(self.export_feature_importance, fi, self.output_schema)
        xcom = {
            **result,
            "shared_model": manifest["shared_model"],
            "model_uri": manifest["model_uri"],
            "report_uri": manifest["report_uri"],
        }
        self._announce(context, xcom)
        return xcom

    def _announce(self, context: Context, xcom: dict[str, Any]) -> None:
        """Put the new model on the events of the task's asset outlets, for DAGs scheduled on them."""
        from airflow.sdk import Asset

        events = context.get("outlet_events")
        for outlet in self.outlets or []:
            if events is not None and isinstance(outlet, Asset):
                events[outlet].extra = {k: xcom[k] for k in ("model_name", "shared_model", "model_uri", "problem_type")}

    def _fit(
        self, df: pd.DataFrame, path: str, time_limit: float | None, problem_type: str | None, eval_metric: str | None
    ) -> tuple[Any, float]:
        from autogluon.tabular import TabularPredictor

        fit_kwargs: dict[str, Any] = dict(self.fit_kwargs or {})
        if self.hyperparameters:
            fit_kwargs["hyperparameters"] = _hyperparameters(self.hyperparameters)
        elif importlib.util.find_spec("torch") is None:
            fit_kwargs.setdefault("excluded_model_types", TORCH_MODEL_TYPES)
        if self.presets:
            fit_kwargs["presets"] = self.presets
        predictor = TabularPredictor(
            label=self.target_column,
            problem_type=problem_type,
            eval_metric=eval_metric,
            path=path,
            verbosity=2,
            log_to_file=False,
        )
        started = time.monotonic()
        predictor.fit(df, time_limit=time_limit, **fit_kwargs)
        return predictor, time.monotonic() - started

    def _feature_importance(
        self, predictor: Any, df: pd.DataFrame, time_limit: float | None
    ) -> tuple[pd.DataFrame | None, str | None]:
        """Permutation importance, and which rows it was measured on (for the report's caption)."""
        if not self.export_feature_importance:
            return None, None
        budget = max(10.0, 0.2 * time_limit) if time_limit else None
        try:
            # The fit's own holdout set when there is one (no bagging), so the figures are out of sample.
            return predictor.feature_importance(data=None, time_limit=budget, silent=True), "AutoGluon's holdout rows"
        except Exception:
            n = min(len(df), 5000)
            sample = df.sample(n=n, random_state=0)
            importance = predictor.feature_importance(data=sample, time_limit=budget, silent=True)
            return importance, f"a sample of {n:,} training rows (in-sample: no holdout set)"

    def _summary(
        self,
        predictor: Any,
        leaderboard: pd.DataFrame,
        df: pd.DataFrame,
        table_name: str,
        fit_seconds: float,
        validation_curves: dict[str, Any] | None,
        time_limit: float | None,
    ) -> dict[str, Any]:
        best = predictor.model_best
        score_val = leaderboard.loc[leaderboard["model"] == best, "score_val"]
        positive = predictor.positive_class if predictor.problem_type == "binary" else None
        return {
            "model_name": self.model_name,
            "problem_type": predictor.problem_type,
            "eval_metric": predictor.eval_metric.name,
            "positive_class": positive.item() if hasattr(positive, "item") else positive,
            "best_model": best,
            "score_val": float(score_val.iloc[0]) if len(score_val) else None,
            "num_rows_train": len(df),
            "features": list(predictor.features()),
            "validation_auroc": validation_curves["auroc"] if validation_curves else None,
            "fit_seconds": round(fit_seconds, 3),
            "input_table": table_name,
            "time_limit": time_limit,
            "presets": self.presets or None,
            "fit_params": {
                "time_limit": time_limit,
                "presets": self.presets or None,
                "eval_metric": predictor.eval_metric.name,
                "problem_type": predictor.problem_type,
                "ignore_columns": _as_list(self.ignore_columns),
                "hyperparameters": _hyperparameters(self.hyperparameters),
            },
        }


def _validation_predictions(predictor: Any) -> tuple[Any, Any] | None:
    """
    Labels (1 = positive) and scores of the best model on AutoGluon's own holdout rows, or its
    out-of-fold rows when bagged: what the model did on data it was not fitted on. Binary only.
    """
    if predictor.problem_type != "binary":
        return None
    best = predictor.model_best
    proba = predictor.predict_proba_multi(models=[best], as_multiclass=False)[best]
    _, y = predictor.load_data_internal("val" if predictor.has_val else "train", return_X=False, return_y=True)
    return y.loc[proba.index].to_numpy(), proba.to_numpy()


def _autogluon_version() -> str:
    from importlib.metadata import version

    return version("autogluon.tabular")


class AutoGluonPredictOperator(AutoMLBaseOperator):
    """
    Apply a saved model to a SQL table and write the predictions to another table, in chunks.

    The output has the input columns (or only ``rowid_column`` and the label, when given), then
    ``predicted_<target>``, ``predicted_proba`` (binary: probability of the positive class;
    multiclass: of the predicted class) and ``predicted_probabilities`` (JSON class -> probability).
    The output table is replaced whole in one transaction, or left as it was.

    Memory stays that of a few chunks however long the table. Prediction of one chunk runs in a
    worker thread while the next is read and the last written; PostgreSQL reads and writes go
    through ``COPY`` parsed and written by Arrow; on SQLite only the features pass through Python
    and SQLite copies the kept columns itself (by ``rowid``). ``docs/benchmarks.md`` has the figures.

    :param conn_id: common-sql connection of the input and output tables. (templated)
    :param model_name: model to apply (or give ``shared_model``). (templated)
    :param shared_model: shared id (UUID) of the model to apply. (templated)
    :param input_table: table to predict, ``table`` or ``schema.table``. (templated)
    :param output_table: table to write, replaced whole. (templated)
    :param rowid_column: keep only this column (and the label, if present) beside the predictions. (templated)
    :param ignore_columns: input columns not to copy to the output (list or comma-separated). (templated)
    :param input_schema: schema of ``input_table`` when not qualified. (templated)
    :param output_schema: schema of ``output_table`` when not qualified. (templated)
    :param chunk_rows: rows read, predicted and written at a time.
    :param model_store: model store base URL; default ``[automl] model_store``. (templated)
    :param time_column: predict only the rows whose ``time_column`` is in ``[time_start, time_end)``;
        the bounds default to the run's data interval. (templated)
    :param time_start: start of the window (datetime or ISO text). (templated)
    :param time_end: end of the window, excluded. (templated)
    """

    template_fields: Sequence[str] = (
        *AutoMLBaseOperator.template_fields,
        "model_name",
        "shared_model",
        "input_table",
        "output_table",
        "rowid_column",
        "ignore_columns",
        "input_schema",
        "output_schema",
        "model_store",
        "time_column",
        "time_start",
        "time_end",
    )
    ui_color = "#d5f7e0"

    def __init__(
        self,
        *,
        model_name: str | None = None,
        shared_model: str | None = None,
        input_table: str,
        output_table: str,
        rowid_column: str | None = None,
        ignore_columns: str | list[str] | None = None,
        input_schema: str | None = None,
        output_schema: str | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        model_store: str | None = None,
        time_column: str | None = None,
        time_start: Any = None,
        time_end: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.time_column = time_column
        self.time_start = time_start
        self.time_end = time_end
        self.model_name = model_name
        self.shared_model = shared_model
        self.input_table = input_table
        self.output_table = output_table
        self.rowid_column = rowid_column
        self.ignore_columns = ignore_columns
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.chunk_rows = chunk_rows
        self.model_store = model_store

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl_provider.hooks.tracking import SOURCE_ROW, RowidJoin, frame_sql_types
        from airflow_automl_provider.pipeline import overlapped
        from airflow_automl_provider.schemas import PREDICTIONS
        from airflow_automl_provider.sql import TableRef, validate_column

        # Validated once, here; the hook's methods take the references as they are.
        source, target = (
            TableRef.parse(self.input_table, self.input_schema),
            TableRef.parse(self.output_table, self.output_schema),
        )
        hook = self.hook
        in_name, out_name = hook.dialect.table(source), hook.dialect.table(target)
        # As the database resolves names (default schema, case): `My_T`, `main.t`, `public.t` can be `t`.
        out_identity = hook.table_identity(target)
        if hook.table_identity(source) == out_identity:
            raise ValueError(
                f"output_table {out_name} is the input table {in_name}: the output replaces its table while the "
                "input is read, so give another output table."
            )
        store = self.model_store_hook
        with _autogluon_logging():
            predictor, manifest = store.load(self.model_name or None, self.shared_model or None)
        label = manifest["label"]
        features = manifest["features"]
        window = self._window(context)
        existing = hook.check_columns(source, None, [*features, *([window.column] if window else [])])
        unreadable = 0
        if window is not None:  # time as the column holds it: a timestamp, ISO text or Unix time
            window = dataclasses.replace(window, kind=hook.time_column_kind(source, None, window.column))
            unreadable = hook.count_unreadable_times(source, None, window)
            if unreadable:
                self.log.warning(
                    "%d rows of %s have a %s that does not read as a time; no time window holds them.",
                    unreadable,
                    in_name,
                    window.column,
                )
        pred_col = f"predicted_{label}"
        validate_column(pred_col)
        keep = self._kept_columns(existing, label)
        read = list(dict.fromkeys([*keep, *features]))
        join = None
        if hook.sqlite_rowids_readable(source):
            # SQLite copies the kept columns from the input itself; Python reads the features only.
            new_columns = {pred_col, "predicted_proba", "predicted_probabilities"}
            join = RowidJoin(source, [c for c in keep if c not in new_columns])
            read, keep = ["rowid", *features], [SOURCE_ROW]

        hook.create_tables(target.schema, [PREDICTIONS])
        total = hook.count_rows(source, window=window)  # for the progress log
        started = time.monotonic()
        state: dict[str, Any] = {"rows": 0}
        with (
            hook.transaction() as conn,
            hook.reader(conn) as reader,
            contextlib.closing(hook.iter_chunks(reader, source, None, read, self.chunk_rows, window)) as chunks,
        ):
            first = next(chunks, None)
            if first is None:
                where = f" with {window.column} in [{window.start}, {window.end})" if window else ""
                raise ValueError(f"Input table {in_name} has no rows{where} to predict.")

            def predict(chunk: pd.DataFrame) -> pd.DataFrame:
                if join is not None:
                    chunk = chunk.rename(columns={"rowid": SOURCE_ROW})
                return self._predict_chunk(predictor, manifest, chunk, keep, pred_col)

            predicted = overlapped(predict, itertools.chain([first], chunks))
            out_first = next(predicted)
            columns = frame_sql_types(out_first)

            def batches() -> Any:
                for out in itertools.chain([out_first], predicted):
                    state["rows"] += len(out)
                    rate = state["rows"] / max(time.monotonic() - started, 1e-9)
                    self.log.info(
                        "Predicted %d of %d rows of %s (%.0f rows/s, about %.0f s left)",
                        state["rows"],
                        total,
                        in_name,
                        rate,
                        max(total - state["rows"], 0) / rate,
                    )
                    yield out

            with contextlib.closing(predicted):
                hook.write_table(conn, target, None, columns, batches(), join)
            # Which model wrote the table, committed with it: the evaluation checks it.
            record = self._record(hook, out_identity[1], manifest, state["rows"], context)
            hook.upsert(PREDICTIONS, record, target.schema, conn)
        elapsed = time.monotonic() - started
        self.log.info("Wrote %d rows to %s in %.1f s", state["rows"], out_name, elapsed)
        return {
            "model_name": manifest["model_name"],
            "shared_model": manifest.get("shared_model"),
            "input_table": in_name,
            "output_table": out_name,
            "rows": state["rows"],
            "prediction_column": pred_col,
            "positive_class": manifest.get("positive_class"),
            "problem_type": manifest["problem_type"],
            # The input's columns the model does not read (the label apart): what retraining on this
            # table ignores, so that the new model reads the same features.
            "unused_columns": [c for c in existing if c not in features and c != label],
            "seconds": round(elapsed, 3),
            **({"unreadable_time_rows": unreadable} if window is not None else {}),
        }

    def _record(
        self, hook: Any, output_table: str, manifest: dict[str, Any], rows: int, context: Context
    ) -> dict[str, Any]:
        """The ``automl_predictions`` row of the table this task wrote."""
        from datetime import UTC, datetime

        from airflow_automl_provider.sql import timestamp_value

        ti = context.get("ti")
        positive = manifest.get("positive_class")
        return {
            "output_table": output_table,
            "input_table": hook.dialect.table(self.input_table, self.input_schema),
            "model_name": manifest["model_name"],
            "model_version": manifest.get("version"),
            "shared_model": manifest.get("shared_model"),
            "positive_class": None if positive is None else str(positive),
            "num_rows": rows,
            "dag_id": getattr(ti, "dag_id", None),
            "run_id": getattr(ti, "run_id", None),
            # When the rows were written (not a run's logical time): which write the record describes.
            "written_at": timestamp_value(hook.dialect, datetime.now(UTC)),
        }

    def _window(self, context: Context) -> TimeWindow | None:
        from airflow_automl_provider.hooks.tracking import TimeWindow

        if not self.time_column:
            return None
        start = self.time_start or context.get("data_interval_start")
        end = self.time_end or context.get("data_interval_end")
        if start is None or end is None:
            raise ValueError(
                f"time_column {self.time_column!r} is set but the run has no data interval: give time_start and time_end."
            )
        return TimeWindow(self.time_column, start, end)

    def _kept_columns(self, existing: list[str], label: str) -> list[str]:
        if self.rowid_column:
            if self.rowid_column not in existing:
                raise ValueError(
                    f"rowid_column {self.rowid_column!r} not found in table {self.input_table}; its columns are {existing}."
                )
            return [self.rowid_column] + ([label] if label in existing and label != self.rowid_column else [])
        ignore = set(_as_list(self.ignore_columns))
        return [c for c in existing if c not in ignore]

    @staticmethod
    def _predict_chunk(
        predictor: Any, manifest: dict[str, Any], chunk: pd.DataFrame, keep: list[str], pred_col: str
    ) -> pd.DataFrame:
        features = manifest["features"]
        out = chunk[keep].copy()
        problem_type = manifest["problem_type"]
        if problem_type in ("regression", "quantile"):
            out[pred_col] = predictor.predict(chunk[features]).to_numpy()
            return out
        proba = predictor.predict_proba(chunk[features], as_multiclass=True)
        predicted = predictor.predict_from_proba(proba)
        out[pred_col] = predicted.to_numpy()
        if problem_type == "binary":
            out["predicted_proba"] = proba[predictor.positive_class].to_numpy()
        else:
            out["predicted_proba"] = proba.max(axis=1).to_numpy()
        out["predicted_probabilities"] = probabilities_json(proba)
        return out


def probabilities_json(proba: pd.DataFrame) -> Any:
    """
    Each row of a class -> probability frame as a JSON object, e.g. ``{"no": 0.7069, "yes": 0.293}``.

    Built column-wise by Arrow (a ``json.dumps`` per row took a tenth of a large prediction's
    time); Arrow writes floats in their shortest form that reads back exactly.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: list[Any] = []
    for i, name in enumerate(proba.columns):
        parts.append(("{" if i == 0 else ", ") + json.dumps(str(name)) + ": ")
        parts.append(pc.cast(pa.array(proba[name].to_numpy(dtype="float64")), pa.string()))
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "").to_numpy(zero_copy_only=False)
