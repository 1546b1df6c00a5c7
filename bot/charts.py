"""PNG bar charts with no plotting library: a small RGB canvas, a 3×5 pixel font and a zlib/struct PNG encoder.

The chart is a picture of figures that are also given as text beside it, so it stays simple: bars, a base
line, two grid lines labelled with their values, and a short label under the bars.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
BAR: Color = (52, 120, 246)
AXIS: Color = (90, 90, 90)
GRID: Color = (225, 225, 225)
INK: Color = (40, 40, 40)

# 3×5 glyphs, one string per row ("#" = ink); enough for amounts, days and months.
FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    ",": ("...", "...", "...", ".#.", "#.."),
    ".": ("...", "...", "...", "...", ".#."),
    "-": ("...", "...", "###", "...", "..."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
    " ": ("...", "...", "...", "...", "..."),
}
GLYPH_WIDTH, GLYPH_HEIGHT = 3, 5


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit truecolour PNG of `rgb` (width × height × 3 bytes, rows top to bottom)."""
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of pixels, got {len(rgb)}")
    # Filter type 0 (None) before every row.
    raw = b"".join(b"\x00" + rgb[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


class Canvas:
    def __init__(self, width: int, height: int, background: Color = BACKGROUND) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fills [x0, x1) × [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, value: str, color: Color = INK, scale: int = 2) -> None:
        for index, char in enumerate(value):
            glyph = FONT.get(char, FONT[" "])
            left = x + index * (GLYPH_WIDTH + 1) * scale
            for gy, line in enumerate(glyph):
                for gx, cell in enumerate(line):
                    if cell == "#":
                        self.rect(left + gx * scale, y + gy * scale, left + (gx + 1) * scale, y + (gy + 1) * scale,
                                  color)

    def png(self) -> bytes:
        return encode_png(self.width, self.height, bytes(self.pixels))


def text_width(value: str, scale: int = 2) -> int:
    return len(value) * (GLYPH_WIDTH + 1) * scale - scale if value else 0


def bar_chart(values: Sequence[float], labels: Sequence[str], *, height: int = 260, slot: int = 20,
              scale: int = 2) -> bytes:
    """Bars of `values` (negative ones drawn as zero), each over its label; a PNG."""
    if len(values) != len(labels):
        raise ValueError("one label per value")
    top = max([0.0, *values])
    grid_labels = [format_amount(top / 2), format_amount(top)]
    margin_left = max(text_width(v, scale) for v in grid_labels) + 4 * scale
    margin_top, margin_bottom, margin_right = 6 * scale, (GLYPH_HEIGHT + 4) * scale, 4 * scale
    width = margin_left + max(1, len(values)) * slot + margin_right
    canvas = Canvas(width, height)
    base_y = height - margin_bottom
    plot_height = base_y - margin_top
    for fraction, label in zip((0.5, 1.0), grid_labels):
        y = base_y - round(plot_height * fraction)
        canvas.rect(margin_left, y, width - margin_right, y + 1, GRID)
        canvas.text(margin_left - 2 * scale - text_width(label, scale), y - GLYPH_HEIGHT * scale // 2, label,
                    scale=scale)
    bar_width = max(1, slot * 3 // 4)
    every = _label_stride(labels, slot, scale)
    for index, value in enumerate(values):
        left = margin_left + index * slot + (slot - bar_width) // 2
        bar = round(plot_height * max(0.0, value) / top) if top > 0 else 0
        canvas.rect(left, base_y - bar, left + bar_width, base_y, BAR)
        if index % every == 0:
            label = labels[index]
            centre = margin_left + index * slot + slot // 2
            canvas.text(centre - text_width(label, scale) // 2, base_y + 3 * scale, label, scale=scale)
    canvas.rect(margin_left, base_y, width - margin_right, base_y + 1, AXIS)
    return canvas.png()


def _label_stride(labels: Sequence[str], slot: int, scale: int) -> int:
    """Every how many bars a label fits without touching its neighbour."""
    widest = max((text_width(label, scale) for label in labels), default=0) + 2 * scale
    stride = 1
    while stride * slot < widest:
        stride += 1
    return stride


def format_amount(value: float) -> str:
    """Thousands separated; decimals only where the amount has them (JPY has none, USD and EUR cents)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
