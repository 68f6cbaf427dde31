"""Charts drawn on the server as inline SVG: horizontal bars, vertical monthly bars, and a line across years
against a target.

Used by the survey tally (submissions/tally.py) and meant for the council's indicator pages too. No Django
models, no JavaScript.

Every chart:

- is one ``<svg>`` element with ``role="img"`` and an accessible name (``aria-label`` and a ``<title>``);
  it is a picture of numbers that the page must also give as text (a data table): a screen reader reads
  the name and moves on;
- scales with its container: the size is a ``viewBox`` and the drawn width is the container's up to
  32rem (DRAWN_WIDTH), so it fits a phone and stays readable on a wide screen;
- uses presentation attributes only (``fill=``, ``stroke=``): no ``style`` attribute, no ``<style>``, no
  script, so the strict Content-Security-Policy (``default-src 'self'``, madoguchi/security.py) allows it;
- escapes every text it is given (labels come from form builders and residents), and drops characters
  XML cannot hold, so the same string is also a valid standalone ``.svg`` file.

Functions return a ``SafeString`` that templates print as it is.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString, mark_safe

__all__ = [
    "Bar",
    "Point",
    "format_number",
    "horizontal_bars",
    "monthly_bars",
    "nice_ceiling",
    "text_width",
    "yearly_line",
]

# Colours with a contrast of at least 4.5:1 against white (WCAG 1.4.11 asks 3:1 for graphics).
BAR_COLOUR = "#1f5fa8"
TARGET_COLOUR = "#b3261e"
TEXT_COLOUR = "#1a1a1a"
GRID_COLOUR = "#c8c8c8"
FONT_SIZE = 15  # in viewBox units: about 11 px on a 360 px phone, 19 px at most on a wide screen
FONT_FAMILY = "sans-serif"
# Widths of the viewBox: bars read on a phone; charts with an axis need room for twelve months. Heights
# follow the content.
BARS_WIDTH = 400
AXIS_WIDTH = 480
# The drawn width: the container's, but never wider than this (a wide screen would blow the text up).
# A browser that does not read min() in the attribute fills the container instead.
DRAWN_WIDTH = "min(100%, 32rem)"

# XML 1.0 allows tab, line feed and carriage return among the C0 controls, and no lone surrogates, no
# U+FFFE/U+FFFF. Any of these in a label would make a standalone .svg unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (≥ 0; negative values are drawn as 0) and the text shown beside it
    (``text``; empty: the value with thousands separators)."""

    label: str
    value: float | int | Decimal
    text: str = ""


@dataclass(frozen=True)
class Point:
    """One point of a line: its label on the horizontal axis (a year such as 「令和6年度」) and its value,
    or None where there is no value (the line is broken there)."""

    label: str
    value: float | int | Decimal | None


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _esc(text: object) -> str:
    """Text for an SVG element or attribute: escaped (quotes too) and XML-safe."""
    return html.escape(_clean(text), quote=True)


def _num(value: float) -> str:
    """A coordinate with at most one decimal: short output, no exponent."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def format_number(value: float | int | Decimal) -> str:
    """1234 → 「1,234」, 12.5 → 「12.5」 (as the tables beside the charts show numbers); NaN, ∞ → 「-」."""
    number = Decimal(str(value))
    if not number.is_finite():
        return "-"
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


def month_label(month: int) -> str:
    """A month's short name for a chart's axis, from Django's catalogue: 「4月」 in Japanese, "Apr" in English
    (the full names, "April", "June", "July", would be cut to "Ap…", "Ju…", "Ju…" under a bar)."""
    return str(MONTHS_3[month]).capitalize()


def text_width(text: str, font_size: float = FONT_SIZE) -> float:
    """Approximate drawn width of text in viewBox units: full-width (East Asian wide) characters take one
    em, others about 0.6 em. SVG cannot measure text on the server; this errs on the wide side."""
    width = 0.0
    for char in text:
        width += 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.6
    return width * font_size


def _fit(text: str, width: float, font_size: float = FONT_SIZE) -> str:
    """Text cut to fit width, ending in 「…」 when cut (the full text is in the data table)."""
    text = _clean(text).replace("\n", " ").replace("\r", " ").replace("\t", " ")
    if text_width(text, font_size) <= width:
        return text
    while text and text_width(text + "…", font_size) > width:
        text = text[:-1]
    return text + "…"


# Tops of an axis (× 10ⁿ) and how many grid steps each is divided into: every step is 1, 2 or 5 × 10ᵐ.
_AXIS_TOPS = ((1, 5), (1.5, 3), (2, 4), (2.5, 5), (3, 3), (4, 4), (5, 5), (6, 3), (8, 4), (10, 5))


# Below 10⁻³⁰⁰ a float's powers of ten run out (10.0 ** -324 is 0.0): an axis never starts finer than this.
_SMALLEST_EXPONENT = -300


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ not below value (0 for 0): the top of an axis,
    never more than half as much again above the value."""
    if value <= 0:
        return 0
    exponent = max(math.floor(math.log10(value)), _SMALLEST_EXPONENT)
    for step, _count in _AXIS_TOPS:
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)  # pragma: no cover - 10 always fits


