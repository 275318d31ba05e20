"""
The model report saved with each model: one self-contained HTML page, readable with no server.

The page comes from the Jinja2 template ``templates/report.html.j2`` (autoescape on) and its charts are matplotlib
figures embedded as inline SVG, so the file works offline and under the plugin's Content-Security-Policy (no
scripts, no external resources).
"""

from __future__ import annotations

import functools
import io
import json
import math
import re
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import jinja2
    import pandas as pd
    from markupsafe import Markup
    from matplotlib.figure import Figure

MAX_CURVE_POINTS = 200
TOP_FEATURES = 20
# Long feature names are cut in the chart's tick labels (the table below it has them whole).
MAX_LABEL_CHARS = 40
TEMPLATE = "report.html.j2"
MISSING = "–"

# Matplotlib's rcParams are process-wide: the charts are drawn one at a time under this lock, each inside its own
# rc_context, so two reports rendered in parallel threads never see each other's settings.
_DRAW_LOCK = threading.Lock()
_RC = {
    # Text as <text> elements (searchable, small), not glyph paths; a feature name is never parsed as mathtext.
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# No creator, date or Dublin Core block: the SVG is the same for the same inputs.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
_COLORS = {"model": "#1f77b4", "baseline": "#8c8c8c", "threshold": "#d62728", "negative": "#d62728"}


def data_summary(
    df: pd.DataFrame, target: str, max_classes: int = 20, *, problem_type: str | None = None
) -> dict[str, Any]:
    """
    Rows, features with their types and missing shares, and the target: its class balance, or its distribution
    when it is a regression target.

    :param df: the training frame, target included.
    :param target: the label column.
    :param max_classes: most frequent classes listed in the class balance.
    :param problem_type: AutoGluon's problem type; when empty, a numeric target with more than ``max_classes``
        distinct values is summarised as a regression target.
    """
    import pandas as pd

    features = [
        {
            "feature": str(c),
            "dtype": str(df[c].dtype),
            "missing": float(df[c].isna().mean()),
            "distinct": int(df[c].nunique()),
        }
        for c in df.columns
        if c != target
    ]
    y = df[target]
    distinct = int(y.nunique())
    summary: dict[str, Any] = {
        "rows": len(df),
        "target": str(target),
        "target_missing": float(y.isna().mean()) if len(df) else 0.0,
        "classes": distinct,
        "features": features,
        "class_balance": [],
        "target_stats": None,
    }
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if problem_type in ("regression", "quantile") or (problem_type is None and numeric and distinct > max_classes):
        described = y.describe()
        names = {"mean": "mean", "std": "standard deviation", "min": "minimum", "25%": "25th percentile"}
        names |= {"50%": "median", "75%": "75th percentile", "max": "maximum"}
        summary["target_stats"] = [{"statistic": label, "value": float(described[key])} for key, label in names.items()]
    else:
        counts = y.value_counts(dropna=False).head(max_classes)
        summary["class_balance"] = [
            {"class": str(k), "rows": int(v), "share": float(v / len(df))} for k, v in counts.items()
        ]
    return summary


def _thin(points: list[tuple[float, float]], n: int = MAX_CURVE_POINTS) -> list[tuple[float, float]]:
    """At most ``n`` points of a curve, first and last kept: enough to draw it, small to embed."""
    if len(points) <= n:
        return points
    step = (len(points) - 1) / (n - 1)
    return [points[round(i * step)] for i in range(n)]


def validation_curves(y_true: Any, scores: Any, *, threshold: float | None = None) -> dict[str, Any]:
    """ROC and precision-recall curves, AUROC, average precision and the confusion matrix at ``threshold``."""
    import numpy as np
    from sklearn.metrics import (
        average_precision_score,
        confusion_matrix,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    y = np.asarray(y_true).astype(int)
    s = np.asarray(scores, dtype=float)
    threshold = 0.5 if threshold is None else float(threshold)
    fpr, tpr, _ = roc_curve(y, s)
    precision, recall, _ = precision_recall_curve(y, s)
    (tn, fp), (fn, tp) = confusion_matrix(y, (s >= threshold).astype(int), labels=[0, 1]).tolist()
    return {
        "auroc": float(roc_auc_score(y, s)),
        "average_precision": float(average_precision_score(y, s)),
        "rows": int(len(y)),
        "threshold": threshold,
        "roc": _thin([(float(a), float(b)) for a, b in zip(fpr, tpr, strict=True)]),
        "pr": _thin([(float(r), float(p)) for r, p in zip(recall, precision, strict=True)]),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    }


# Number formats: one place, used by the template as filters and by the charts' legends.


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is missing (None, NaN, text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_score(value: Any) -> str:
    """A score or measure with 4 decimals: ``0.8734``."""
    number = _number(value)
    return MISSING if number is None else f"{number:,.4f}"


def fmt_count(value: Any) -> str:
    """A count with thousands separators: ``32,561``."""
    number = _number(value)
    return MISSING if number is None else f"{round(number):,}"


def fmt_share(value: Any) -> str:
    """A share of 0..1 as a percentage; tiny non-zero shares are not shown as 0."""
    number = _number(value)
    if number is None:
        return MISSING
    if number == 0:
        return "0%"
    if 0 < number < 0.001:
        return "< 0.1%"
    if 0.999 < number < 1:
        return "> 99.9%"
    return f"{number:.1%}"


def fmt_seconds(value: Any) -> str:
    """A duration: ``42 ms``, ``3.2 s``, ``2 min 05 s``, ``5 min``, ``1 h 02 min``."""
    number = _number(value)
    if number is None:
        return MISSING
    if number < 0.001:
        return "< 1 ms" if number > 0 else "0 s"
    if number < 1:
        return f"{number * 1000:.0f} ms"
    if number < 59.95:
        return f"{number:.1f} s"
    if number < 3599.5:
        minutes, seconds = divmod(round(number), 60)
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    hours, rest = divmod(round(number), 3600)
    return f"{hours:,} h {rest // 60:02d} min" if rest // 60 else f"{hours:,} h"


def fmt_decimal(value: Any) -> str:
    """A measured value of any size: 4 decimals below 100, fewer above, thousands separators."""
    number = _number(value)
    if number is None:
        return MISSING
    decimals = 4 if abs(number) < 100 else 2 if abs(number) < 100_000 else 0
    return f"{number:,.{decimals}f}"


def fmt_p_value(value: Any) -> str:
    """A p-value with 4 decimals, ``< 0.0001`` below that."""
    number = _number(value)
    if number is None:
        return MISSING
    return "< 0.0001" if number < 0.0001 else f"{number:.4f}"


def _fmt_any(value: Any) -> str:
    """A summary value the report has no specific format for."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return fmt_count(value)
    if isinstance(value, float):
        return fmt_decimal(value)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _fmt_time_limit(value: Any) -> str:
    return "none (the fit ran until done)" if _number(value) is None else fmt_seconds(value)


def _fmt_presets(value: Any) -> str:
    if not value:
        return "AutoGluon's default"
    return _fmt_any(value)


def _fmt_features(value: Any) -> str:
    return fmt_count(len(value)) if isinstance(value, list | tuple) else _fmt_any(value)


# The fit's facts in the order shown, with their labels and formats. Keys absent from the summary are skipped;
# a None is shown only where it means something (no time limit, default presets).
_FACTS: tuple[tuple[str, str, Callable[[Any], str], bool], ...] = (
    ("problem_type", "Problem type", _fmt_any, False),
    ("label", "Target column", _fmt_any, False),
    ("positive_class", "Positive class", _fmt_any, False),
    ("eval_metric", "Eval metric", _fmt_any, False),
    ("best_model", "Best model", _fmt_any, False),
    ("score_val", "Validation score", fmt_score, False),
    ("validation_auroc", "Validation AUROC", fmt_score, False),
    ("time_limit", "Time limit", _fmt_time_limit, True),
    ("presets", "Presets", _fmt_presets, True),
    ("num_rows_train", "Training rows", fmt_count, False),
    ("features", "Features", _fmt_features, False),
    ("fit_seconds", "Fit time", fmt_seconds, False),
    ("input_table", "Input table", _fmt_any, False),
    ("shared_model", "Shared model id", _fmt_any, False),
    ("trained_at", "Trained at", _fmt_any, False),
    ("autogluon_version", "AutoGluon version", _fmt_any, False),
)
# Shown where they belong rather than in the facts table.
_NOT_FACTS = {"model_name", "importance_data"}


def _facts(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The summary as (label, formatted value) rows: the known keys first, then any other key as given."""
    rows = []
    for key, label, fmt, none_shown in _FACTS:
        if key not in summary or (summary[key] is None and not none_shown):
            continue
        if key == "score_val" and summary.get("eval_metric"):
            label = f"Validation {summary['eval_metric']}"
        rows.append({"key": key, "label": label, "value": fmt(summary[key])})
    known = {key for key, *_ in _FACTS} | _NOT_FACTS
    rows += [
        {"key": str(k), "label": str(k).replace("_", " ").capitalize(), "value": _fmt_any(v)}
        for k, v in summary.items()
        if k not in known
    ]
    return rows


# Charts: matplotlib figures (no pyplot state) saved as SVG and embedded inline.


def _svg(draw: Callable[[Figure], None], name: str, label: str, size: tuple[float, float]) -> Markup:
    """
    The figure that ``draw`` fills, as an inline ``<svg>`` element.

    :param draw: fills a new figure.
    :param name: CSS class of the element, also the salt of the SVG's ids (unique within the page).
    :param label: accessible name of the chart.
    :param size: width and height in inches.
    """
    import matplotlib
    from markupsafe import Markup, escape
    from matplotlib.figure import Figure

    buf = io.StringIO()
    with _DRAW_LOCK, matplotlib.rc_context({**_RC, "svg.hashsalt": name}):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        fig.savefig(buf, format="svg", metadata=_NO_METADATA)
    svg = buf.getvalue()
    # Inline in HTML: no XML prolog or DOCTYPE, and no group ids (figure_1, axes_1, ...) repeated by each chart.
    svg = re.sub(r'<g id="[^"]*"', "<g", svg[svg.index("<svg") :]).strip()
    svg = svg.replace("<svg ", f'<svg class="chart {escape(name)}" role="img" aria-label="{escape(label)}" ', 1)
    # matplotlib's SVG writer escapes every text and attribute it writes.
    return Markup(svg)


def _at_threshold(curves: Mapping[str, Any]) -> dict[str, float | None]:
    """Rates of the confusion matrix at the decision threshold (None where a denominator is 0)."""
    c = curves["confusion"]
    tn, fp, fn, tp = (int(c[k]) for k in ("tn", "fp", "fn", "tp"))
    total = tn + fp + fn + tp

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {
        "accuracy": ratio(tp + tn, total),
        "precision": precision,
        "recall": recall,
        "false_positive_rate": ratio(fp, fp + tn),
        "f1": f1,
        "positive_rate": ratio(tp + fn, total),
    }


def _unit_square(ax: Any, title: str, x_label: str, y_label: str) -> None:
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ticks = [i / 5 for i in range(6)]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)


def _roc_chart(curves: Mapping[str, Any]) -> Markup:
    rates = _at_threshold(curves)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=_COLORS["baseline"], label="chance (AUROC 0.5000)")
        x, y = zip(*curves["roc"], strict=True)
        ax.plot(x, y, lw=2, color=_COLORS["model"], label=f"model (AUROC {fmt_score(curves['auroc'])})")
        if rates["false_positive_rate"] is not None and rates["recall"] is not None:
            ax.plot(
                [rates["false_positive_rate"]],
                [rates["recall"]],
                "o",
                color=_COLORS["threshold"],
                label=f"decision threshold {curves['threshold']:.4g}",
            )
        _unit_square(ax, "ROC curve", "False positive rate", "True positive rate (recall)")
        # Below the axes, so it never hides a curve whatever its shape.
        fig.legend(loc="outside lower center")

    return _svg(draw, "chart-roc", "ROC curve", (5.2, 5.6))


def _pr_chart(curves: Mapping[str, Any]) -> Markup:
    rates = _at_threshold(curves)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        if rates["positive_rate"] is not None:
            ax.axhline(
                rates["positive_rate"],
                ls="--",
                lw=1,
                color=_COLORS["baseline"],
                label=f"positive rate {fmt_share(rates['positive_rate'])} (chance)",
            )
        x, y = zip(*curves["pr"], strict=True)
        # A step per threshold, as average precision sums it.
        ax.plot(
            x,
            y,
            lw=2,
            drawstyle="steps-post",
            color=_COLORS["model"],
            label=f"model (average precision {fmt_score(curves['average_precision'])})",
        )
        if rates["precision"] is not None and rates["recall"] is not None:
            ax.plot(
                [rates["recall"]],
                [rates["precision"]],
                "o",
                color=_COLORS["threshold"],
                label=f"decision threshold {curves['threshold']:.4g}",
            )
        _unit_square(ax, "Precision-recall curve", "Recall", "Precision")
        fig.legend(loc="outside lower center")

    return _svg(draw, "chart-pr", "Precision-recall curve", (5.2, 5.6))


def _short(name: str, limit: int = MAX_LABEL_CHARS) -> str:
    name = " ".join(name.split())
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _importance_chart(top: Sequence[Mapping[str, Any]], metric: str | None) -> Markup:
    """The features' permutation importance as horizontal bars, most important on top, ±1 standard deviation."""
    values = [_number(r.get("importance")) or 0.0 for r in top]
    errors = [_number(r.get("stddev")) or 0.0 for r in top]
    labels = [_short(str(r.get("feature"))) for r in top]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        positions = list(range(len(top)))
        colors = [_COLORS["model"] if v >= 0 else _COLORS["negative"] for v in values]
        ax.barh(positions, values, xerr=errors, color=colors, height=0.7, error_kw={"ecolor": "#444", "lw": 1})
        ax.set_yticks(positions, labels=labels)
        ax.set_ylim(len(top) - 0.5, -0.5)  # most important on top
        ax.axvline(0, color="#333", lw=0.8)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(f"Importance: drop in {metric or 'the score'} when the feature's values are shuffled")
        ax.set_ylabel("Feature")
        ax.set_title(f"Feature importance (top {len(top)})")

    return _svg(draw, "chart-importance", "Feature importance", (9.0, 1.3 + 0.27 * len(top)))


def _importance_rows(importance: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows sorted by importance, largest first (rows without a number last)."""
    return sorted(importance, key=lambda r: -v if (v := _number(r.get("importance"))) is not None else math.inf)


def _class_names(summary: Mapping[str, Any], data: Mapping[str, Any] | None) -> tuple[str, str]:
    """Names of the negative and positive class for the confusion matrix, when the summary and data tell them."""
    positive = summary.get("positive_class")
    if positive is None:
        return "negative", "positive"
    classes = [r["class"] for r in (data or {}).get("class_balance", [])]
    others = [c for c in classes if c != str(positive)]
    negative = f"negative ({others[0]})" if len(others) == 1 else "negative"
    return negative, f"positive ({positive})"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("airflow_automl_provider", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    formats = {
        "score": fmt_score,
        "intcomma": fmt_count,
        "share": fmt_share,
        "seconds": fmt_seconds,
        "decimal": fmt_decimal,
        "p_value": fmt_p_value,
        "any": _fmt_any,
    }

    def missing_as_none(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
        # A column a record does not have (an older AutoGluon's leaderboard, say) is shown as missing.
        return lambda value: fmt(None if isinstance(value, jinja2.Undefined) else value)

    env.filters.update({name: missing_as_none(fmt) for name, fmt in formats.items()})
    return env


def render_report(
    summary: Mapping[str, Any],
    leaderboard: Sequence[Mapping[str, Any]],
    importance: Sequence[Mapping[str, Any]],
    *,
    data: Mapping[str, Any] | None = None,
    curves: Mapping[str, Any] | None = None,
) -> str:
    """
    Render the report from plain values (the train operator passes the fit's results).

    :param summary: the fit: ``model_name`` and, each optional, ``problem_type``, ``label``, ``positive_class``,
        ``eval_metric``, ``best_model``, ``score_val``, ``validation_auroc``, ``time_limit`` (seconds, None for
        none), ``presets`` (None for AutoGluon's default), ``num_rows_train``, ``features`` (list of names),
        ``fit_seconds``, ``input_table``, ``shared_model``, ``trained_at``, ``autogluon_version``, ``importance_data`` (the rows
        feature importance was computed on, for its caption); any other key is listed as given.
    :param leaderboard: AutoGluon's leaderboard as records (``model``, ``score_val``, ``fit_time``,
        ``pred_time_val``, ``stack_level``, ...).
    :param importance: feature importance records (``feature``, ``importance``, ``stddev``, ``p_value``, ``n``).
    :param data: :func:`data_summary` of the training frame.
    :param curves: :func:`validation_curves` of the best model (binary targets).
    """
    model_name = str(summary.get("model_name") or "")
    metric = summary.get("eval_metric")
    ranked = _importance_rows(importance)
    top = ranked[:TOP_FEATURES]
    validation = None
    if curves:
        negative, positive = _class_names(summary, data)
        validation = {
            "curves": curves,
            "rates": _at_threshold(curves),
            "negative": negative,
            "positive": positive,
            "roc_chart": _roc_chart(curves),
            "pr_chart": _pr_chart(curves),
        }
    template = _environment().get_template(TEMPLATE)
    return template.render(
        model_name=model_name,
        # Relative to <base>/automl/models/<model_name>/report, where the plugin serves this file.
        model_href="../" + quote(model_name, safe=""),
        experiments_href="../../experiments",
        summary=summary,
        facts=_facts(summary),
        metric=metric,
        best_model=summary.get("best_model"),
        leaderboard=leaderboard,
        has_stack_level=any("stack_level" in r for r in leaderboard),
        has_score_test=any(_number(r.get("score_test")) is not None for r in leaderboard),
        data=data,
        validation=validation,
        importance=ranked,
        importance_chart=_importance_chart(top, metric) if top else None,
        top_features=len(top),
    )
