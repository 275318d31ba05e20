"""The model report saved with each model: one self-contained HTML page (inline SVG), readable with no server."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd

MAX_CURVE_POINTS = 200


def data_summary(df: pd.DataFrame, target: str, max_classes: int = 20) -> dict[str, Any]:
    """Rows, features with their types and missing shares, and the class balance of the target."""
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
    counts = df[target].value_counts(dropna=False).head(max_classes)
    balance = [{"class": str(k), "rows": int(v), "share": float(v / len(df))} for k, v in counts.items()]
    return {"rows": len(df), "features": features, "class_balance": balance}


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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _bars(importance: Sequence[Mapping[str, Any]], width: int = 420) -> str:
    """Feature importance as an inline SVG bar chart."""
    if not importance:
        return "<p>No feature importance was computed (set <code>export_feature_importance</code>).</p>"
    top = max(abs(float(r["importance"])) for r in importance) or 1.0
    bar_h, label_w = 18, 170
    parts = []
    for i, r in enumerate(importance):
        value = float(r["importance"])
        w = max(1.0, abs(value) / top * width)
        y = i * (bar_h + 4)
        color = "#2b7bba" if value >= 0 else "#c0392b"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
            f"{html.escape(str(r['feature']))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="11">{value:.4g}</text>'
        )
    height = len(importance) * (bar_h + 4)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 80}" height="{height}" '
        f'role="img" aria-label="feature importance">{"".join(parts)}</svg>'
    )


def _curve(points: Sequence[Sequence[float]], title: str, x_label: str, y_label: str, diagonal: bool) -> str:
    """A curve in the unit square as inline SVG."""
    size, pad = 260, 36
    coords = " ".join(f"{pad + x * size:.1f},{pad + (1 - y) * size:.1f}" for x, y in points)
    diag = (
        f'<line x1="{pad}" y1="{pad + size}" x2="{pad + size}" y2="{pad}" stroke="#bbb" stroke-dasharray="4 4"/>'
        if diagonal
        else ""
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 2 * pad}" height="{size + 2 * pad}" role="img" '
        f'aria-label="{html.escape(title)}"><rect x="{pad}" y="{pad}" width="{size}" height="{size}" fill="none" '
        f'stroke="#888"/>{diag}<polyline fill="none" stroke="#2b7bba" stroke-width="2" points="{coords}"/>'
        f'<text x="{pad + size / 2}" y="{pad - 12}" text-anchor="middle" font-size="13">{html.escape(title)}</text>'
        f'<text x="{pad + size / 2}" y="{size + 2 * pad - 6}" text-anchor="middle" font-size="11">{x_label}</text>'
        f'<text x="12" y="{pad + size / 2}" font-size="11" transform="rotate(-90 12 {pad + size / 2})" '
        f'text-anchor="middle">{y_label}</text></svg>'
    )


def _validation_section(curves: Mapping[str, Any] | None) -> str:
    if not curves:
        return "<p>Curves are drawn for binary targets.</p>"
    c = curves["confusion"]
    matrix = (
        f"<table><tr><th></th><th>predicted negative</th><th>predicted positive</th></tr>"
        f"<tr><th>actual negative</th><td>{c['tn']}</td><td>{c['fp']}</td></tr>"
        f"<tr><th>actual positive</th><td>{c['fn']}</td><td>{c['tp']}</td></tr></table>"
    )
    return (
        f"<p>On {curves['rows']} rows the model was not fitted on (AutoGluon's holdout, or out-of-fold rows): "
        f"AUROC <b>{curves['auroc']:.4f}</b>, average precision <b>{curves['average_precision']:.4f}</b>.</p>"
        f'<div class="charts">{_curve(curves["roc"], "ROC curve", "false positive rate", "true positive rate", True)}'
        f"{_curve(curves['pr'], 'Precision-recall curve', 'recall', 'precision', False)}</div>"
        f"<h3>Confusion matrix at threshold {curves['threshold']:.3g}</h3>{matrix}"
    )


def render_report(
    summary: Mapping[str, Any],
    leaderboard: Sequence[Mapping[str, Any]],
    importance: Sequence[Mapping[str, Any]],
    *,
    data: Mapping[str, Any] | None = None,
    curves: Mapping[str, Any] | None = None,
) -> str:
    """Render the report from plain values (the train operator passes the fit's results)."""
    title = f"AutoML model {summary.get('model_name', '')}"
    facts = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in summary.items()
        if k != "features"
    )
    lb_cols = ["model", "score_val", "eval_metric", "fit_time", "pred_time_val", "stack_level"]
    data_html = ""
    if data:
        data_html = (
            f"<h2>Data</h2><p>{data['rows']} rows, {len(data['features'])} features.</p>"
            f"{_table(data['features'], ['feature', 'dtype', 'missing', 'distinct'])}"
            f"<h3>Class balance</h3>{_table(data['class_balance'], ['class', 'rows', 'share'])}"
        )
    share = summary.get("shared_model")
    share_html = f"<p>Shared model id: <code>{html.escape(str(share))}</code></p>" if share else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f4f4f4}}.charts{{display:flex;gap:2em}}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
{share_html}
<h2>Training</h2>
<table>{facts}</table>
{data_html}
<h2>Validation</h2>
{_validation_section(curves)}
<h2>Leaderboard</h2>
{_table(leaderboard, lb_cols)}
<h2>Feature importance</h2>
{_bars(importance)}
</body></html>
"""
