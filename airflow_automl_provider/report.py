"""The model report saved with each model: one self-contained HTML page, readable with no server."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(row.get(c)))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _bars(importance: Sequence[Mapping[str, Any]], width: int = 420) -> str:
    """Feature importance as an inline SVG bar chart."""
    if not importance:
        return "<p>No feature importance was computed.</p>"
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


def render_report(
    summary: Mapping[str, Any],
    leaderboard: Sequence[Mapping[str, Any]],
    importance: Sequence[Mapping[str, Any]],
) -> str:
    """Render the report from plain values (the train operator passes the fit's results)."""
    title = f"AutoML model {summary.get('model_name', '')}"
    facts = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in summary.items()
    )
    lb_cols = [c for c in ("model", "score_val", "eval_metric", "fit_time", "pred_time_val", "stack_level")]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}th{{background:#f4f4f4}}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Training</h2>
<table>{facts}</table>
<h2>Leaderboard</h2>
{_table(leaderboard, lb_cols)}
<h2>Feature importance</h2>
{_bars(importance)}
</body></html>
"""
