"""Inline SVG charts for the UI pages: no JavaScript, no external assets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

PALETTE = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")
ALERT = "#d62728"


@dataclass(frozen=True)
class Point:
    """One evaluation: when, its AUROC (``None`` when not measured), whether it alerted, a tooltip."""

    time: datetime
    value: float | None
    alerted: bool
    label: str


def _fmt_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _time_ticks(start: datetime, end: datetime, n: int = 6) -> list[datetime]:
    span = (end - start).total_seconds()
    return [start + timedelta(seconds=span * i / (n - 1)) for i in range(n)]


def auroc_chart(series: Mapping[str, Sequence[Point]], threshold: float, *, width: int = 900, height: int = 320) -> str:
    """
    AUROC over time, one coloured line per model, the threshold as a dashed line, alerted points in red and
    the days that alerted shaded. Every evaluation is one ``.point`` element (an ``x`` on the axis when it
    has no AUROC), so the number of points equals the number of evaluations.
    """
    points = [p for ps in series.values() for p in ps]
    if not points:
        return '<p class="empty">No evaluations to chart.</p>'
    left, right, top, bottom = 56, 44, 16, 58
    pw, ph = width - left - right, height - top - bottom
    t0 = min(p.time for p in points)
    t1 = max(p.time for p in points)
    if (t1 - t0).total_seconds() < 3600:
        t0, t1 = t0 - timedelta(hours=12), t1 + timedelta(hours=12)
    else:  # a little room at both ends, so the first and last points are not on the frame
        pad = (t1 - t0) * 0.04
        t0, t1 = t0 - pad, t1 + pad
    values = [p.value for p in points if p.value is not None] + [threshold]
    lo = max(0.0, math.floor((min(values) - 0.02) * 50) / 50)
    hi = min(1.0, math.ceil((max(values) + 0.01) * 50) / 50)
    if hi - lo < 0.04:
        lo = max(0.0, hi - 0.04)
    span = (t1 - t0).total_seconds()

    def x(t: datetime) -> float:
        return left + pw * (t - t0).total_seconds() / span

    def y(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    out = [
        f'<svg class="chart auroc-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="AUROC over time">'
    ]
    # Alerted days first, under everything else.
    alerted_days = sorted({p.time.astimezone(UTC).date() for p in points if p.alerted})
    for day in alerted_days:
        d0 = datetime(day.year, day.month, day.day, tzinfo=UTC)
        x0, x1 = max(left, x(d0)), min(left + pw, x(d0 + timedelta(days=1)))
        if x1 - x0 < 6:
            mid = (x0 + x1) / 2
            x0, x1 = mid - 3, mid + 3
        out.append(
            f'<rect class="alert-day" data-day="{day.isoformat()}" x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" '
            f'height="{ph}" fill="{ALERT}" fill-opacity="0.10"><title>{day.isoformat()}: alerted</title></rect>'
        )
    # Grid and axes.
    step = 0.01 if hi - lo <= 0.06 else 0.02 if hi - lo <= 0.12 else 0.05 if hi - lo <= 0.3 else 0.1
    v = math.ceil(lo / step - 1e-9) * step
    while v <= hi + 1e-9:
        yy = y(v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="#555">{v:.2f}</text>')
        v += step
    for t in _time_ticks(t0, t1):
        xx = x(t)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#888"/>')
        out.append(
            f'<text x="{xx:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11" fill="#555">'
            f"{t.astimezone(UTC).strftime('%Y-%m-%d')}</text>"
        )
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    out.append(
        f'<text x="14" y="{top + ph / 2:.0f}" transform="rotate(-90 14 {top + ph / 2:.0f})" text-anchor="middle" '
        f'font-size="12" fill="#333">AUROC</text>'
    )
    # Threshold.
    ty = y(threshold)
    out.append(
        f'<line class="threshold" data-threshold="{threshold}" x1="{left}" x2="{left + pw}" y1="{ty:.1f}" '
        f'y2="{ty:.1f}" stroke="{ALERT}" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    out.append(
        f'<text x="{left + pw - 4}" y="{ty - 5:.1f}" text-anchor="end" font-size="11" fill="{ALERT}">'
        f"threshold {threshold:g}</text>"
    )
    # Lines and points, one colour per model.
    legend = []
    for i, (model, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted(pts, key=lambda p: p.time)
        measured = [p for p in pts if p.value is not None]
        if len(measured) > 1:
            path = " ".join(f"{x(p.time):.1f},{y(p.value):.1f}" for p in measured)  # type: ignore[arg-type]
            out.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="1.8" points="{path}"/>')
        for p in pts:
            data = (
                f'data-model="{escape(model)}" data-time="{p.time.isoformat()}" '
                f'data-auroc="{"" if p.value is None else f"{p.value:.6f}"}" data-alerted="{str(p.alerted).lower()}"'
            )
            title = f"<title>{escape(p.label)}</title>"
            if p.value is None:
                xx, yy = x(p.time), top + ph - 6
                out.append(
                    f'<path class="point missing" {data} d="M{xx - 4:.1f},{yy - 4:.1f}l8,8m0,-8l-8,8" '
                    f'stroke="#999" stroke-width="1.5">{title}</path>'
                )
            else:
                fill, stroke = (ALERT, "#7a0000") if p.alerted else (color, "#fff")
                cls = "point alerted" if p.alerted else "point"
                out.append(
                    f'<circle class="{cls}" {data} cx="{x(p.time):.1f}" cy="{y(p.value):.1f}" '
                    f'r="{5 if p.alerted else 4}" fill="{fill}" stroke="{stroke}" stroke-width="1.2">{title}</circle>'
                )
        legend.append((model, color))
    # Legend under the axis.
    lx, ly = left, top + ph + 36
    for model, color in legend[:12]:
        label = model if len(model) <= 40 else model[:37] + "..."
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" font-size="11" fill="#333">{escape(label)}</text>')
        lx += 24 + 6.2 * len(label)
        if lx > width - 150:
            break
    out.append(
        f'<circle cx="{width - 130}" cy="{ly - 4}" r="5" fill="{ALERT}"/>'
        f'<text x="{width - 120}" y="{ly}" font-size="11" fill="#333">alerted</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def ratio_color(ratio: float | None) -> str:
    """White at 0, orange at the threshold (ratio 1), dark red at twice the threshold and more."""
    if ratio is None or math.isnan(ratio):
        return "#eeeeee"
    r = max(0.0, min(2.0, ratio))
    return _mix("#f7fbff", "#fdae61", r) if r <= 1 else _mix("#fdae61", "#a50026", r - 1)


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


def drift_heatmap(cells: Mapping[tuple[str, date], Cell], *, cell_w: int = 34, cell_h: int = 20) -> str:
    """
    ``value / threshold`` per feature (rows) and day (columns); drifted cells carry a black frame and a dot.
    One ``rect.cell`` per (feature, day) with data.
    """
    if not cells:
        return '<p class="empty">No data drift results.</p>'
    features = sorted({f for f, _ in cells})
    days = sorted({d for _, d in cells})
    label_w = min(260, 12 + 7 * max(len(f) for f in features))
    top = 64
    width = max(label_w + cell_w * len(days) + 20, label_w + 280)
    height = top + cell_h * len(features) + 52
    out = [
        f'<svg class="chart drift-heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Data drift per feature and day">'
    ]
    for j, day in enumerate(days):
        cx = label_w + j * cell_w + cell_w / 2
        out.append(
            f'<text x="{cx:.1f}" y="{top - 6}" font-size="10" fill="#555" transform="rotate(-50 {cx:.1f} {top - 6})">'
            f"{day.isoformat()}</text>"
        )
    for i, feature in enumerate(features):
        yy = top + i * cell_h
        out.append(
            f'<text x="{label_w - 6}" y="{yy + cell_h / 2 + 4:.1f}" text-anchor="end" font-size="11" fill="#333">'
            f"{escape(feature if len(feature) <= 34 else feature[:31] + '...')}</text>"
        )
        for j, day in enumerate(days):
            cell = cells.get((feature, day))
            if cell is None:
                continue
            xx = label_w + j * cell_w
            ratio = cell.ratio
            tip = (
                f"{feature} on {day.isoformat()}: value {cell.value if cell.value is not None else 'n/a'}, threshold "
                f"{cell.threshold if cell.threshold is not None else 'n/a'}"
                + (f", ratio {ratio:.2f}" if ratio is not None else "")
                + (" - drifted" if cell.drifted else "")
            )
            cls = "cell drifted" if cell.drifted else "cell"
            stroke = 'stroke="#000" stroke-width="2"' if cell.drifted else 'stroke="#fff" stroke-width="1"'
            out.append(
                f'<rect class="{cls}" data-feature="{escape(feature)}" data-day="{day.isoformat()}" '
                f'data-ratio="{"" if ratio is None else f"{ratio:.4f}"}" x="{xx + 1}" y="{yy + 1}" '
                f'width="{cell_w - 2}" height="{cell_h - 2}" fill="{ratio_color(ratio)}" {stroke}>'
                f"<title>{escape(tip)}</title></rect>"
            )
            if cell.drifted:
                out.append(f'<circle cx="{xx + cell_w / 2}" cy="{yy + cell_h / 2}" r="3" fill="#000"/>')
    # Legend: the colour scale and the drifted mark.
    ly = top + cell_h * len(features) + 20
    for k in range(21):
        out.append(f'<rect x="{label_w + k * 8}" y="{ly}" width="8" height="10" fill="{ratio_color(k / 10)}"/>')
    out.append(f'<text x="{label_w}" y="{ly + 24}" font-size="10" fill="#555">0</text>')
    out.append(f'<text x="{label_w + 80}" y="{ly + 24}" font-size="10" fill="#555">1 (threshold)</text>')
    out.append(f'<text x="{label_w + 160}" y="{ly + 24}" font-size="10" fill="#555">2+</text>')
    out.append(
        f'<rect x="{label_w + 200}" y="{ly}" width="12" height="10" fill="#fff" stroke="#000" stroke-width="2"/>'
        f'<text x="{label_w + 218}" y="{ly + 9}" font-size="10" fill="#555">drifted</text>'
    )
    out.append(
        f'<text x="{max(4, label_w - 6)}" y="{ly + 9}" text-anchor="end" font-size="10" fill="#555">'
        "value / threshold</text>"
    )
    out.append("</svg>")
    return "".join(out)


def heatmap_cells(rows: Sequence[Mapping]) -> dict[tuple[str, date], Cell]:
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
