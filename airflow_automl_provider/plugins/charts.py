"""
Plotly figures for the UI pages, built on the server as JSON and drawn in the browser by plotly's offline bundle
(served by the app itself): axes with ticks and titles, a legend, values on hover, zoom.

Every trace carries ``meta`` (``kind``, ``model``, ``table``) so tests, and readers of the page's figure JSON, can
tell the series apart: ``monitor`` (one model on one table, the monitor's recorded decisions), ``test_set`` (an
evaluation with no recorded decision: the experiment DAG's own test-set score), ``insufficient`` (too little data,
no AUROC), ``alerted`` (the points whose recorded status is ``drift``), ``threshold`` (the threshold the monitor
recorded), ``reference`` (a line asked for in the page's form; visual only).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e")
ALERT = "#d62728"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif'


@dataclass(frozen=True)
class Chart:
    """A figure for a template: its element id, CSS class, the figure as JSON, and what it shows (for tests)."""

    id: str
    css_class: str
    figure_json: Markup
    counts: Mapping[str, int]


def figure_json(figure: Any) -> Markup:
    """
    A plotly figure as JSON safe inside ``<script type="application/json">``: plotly's own serialiser, then
    ``<``, ``>`` and ``&`` as JSON escapes so no text in the data can close the element.
    """
    import plotly.io as pio

    text = pio.to_json(figure, validate=True, pretty=False)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


def _plot_time(t: datetime) -> str:
    """Plotly has no time zones: naive UTC text, with the axis titled UTC."""
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _text(value: Any) -> str:
    """Text for a hover label: plotly reads a few HTML tags in labels, so escape it."""
    return escape(str(value)) if value is not None else ""


def _base_layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "font": {"family": FONT, "size": 12, "color": "#1d1d1f"},
        "margin": {"l": 64, "r": 24, "t": 16, "b": 48},
        "hoverlabel": {"font": {"family": FONT, "size": 12}},
        "autosize": True,
    }
    layout.update(extra)
    return layout


def auroc_chart(
    evaluations: Sequence[Mapping[str, Any]],
    *,
    chart_id: str = "auroc-chart",
    reference: float | None = None,
    one_model: bool = False,
) -> Chart | None:
    """
    AUROC over time. One ``monitor`` line per model and test table (the drift monitor's evaluations, each with its
    recorded status), the threshold each monitor recorded as a step line, a red ring on every point whose recorded
    status is ``drift`` (and its UTC day shaded), ``insufficient_data`` batches as grey crosses on the axis floor,
    and test-set evaluations (no recorded decision) as separate diamond markers. ``reference`` only draws a line.
    The legend groups each series' traces under "MODEL on TABLE" (``one_model``: the table only).
    """
    import plotly.graph_objects as go

    rows = [r for r in evaluations if r.get("session_dt") is not None]
    if not rows:
        return None
    series: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r["session_dt"]):
        series[(str(r.get("model_name") or ""), str(r.get("test_table") or ""))].append(r)
    models = list(dict.fromkeys(model for model, _ in series))
    color = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(models)}
    monitored_tables: dict[str, int] = defaultdict(int)

    values = [float(r["auroc"]) for r in rows if r.get("auroc") is not None]
    values += [float(r["recorded_threshold"]) for r in rows if r.get("recorded_threshold") is not None]
    if reference is not None:
        values.append(reference)
    lo = min(values) if values else 0.5
    hi = max(values) if values else 1.0
    floor = max(0.0, lo - max(0.02, (hi - lo) * 0.08))  # where batches without an AUROC are drawn
    top = min(1.0, hi + max(0.01, (hi - lo) * 0.05))

    fig = go.Figure()
    counts = {"monitor": 0, "test_set": 0, "insufficient": 0, "alerted": 0, "threshold_lines": 0}
    hover = (
        "<b>%{customdata[0]}</b> on %{customdata[1]}<br>%{customdata[2]}<br>AUROC %{customdata[3]}<br>"
        "status: %{customdata[4]}%{customdata[5]}<extra></extra>"
    )

    def custom(r: Mapping[str, Any], status: str | None = None) -> list[str]:
        reasons = "".join(f"<br>- {_text(x)}" for x in (r.get("reasons") or [])[:4])
        threshold = r.get("recorded_threshold")
        if threshold is not None:
            reasons = f"<br>threshold used: {threshold:.4f}" + reasons
        auroc = r.get("auroc")
        return [
            _text(r.get("model_name")),
            _text(r.get("test_table")),
            _utc(r["session_dt"]),
            "n/a" if auroc is None else f"{auroc:.4f}",
            _text(status or r.get("status") or "recorded without a status"),
            reasons,
        ]

    for (model, table), items in series.items():
        meta = {"model": model, "table": table}
        name = f"{model} on {table}"
        # Each series' traces sit in one legend group titled with the series (the first trace carries the title).
        group = {"legendgroup": name, "legendgrouptitle": {"text": _text(table if one_model else name)}}
        monitored = [
            r for r in items if r.get("monitored") and not r.get("insufficient") and r.get("auroc") is not None
        ]
        dash = "solid"
        if monitored:  # a model's second monitored table gets another dash, in the model's colour
            dash = ("solid", "dot", "dash", "longdash")[monitored_tables[model] % 4]
            monitored_tables[model] += 1
        if monitored:
            fig.add_trace(
                go.Scatter(
                    x=[_plot_time(r["session_dt"]) for r in monitored],
                    y=[r["auroc"] for r in monitored],
                    customdata=[custom(r) for r in monitored],
                    mode="lines+markers",
                    name="AUROC (daily monitor)",
                    **group,
                    line={"color": color[model], "width": 2, "dash": dash},
                    marker={"size": 7, "color": color[model]},
                    hovertemplate=hover,
                    meta={"kind": "monitor", **meta},
                )
            )
            counts["monitor"] += len(monitored)
        with_threshold = [r for r in items if r.get("monitored") and r.get("recorded_threshold") is not None]
        if with_threshold:
            xs = [_plot_time(r["session_dt"]) for r in with_threshold]
            ys = [r["recorded_threshold"] for r in with_threshold]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": color[model], "width": 1.5, "dash": "dash", "shape": "hv"},
                    name="threshold the monitor used",
                    **group,
                    hovertemplate="threshold used by the monitor: %{y:.4f}<extra></extra>",
                    meta={"kind": "threshold", **meta},
                )
            )
            counts["threshold_lines"] += 1
        tested = [r for r in items if not r.get("monitored") and not r.get("insufficient")]
        if tested:
            fig.add_trace(
                go.Scatter(
                    x=[_plot_time(r["session_dt"]) for r in tested],
                    y=[r["auroc"] if r.get("auroc") is not None else floor for r in tested],
                    customdata=[custom(r, "test-set evaluation (no monitor decision)") for r in tested],
                    mode="markers",
                    name="test-set evaluation",
                    **group,
                    marker={
                        "symbol": "diamond",
                        "size": 11,
                        "color": "#ffffff",
                        "line": {"color": color[model], "width": 2},
                    },
                    hovertemplate=hover,
                    meta={"kind": "test_set", **meta},
                )
            )
            counts["test_set"] += len(tested)

    insufficient = [r for r in rows if r.get("insufficient")]
    if insufficient:
        fig.add_trace(
            go.Scatter(
                x=[_plot_time(r["session_dt"]) for r in insufficient],
                y=[floor] * len(insufficient),
                customdata=[custom(r, "insufficient data: no AUROC, never alerted") for r in insufficient],
                mode="markers",
                name="insufficient data (no AUROC)",
                marker={"symbol": "x-thin", "size": 10, "line": {"color": "#777777", "width": 2}},
                hovertemplate=hover,
                meta={"kind": "insufficient"},
            )
        )
        counts["insufficient"] = len(insufficient)

    alerted = [r for r in rows if r.get("alerted")]
    if alerted:
        fig.add_trace(
            go.Scatter(
                x=[_plot_time(r["session_dt"]) for r in alerted],
                y=[r["auroc"] if r.get("auroc") is not None else floor for r in alerted],
                customdata=[custom(r) for r in alerted],
                mode="markers",
                name="alerted: the monitor recorded drift",
                marker={"symbol": "circle-open", "size": 16, "line": {"color": ALERT, "width": 3}, "color": ALERT},
                hovertemplate=hover,
                meta={"kind": "alerted"},
            )
        )
        counts["alerted"] = len(alerted)

    shapes = []
    for day in sorted({r["session_dt"].astimezone(UTC).date() for r in alerted}):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": _plot_time(start),
                "x1": _plot_time(start + timedelta(days=1)),
                "y0": 0,
                "y1": 1,
                "fillcolor": ALERT,
                "opacity": 0.08,
                "line": {"width": 0},
                "layer": "below",
                "name": f"alerted day {day.isoformat()}",
            }
        )
    if reference is not None:
        times = [r["session_dt"] for r in rows]
        fig.add_trace(
            go.Scatter(
                x=[_plot_time(min(times) - timedelta(hours=12)), _plot_time(max(times) + timedelta(hours=12))],
                y=[reference, reference],
                mode="lines",
                name=f"reference line {reference:g} (visual only)",
                line={"color": "#555555", "width": 1, "dash": "dot"},
                hovertemplate=f"reference line {reference:g} (visual only; alerts are the monitor's)<extra></extra>",
                meta={"kind": "reference"},
            )
        )
    groups = len({t.legendgroup for t in fig.data if t.legendgroup}) + 1  # and the row of the shared entries
    fig.update_layout(
        **_base_layout(
            height=min(900, 380 + 48 * groups),  # the plot keeps its height above a growing legend
            shapes=shapes,
            hovermode="closest",
            showlegend=True,
            # Above the plot: it grows upwards with the number of series, never into the axis title.
            legend={
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.02,
                "x": 0,
                "font": {"size": 11},
                "traceorder": "grouped",
                "groupclick": "toggleitem",
            },
            margin={"l": 64, "r": 24, "t": 8, "b": 48},
            xaxis={"title": {"text": "session time (UTC)"}, "type": "date", "showline": True, "ticks": "outside"},
            yaxis={
                "title": {"text": "AUROC"},
                "range": [floor - 0.01, top],
                "tickformat": ".2f",
                "showline": True,
                "ticks": "outside",
            },
        )
    )
    return Chart(chart_id, "auroc-chart", figure_json(fig), counts)


@dataclass(frozen=True)
class Cell:
    value: float | None
    threshold: float | None
    drifted: bool

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.threshold:
            return None
        return self.value / self.threshold


def heatmap_cells(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, date], Cell]:
    """Drift rows to cells: per feature and UTC day, the run with the highest ``value / threshold``."""
    cells: dict[tuple[str, date], Cell] = {}
    for row in rows:
        when = row.get("session_dt")
        if when is None or row.get("feature") is None:
            continue
        key = (str(row["feature"]), when.astimezone(UTC).date())
        cell = Cell(row.get("value"), row.get("threshold"), bool(row.get("drifted")))
        old = cells.get(key)
        if old is None or (cell.ratio or -1) > (old.ratio or -1) or (cell.drifted and not old.drifted):
            cells[key] = Cell(cell.value, cell.threshold, cell.drifted or (old.drifted if old else False))
    return cells


def drift_heatmap(cells: Mapping[tuple[str, date], Cell], *, chart_id: str = "drift-heatmap") -> Chart | None:
    """
    ``value / threshold`` per feature (rows) and UTC day (columns): white at 0, orange at the threshold, dark red
    at twice it and more; drifted cells carry a black cross. Hover: feature, day, value, threshold.
    """
    import plotly.graph_objects as go

    if not cells:
        return None
    features = sorted({f for f, _ in cells}, reverse=True)  # plotly draws the first row at the bottom
    days = sorted({d for _, d in cells})
    labels = [d.isoformat() for d in days]
    z: list[list[float | None]] = []
    custom: list[list[list[str]]] = []
    for feature in features:
        z_row, c_row = [], []
        for day in days:
            cell = cells.get((feature, day))
            if cell is None:
                z_row.append(None)
                c_row.append(["", "", "no result"])
                continue
            z_row.append(cell.ratio)
            c_row.append(
                [
                    "n/a" if cell.value is None else f"{cell.value:.4f}",
                    "n/a" if cell.threshold is None else f"{cell.threshold:.4f}",
                    "drifted" if cell.drifted else "not drifted",
                ]
            )
        z.append(z_row)
        custom.append(c_row)
    fig = go.Figure(
        go.Heatmap(
            x=labels,
            y=[_text(f) for f in features],
            z=z,
            customdata=custom,
            zmin=0,
            zmax=2,
            colorscale=[[0.0, "#f7fbff"], [0.5, "#fdae61"], [1.0, "#a50026"]],
            xgap=1,
            ygap=1,
            colorbar={"title": {"text": "value /<br>minimum"}, "tickvals": [0, 1, 2], "ticktext": ["0", "1", "2+"]},
            hovertemplate=(
                "<b>%{y}</b> on %{x}<br>value %{customdata[0]}<br>minimum %{customdata[1]}<br>"
                "value / minimum %{z:.2f}<br>%{customdata[2]}<extra></extra>"
            ),
            meta={"kind": "heatmap"},
        )
    )
    drifted = [(f, d) for (f, d), c in sorted(cells.items()) if c.drifted]
    if drifted:
        fig.add_trace(
            go.Scatter(
                x=[d.isoformat() for _, d in drifted],
                y=[_text(f) for f, _ in drifted],
                mode="markers",
                name="drifted",
                marker={"symbol": "x-thin", "size": 9, "line": {"color": "#000000", "width": 2}},
                hoverinfo="skip",
                meta={"kind": "drifted"},
            )
        )
    longest = max(len(f) for f in features)
    fig.update_layout(
        **_base_layout(
            height=max(220, 90 + 24 * len(features)),
            margin={"l": min(260, 16 + 7 * longest), "r": 24, "t": 28 if drifted else 8, "b": 56},
            showlegend=bool(drifted),
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
            xaxis={"title": {"text": "day (UTC)"}, "type": "category", "ticks": "outside"},
            yaxis={"title": {"text": ""}, "type": "category", "automargin": True},
        )
    )
    counts = {"cells": len(cells), "drifted": len(drifted)}
    return Chart(chart_id, "drift-heatmap", figure_json(fig), counts)


def importance_chart(
    importance: Mapping[str, Sequence[Mapping[str, Any]]], *, chart_id: str = "importance-chart", top: int = 12
) -> Chart | None:
    """
    Permutation feature importance of several models side by side: grouped horizontal bars (with the standard
    deviation) over the features most important on average.
    """
    import plotly.graph_objects as go

    by_model: dict[str, dict[str, tuple[float, float | None]]] = {}
    for model, records in importance.items():
        values = {}
        for rec in records:
            feature, value = rec.get("feature"), rec.get("importance")
            if feature is None or not isinstance(value, int | float):
                continue
            std = rec.get("stddev")
            values[str(feature)] = (float(value), float(std) if isinstance(std, int | float) else None)
        if values:
            by_model[model] = values
    if not by_model:
        return None
    features = sorted(
        {f for v in by_model.values() for f in v},
        key=lambda f: -sum(v.get(f, (0.0, None))[0] for v in by_model.values()) / len(by_model),
    )[:top]
    features.reverse()  # most important at the top
    fig = go.Figure()
    for i, (model, values) in enumerate(by_model.items()):
        fig.add_trace(
            go.Bar(
                y=[_text(f) for f in features],
                x=[values[f][0] if f in values else None for f in features],
                error_x={"type": "data", "array": [values[f][1] if f in values else None for f in features]},
                orientation="h",
                name=model,
                marker={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate=f"<b>{_text(model)}</b><br>%{{y}}: %{{x:.4f}}<extra></extra>",
                meta={"kind": "importance", "model": model},
            )
        )
    longest = max(len(f) for f in features)
    fig.update_layout(
        **_base_layout(
            barmode="group",
            height=max(260, 80 + 18 * len(features) * len(by_model)),
            margin={"l": min(240, 16 + 7 * longest), "r": 24, "t": 16, "b": 48},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
            xaxis={"title": {"text": "permutation importance (drop of the validation score)"}, "tickformat": ".3f"},
            yaxis={"type": "category", "automargin": True},
        )
    )
    return Chart(
        chart_id,
        "importance-chart",
        figure_json(fig),
        {"models": len(by_model), "features": len(features)},
    )