def _ticks(top: float) -> list[float]:
    """Grid values from 0 to top (a nice_ceiling) in round steps: 15 → 0, 5, 10, 15; 6,000 → 0, 2,000, …"""
    if top <= 0:
        return [0]
    mantissa = top / 10.0 ** max(math.floor(math.log10(top) + 1e-12), _SMALLEST_EXPONENT)
    count = next((n for step, n in _AXIS_TOPS if math.isclose(mantissa, step)), 5)
    return [top * i / count for i in range(count + 1)]


def _svg(title: str, width: int, height: float, body: list[str], *, description: str = "") -> SafeString:
    name = _esc(title)
    desc = f"<desc>{_esc(description)}</desc>" if description else ""
    return mark_safe(  # noqa: S308 - every text inside went through _esc
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_num(height)}" width="{DRAWN_WIDTH}" '
        f'role="img" aria-label="{name}" class="chart" font-family="{FONT_FAMILY}" font-size="{FONT_SIZE}" '
        f'fill="{TEXT_COLOUR}"><title>{name}</title>{desc}{"".join(body)}</svg>'
    )


# Larger values are drawn as this (a thousand trillion: beyond any count or yen amount drawn here).
MAX_DRAWN = 1e15


def _value(value: float | int | Decimal | None) -> float:
    """The value as drawn: None, negative, NaN → 0; above MAX_DRAWN (or infinite) → MAX_DRAWN."""
    if value is None:
        return 0.0
    number = float(value)
    if math.isnan(number) or number <= 0:
        return 0.0
    return min(number, MAX_DRAWN)


def horizontal_bars(
    bars: Sequence[Bar], *, title: str, max_value: float | None = None, description: str = ""
) -> SafeString:
    """Horizontal bars, one per item, each with its label on a line above it: long Japanese option labels
    keep the whole width (a label wider than the chart is cut with 「…」).

    bars: in the order drawn, top to bottom. max_value: the value of a full-width bar (e.g. the number of
    respondents, so that bars of different questions compare); default the largest value. title: the
    accessible name (e.g. the question). Returns the ``<svg>`` as a SafeString.
    """
    width, row, label_gap, bar_height, pad = BARS_WIDTH, 48, 20, 18, 4
    text_room = 160  # right of the longest bar, for 「12,345件（100.0%）」
    top = max_value if max_value and max_value > 0 else max((_value(b.value) for b in bars), default=0)
    span = width - text_room
    body = []
    for index, bar in enumerate(bars):
        y = pad + index * row
        value = _value(bar.value)
        length = span * min(value / top, 1) if top else 0
        text = bar.text or format_number(bar.value if bar.value is not None else 0)
        body.append(f'<text x="0" y="{_num(y + FONT_SIZE)}">{_esc(_fit(bar.label, width))}</text>')
        # A zero still shows a hairline, so the row does not look missing.
        body.append(
            f'<rect x="0" y="{_num(y + label_gap + 2)}" width="{_num(max(length, 1.5))}" '
            f'height="{bar_height}" fill="{BAR_COLOUR}"/>'
        )
        body.append(
            f'<text x="{_num(length + 6)}" y="{_num(y + label_gap + 2 + bar_height - 4)}">{_esc(text)}</text>'
        )
    height = pad * 2 + max(len(bars), 1) * row
    return _svg(title, width, height, body, description=description)


