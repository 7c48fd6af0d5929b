"""Tiny server-side SVG charts for the console, without any library.

The output is meant to be inlined in an HTML page: every text is XML-escaped, and there
are no scripts, no event attributes, no links, no styles and no ids (so several charts can
sit on one page). Each chart carries a <title>, role="img" and an aria-label.
Values are counts: None, negative and non-finite numbers are drawn as 0.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999")
"""Okabe-Ito colours, distinguishable with the common colour-vision deficiencies."""

FONT = 'font-family="sans-serif"'
CHAR_WIDTH = 6.5
"""Rough width of one character at font-size 11, to shorten labels that would not fit."""

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def esc(value: object) -> str:
    """`value` as text safe inside an XML element or a double- or single-quoted attribute."""
    text = _NOT_XML.sub("", str(value))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#x27;"))


def bar_chart(title: str, categories: Sequence[str], series: Mapping[str, Sequence[float | None]],
              width: int = 640, height: int = 320, stacked: bool = True) -> str:
    """Vertical bars: one group per category, one bar (or stack part) per series, with axes and legend."""
    names, rows = _clean(categories, series)
    top = 30 + (20 if len(names) > 1 else 0)
    left, right, bottom = 44, 12, 30
    plot_w, plot_h = max(width - left - right, 10), max(height - top - bottom, 10)
    totals = [sum(col) for col in zip(*rows)] if stacked else [max(col, default=0) for col in zip(*rows)]
    vmax, step = _scale(max(totals, default=0))
    parts = [_open(title, width, height, _summary(categories, names, rows)), _text(width / 2, 18, title, 13, "middle", bold=True)]
    if len(names) > 1:
        parts.append(_legend(names, left, 34))
    for i in range(int(round(vmax / step)) + 1):  # the value axis and its grid
        y = top + plot_h - plot_h * (i * step) / vmax
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(_text(left - 6, y + 4, _number(i * step), 11, "end"))
    if not categories:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, "No data", 12, "middle"))
    slot = plot_w / max(len(categories), 1)
    bar_w = slot * 0.7 if stacked else slot * 0.8 / max(len(names), 1)
    for ci, category in enumerate(categories):
        x0 = left + ci * slot + slot * (0.15 if stacked else 0.1)
        base = 0.0
        for si, name in enumerate(names):
            value = rows[si][ci]
            if value <= 0:
                continue
            h = plot_h * value / vmax
            x = x0 if stacked else x0 + si * bar_w
            y = top + plot_h - plot_h * base / vmax - h if stacked else top + plot_h - h
            parts.append(_rect(x, y, bar_w, h, PALETTE[si % len(PALETTE)], f"{category} · {name}: {_number(value)}"))
            if stacked:
                base += value
        parts.append(_text(left + ci * slot + slot / 2, top + plot_h + 16, _fit(str(category), slot), 11, "middle"))
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]] | Sequence[float | None],
               width: int = 640, bar_height: int = 18) -> str:
    """Horizontal bars, one row per label (e.g. per province), stacked when given several series."""
    if not isinstance(series, Mapping):
        series = {"": series}
    names, rows = _clean(labels, series)
    shown = [n for n in names if n]
    top = 30 + (20 if len(shown) > 1 else 0)
    longest = max((len(str(label)) for label in labels), default=0)
    left = min(max(longest * CHAR_WIDTH + 10, 40), width * 0.4)
    right, gap = 48, 6
    plot_w = max(width - left - right, 10)
    height = int(top + max(len(labels), 1) * (bar_height + gap) + 10)
    totals = [sum(col) for col in zip(*rows)]
    vmax, _ = _scale(max(totals, default=0))
    parts = [_open(title, width, height, _summary(labels, names, rows)), _text(width / 2, 18, title, 13, "middle", bold=True)]
    if len(shown) > 1:
        parts.append(_legend(names, 10, 34))
    if not labels:
        parts.append(_text(width / 2, top + bar_height / 2 + 4, "No data", 12, "middle"))
    for li, label in enumerate(labels):
        y = top + li * (bar_height + gap)
        parts.append(_text(left - 6, y + bar_height / 2 + 4, _fit(str(label), left - 10), 11, "end"))
        base = 0.0
        for si, name in enumerate(names):
            value = rows[si][li]
            if value <= 0:
                continue
            w = plot_w * value / vmax
            tip = f"{label} · {name}: {_number(value)}" if name else f"{label}: {_number(value)}"
            parts.append(_rect(left + plot_w * base / vmax, y, w, bar_height, PALETTE[si % len(PALETTE)], tip))
            base += value
        parts.append(_text(left + plot_w * base / vmax + 4, y + bar_height / 2 + 4, _number(totals[li]), 11, "start"))
    parts.append(f'<line x1="{left}" y1="{top - 2}" x2="{left}" y2="{height - 8}" stroke="#333"/>')
    parts.append("</svg>")
    return "".join(parts)


# ---- helpers -------------------------------------------------------------------------

def _clean(categories: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> tuple[list[str], list[list[float]]]:
    """Series names and their values, one per category (missing, bad or negative values are 0)."""
    names = [str(name) for name in series]
    rows = []
    for values in series.values():
        values = list(values)[: len(categories)]
        values += [0] * (len(categories) - len(values))
        rows.append([_value(v) for v in values])
    return names, rows


def _value(value: object) -> float:
    """A drawable number: finite and not negative."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0 else 0.0


def _scale(top_value: float) -> tuple[float, float]:
    """A round axis maximum at or above `top_value` and its tick step (1, 2 or 5 times a power of ten)."""
    if top_value <= 0:
        return 1.0, 1.0
    raw = top_value / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if top_value <= 5:
        step = 1.0  # counts: no half ticks
    return math.ceil(top_value / step) * step, step


def _number(value: float) -> str:
    """A count as written on the chart: no decimals when whole."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _fit(text: str, room: float) -> str:
    """`text` shortened with an ellipsis to fit `room` pixels."""
    most = max(int(room // CHAR_WIDTH), 1)
    return text if len(text) <= most else text[: max(most - 1, 1)] + "…"


def _open(title: str, width: float, height: float, description: str) -> str:
    """The svg start tag with its accessible name, title and description."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{int(height)}" '
            f'viewBox="0 0 {width} {int(height)}" role="img" aria-label="{esc(title)}">'
            f"<title>{esc(title)}</title><desc>{esc(description)}</desc>")


def _summary(categories: Sequence[str], names: list[str], rows: list[list[float]]) -> str:
    """The chart's figures as one sentence, for screen readers."""
    if not categories:
        return "No data."
    items = []
    for ci, category in enumerate(categories):
        values = ", ".join(f"{name}: {_number(rows[si][ci])}" if name else _number(rows[si][ci])
                           for si, name in enumerate(names))
        items.append(f"{category}: {values}" if len(names) == 1 and not names[0] else f"{category} ({values})")
    return "; ".join(items) + "."


def _text(x: float, y: float, text: str, size: int, anchor: str, bold: bool = False) -> str:
    """One escaped text element."""
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" {FONT} '
            f'fill="#222"{weight}>{esc(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    """One bar, with its figure as a tooltip."""
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
            f"<title>{esc(tip)}</title></rect>")


def _legend(names: list[str], x: float, y: float) -> str:
    """A row of colour swatches with the series names."""
    parts = []
    for si, name in enumerate(names):
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>')
        parts.append(_text(x + 14, y, name, 11, "start"))
        x += 14 + len(name) * CHAR_WIDTH + 14
    return "".join(parts)
