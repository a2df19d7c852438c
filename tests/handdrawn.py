"""Hand-drawn-like digits for predict-image tests: thick strokes with PIL on a big canvas.

Each digit is a few strokes in a unit box (x right, y down, the digit about 0.7 wide and 1 tall);
`draw_digit` scales them to any size, places them off-centre and draws them with round-capped pens.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

Point = tuple[float, float]


def arc(cx: float, cy: float, r: float, start: float, stop: float, steps: int = 24,
        ry: float | None = None) -> list[Point]:
    """Points along an arc; angles in degrees, 0 = right, 90 = down (y grows downwards)."""
    ry = r if ry is None else ry
    return [(cx + r * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start + (stop - start) * i / steps for i in range(steps + 1))]


STROKES: dict[int, list[list[Point]]] = {
    0: [arc(0.5, 0.5, 0.33, 0, 360, 40, ry=0.5)],
    1: [[(0.58, 0.0), (0.44, 1.0)]],
    2: [arc(0.5, 0.28, 0.3, 200, 380, ry=0.28) + [(0.15, 1.0), (0.9, 1.0)]],
    3: [arc(0.5, 0.25, 0.28, 210, 450, ry=0.25), arc(0.5, 0.73, 0.32, 270, 520, ry=0.27)],
    4: [[(0.68, 1.0), (0.68, 0.0), (0.1, 0.68), (0.92, 0.68)]],
    5: [[(0.85, 0.0), (0.27, 0.0), (0.22, 0.45)] + arc(0.5, 0.69, 0.32, 225, 520, ry=0.31)],
    6: [arc(1.1, 0.75, 0.88, 240, 180, ry=0.75) + arc(0.5, 0.75, 0.28, 180, -180, 32, ry=0.25)],
    7: [[(0.1, 0.0), (0.9, 0.0), (0.42, 1.0)]],
    8: [arc(0.5, 0.24, 0.24, 0, 360, 32, ry=0.24), arc(0.5, 0.73, 0.3, 0, 360, 32, ry=0.27)],
    9: [arc(0.48, 0.28, 0.3, 0, 360, 32, ry=0.28), [(0.78, 0.28), (0.72, 1.0)]],
}


def draw_digit(digit: int, path: Path, canvas: tuple[int, int] = (400, 400), height: int = 240,
               origin: tuple[int, int] = (60, 40), width_px: int | None = None,
               ink=(20, 20, 20), paper=(255, 255, 255), mode: str = "RGB") -> Path:
    """Draw `digit` `height` pixels tall with its box's top-left at `origin`; the format follows the suffix."""
    pen = width_px or max(3, height // 7)
    image = Image.new(mode, canvas, paper if mode != "L" else paper[0])
    draw = ImageDraw.Draw(image)
    colour = ink if mode != "L" else ink[0]
    ox, oy = origin
    for stroke in STROKES[digit]:
        points = [(ox + x * height, oy + y * height) for x, y in stroke]
        draw.line(points, fill=colour, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, as a pen makes
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=colour)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.convert("RGB").save(path, quality=80)
    else:
        image.save(path)
    return path
