"""PNG charts drawn by matplotlib (Agg, no display): bars of amounts, comparison lines and a limit line.

A chart is a picture of figures that are also given as text beside it. It carries a title, axis labels (the
y label names the currency), a legend, and the title again in the PNG's metadata. Japanese text needs a font
with Japanese glyphs: the IPAex Gothic that matplotlib-fontja ships, else one the system has, else matplotlib's
own (labels then lose their Japanese glyphs, never the chart).
"""

from __future__ import annotations

import importlib.util
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

log = logging.getLogger(__name__)

BAR = "#3478f6"  # (52, 120, 246): tests find the bars by this exact colour
COMPARISON = "#f39c12"
FORECAST = "#8e44ad"
LIMIT = "#d62728"
GRID = "#e1e1e1"
JAPANESE_FONTS = ("IPAexGothic", "Noto Sans CJK JP", "IPAGothic", "TakaoGothic", "VL Gothic", "Droid Sans Fallback")
FALLBACK_FONT = "DejaVu Sans"
DPI = 100
SIZE = (9.0, 4.5)  # inches


@dataclass(frozen=True)
class Line:
    label: str
    values: Sequence[float | None]  # None: no point at that position
    color: str = COMPARISON
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    labels: Sequence[str]  # one per position on the x axis
    bars: Sequence[float] = ()  # empty: a chart of lines only
    bar_label: str = ""
    lines: Sequence[Line] = field(default_factory=tuple)
    limit: tuple[str, float] | None = None  # a horizontal line, such as a budget


@cache
def font_families() -> tuple[str, ...]:
    """The font families charts ask for, Japanese-capable first; matplotlib falls back per glyph along the list."""
    from matplotlib import font_manager

    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is not None and spec.origin:
        shipped = Path(spec.origin).parent / "fonts" / "ipaexg.ttf"
        if shipped.is_file():
            font_manager.fontManager.addfont(str(shipped))
    known = {entry.name for entry in font_manager.fontManager.ttflist}
    found = tuple(name for name in JAPANESE_FONTS if name in known)
    if not found:
        log.warning("no Japanese font found (install matplotlib-fontja): Japanese chart labels will lack glyphs")
    return (*found, FALLBACK_FONT)


def render(chart: Chart) -> bytes:
    """The chart as PNG bytes. Safe to call from a worker thread: no pyplot, one Figure per call."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context({"font.family": list(font_families()), "axes.unicode_minus": False}):
        figure = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        _draw(axes, chart)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", metadata={"Title": chart.title, "Software": "soracom-slack-bot"})
    return out.getvalue()


def _draw(axes: Axes, chart: Chart) -> None:
    positions = list(range(len(chart.labels)))
    if chart.bars:
        # Not antialiased: every bar pixel has the one colour, which keeps the picture crisp and measurable.
        axes.bar(positions, [max(0.0, v) for v in chart.bars], color=BAR, antialiased=False, zorder=3,
                 label=chart.bar_label or None, width=0.7)
    for line in chart.lines:
        points = [(x, v) for x, v in zip(positions, line.values) if v is not None]
        if points:
            axes.plot([x for x, _ in points], [v for _, v in points], color=line.color, linewidth=2,
                      linestyle="--" if line.dashed else "-", marker="o" if len(points) < 3 else None,
                      label=line.label, zorder=4)
    if chart.limit is not None:
        axes.axhline(chart.limit[1], color=LIMIT, linewidth=1.5, linestyle=":", label=chart.limit[0], zorder=5)
    axes.figure.suptitle(chart.title)
    axes.set_xlabel(chart.x_label)
    axes.set_ylabel(chart.y_label)
    axes.set_ylim(bottom=0)
    axes.grid(axis="y", color=GRID, zorder=0)
    axes.set_axisbelow(True)
    axes.yaxis.set_major_formatter(lambda value, _: format_amount(value))
    step = max(1, len(positions) // 16)  # at most ~16 labels under the axis
    axes.set_xticks(positions[::step], [chart.labels[i] for i in positions[::step]])
    if positions:
        axes.set_xlim(-0.6, len(positions) - 0.4)
    if axes.get_legend_handles_labels()[1]:
        # Above the plot, not in it: it hides no bar or line.
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=4, frameon=False, fontsize="small")


def format_amount(value: float) -> str:
    """Thousands separated; decimals only where the amount has them (JPY has none, USD and EUR cents)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