def _axis_left(top: float, plot_top: float, plot_bottom: float, left: float, right: float) -> list[str]:
    """Horizontal grid lines with their values on the left."""
    body = []
    for tick in _ticks(top):
        y = plot_bottom - (plot_bottom - plot_top) * (tick / top if top else 0)
        body.append(
            f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        body.append(
            f'<text x="{_num(left - 6)}" y="{_num(y + FONT_SIZE / 3)}" text-anchor="end">'
            f"{_esc(format_number(round(tick, 2)))}</text>"
        )
    return body


def monthly_bars(bars: Sequence[Bar], *, title: str, description: str = "") -> SafeString:
    """Vertical bars side by side, e.g. the twelve months of a 年度 (labels 「4月」 … 「3月」), with a value
    axis on the left and each bar's text above it.

    bars: left to right; labels should be short (with twelve bars 「12月」 fits, a longer label is cut
    with 「…」). Returns the ``<svg>`` as a SafeString.
    """
    width, height, left, right, plot_top, plot_bottom = AXIS_WIDTH, 300, 52, AXIS_WIDTH - 8, 24, 260
    top = nice_ceiling(max((_value(b.value) for b in bars), default=0))
    body = _axis_left(top, plot_top, plot_bottom, left, right)
    slot = (right - left) / max(len(bars), 1)
    bar_width = slot * 0.7
    for index, bar in enumerate(bars):
        value = _value(bar.value)
        length = (plot_bottom - plot_top) * (value / top) if top else 0
        x = left + slot * index + (slot - bar_width) / 2
        centre = left + slot * index + slot / 2
        body.append(
            f'<rect x="{_num(x)}" y="{_num(plot_bottom - length)}" width="{_num(bar_width)}" '
            f'height="{_num(length)}" fill="{BAR_COLOUR}"/>'
        )
        text = bar.text or format_number(bar.value if bar.value is not None else 0)
        body.append(
            f'<text x="{_num(centre)}" y="{_num(plot_bottom - length - 4)}" text-anchor="middle" '
            f'font-size="11">{_esc(_fit(text, slot, 11))}</text>'
        )
        body.append(
            f'<text x="{_num(centre)}" y="{_num(plot_bottom + 20)}" text-anchor="middle">'
            f"{_esc(_fit(bar.label, slot))}</text>"
        )
    return _svg(title, width, height, body, description=description)


def yearly_line(
    points: Sequence[Point],
    *,
    title: str,
    target: float | int | Decimal | None = None,
    target_label: str = "目標",
    description: str = "",
    targets: Sequence[float | int | Decimal | None] | None = None,
) -> SafeString:
    """A line across years (or any ordered periods) with a dot per value and, if given, a dashed target
    line across the whole chart, named by target_label (and its value) above its left end.

    points: left to right; a None value breaks the line. Values below 0 are drawn at 0. targets: if
    given, one per point (None: no target that period), drawn as a dashed line with square marks in the
    target colour, so each period's value stands against its own target. Returns the ``<svg>`` as a
    SafeString.
    """
    width, height, left, right, plot_top, plot_bottom = AXIS_WIDTH, 300, 52, AXIS_WIDTH - 16, 28, 260
    values = [_value(p.value) for p in points if p.value is not None]
    values += [_value(t) for t in (targets or [])[: len(points)] if t is not None]
    top = nice_ceiling(max([*values, _value(target)], default=0))
    body = _axis_left(top, plot_top, plot_bottom, left, right)
    slot = (right - left) / max(len(points), 1)

    def y_of(value: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * (value / top if top else 0)

    if target is not None:
        y = y_of(_value(target))
        body.append(
            f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        label = f"{_clean(target_label)} {format_number(target)}"
        body.append(
            f'<text x="{_num(left + 4)}" y="{_num(y - 6)}" fill="{TARGET_COLOUR}">'
            f"{_esc(_fit(label, right - left))}</text>"
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    dots = []
    for index, point in enumerate(points):
        centre = left + slot * index + slot / 2
        body.append(
            f'<text x="{_num(centre)}" y="{_num(plot_bottom + 20)}" text-anchor="middle">'
            f"{_esc(_fit(point.label, slot))}</text>"
        )
        if point.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        y = y_of(_value(point.value))
        segment.append(f"{_num(centre)},{_num(y)}")
        dots.append(f'<circle cx="{_num(centre)}" cy="{_num(y)}" r="4" fill="{BAR_COLOUR}"/>')
    if segment:
        segments.append(segment)
    if targets is not None:
        run: list[str] = []
        for index, value in enumerate([*list(targets)[: len(points)], None]):
            if value is None:
                if len(run) > 1:
                    body.append(
                        f'<polyline points="{" ".join(run)}" fill="none" stroke="{TARGET_COLOUR}" '
                        f'stroke-width="2" stroke-dasharray="6 4"/>'
                    )
                run = []
                continue
            centre, y = left + slot * index + slot / 2, y_of(_value(value))
            run.append(f"{_num(centre)},{_num(y)}")
            body.append(
                f'<rect x="{_num(centre - 4)}" y="{_num(y - 4)}" width="8" height="8" fill="{TARGET_COLOUR}"/>'
            )
    for part in segments:
        if len(part) > 1:
            body.append(
                f'<polyline points="{" ".join(part)}" fill="none" stroke="{BAR_COLOUR}" stroke-width="2.5"/>'
            )
    body.extend(dots)
    return _svg(title, width, height, body, description=description)
