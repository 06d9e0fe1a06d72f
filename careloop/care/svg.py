"""A small line chart as SVG text, drawn on the server for printed reports (no Django
imports): values over time, the reference band shaded, abnormal points in red."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 22, 26


@dataclass(frozen=True)
class Point:
    label: str  # e.g. "2025-06"
    value: float
    abnormal: bool = False


def _ticks(low: float, high: float) -> list[float]:
    step = (high - low) / 4
    return [low + step * n for n in range(5)]


def _fmt(value: float, places: int = 1) -> str:
    if abs(value) >= 100 and places <= 1:
        return f"{value:.0f}"
    return f"{value:.{places}f}".rstrip("0").rstrip(".")


def _value(value: float) -> str:
    """A point's value as measured (up to three decimals): rounded to one, a LDL-C of
    1.98 read "2" and a triglyceride of 1.66, normal, "1.7", against the table beside it."""
    return _fmt(value, 3)


def _tick_labels(ticks: list[float]) -> list[str]:
    """The axis labels with as few decimals as keep them apart (a 4.2–4.5 axis read
    4.2, 4.3, 4.3, 4.4, 4.5 at one decimal)."""
    for places in range(1, 4):
        labels = [_fmt(tick, places) for tick in ticks]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def line_chart(
    title: str, points: list[Point], band: tuple[float | None, float | None] | None = None
) -> str:
    values = [p.value for p in points]
    edges = [v for v in (band or (None, None)) if v is not None]
    low, high = min(values + edges), max(values + edges)
    least = low
    if high == low:
        low, high = low - 1, high + 1
    pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    if least >= 0 > low:  # nothing below 0 (cigarettes, steps): the axis stops at 0, not -0.8
        low = 0.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(n: int) -> float:
        return LEFT + (plot_w * n / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Noto Sans CJK SC" font-size="9">',
        f'<text x="{LEFT}" y="13" font-size="11" font-weight="bold">{escape(title)}</text>',
    ]
    if band and (band[0] is not None or band[1] is not None):
        top = y(band[1]) if band[1] is not None else TOP
        bottom = y(band[0]) if band[0] is not None else TOP + plot_h
        parts.append(
            f'<rect x="{LEFT}" y="{top:.1f}" width="{plot_w}" height="{max(bottom - top, 0):.1f}" '
            'fill="#2fb344" fill-opacity="0.12"/>'
        )
    ticks = _ticks(low, high)
    for tick, tick_label in zip(ticks, _tick_labels(ticks), strict=True):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#e6e7e9" stroke-width="0.5"/>'
            f'<text x="{LEFT - 4}" y="{y(tick) + 3:.1f}" text-anchor="end" fill="#667382">'
            f"{tick_label}</text>"
        )
    line = " ".join(f"{x(n):.1f},{y(p.value):.1f}" for n, p in enumerate(points))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#206bc4" stroke-width="1.5"/>')
    for n, p in enumerate(points):
        colour = "#d63939" if p.abnormal else "#206bc4"
        parts.append(f'<circle cx="{x(n):.1f}" cy="{y(p.value):.1f}" r="2.5" fill="{colour}"/>')
        parts.append(
            f'<text x="{x(n):.1f}" y="{y(p.value) - 5:.1f}" text-anchor="middle" '
            f'fill="{colour}">{_value(p.value)}</text>'
        )
    # At most five dates, none closer to the last than the step between them: the last runs
    # inwards from its point and ran into the one before it ("2026-112026-12" at 7 points).
    last = len(points) - 1
    step = max(1, -(-last // 4))
    shown = {n for n in range(0, last, step) if last - n >= step} | {0, last}
    for n in sorted(shown):
        # The first and last dates run inwards from their points: centred, the last one was
        # cut at the chart's edge ("2026-1").
        anchor = "start" if n == 0 and last else "end" if n == last and last else "middle"
        parts.append(
            f'<text x="{x(n):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" fill="#667382">'
            f"{escape(points[n].label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
