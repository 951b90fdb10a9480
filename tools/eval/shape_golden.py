"""Drawings of shapes rounded, bowed and stretched step by step, with what a person names each, read by the vision
code's shape rule (metrics.shape_of_mask); written as the golden file the Java VideoMetrics test reads, so both
languages' moments and readings are checked against one set of masks.

  venv/bin/python tools/eval/shape_golden.py [--out src/test/resources/golden/shape_moments.json] [--sheet s.png]

`named` is what a person calls the drawing (looked at in the --sheet, one row per family); None where the
drawing sits between two names and neither reading is wrong (it is written but not asserted).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import metrics  # noqa: E402

SIZE = 40


def _grid(cx: float, cy: float):
    ys, xs = torch.meshgrid(torch.arange(SIZE, dtype=torch.float64), torch.arange(SIZE, dtype=torch.float64),
                            indexing="ij")
    return xs + 0.5 - cx, ys + 0.5 - cy


def _box(px, py, h: float, rho: float):
    """Signed distance to a square of half side h whose corners are rounded with radius rho."""
    qx, qy = px.abs() - (h - rho), py.abs() - (h - rho)
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
    return outside + torch.maximum(qx, qy).clamp(max=0) - rho


def _polygon(px, py, vertices):
    """Signed distance to a convex polygon (its vertices in order, either way round)."""
    best = torch.full(px.shape, float("inf"), dtype=torch.float64)
    left = torch.ones(px.shape, dtype=torch.bool)
    right = torch.ones(px.shape, dtype=torch.bool)
    for (ax, ay), (bx, by) in zip(vertices, vertices[1:] + vertices[:1]):
        ex, ey = bx - ax, by - ay
        t = (((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey)).clamp(0, 1)
        best = torch.minimum(best, torch.hypot(px - ax - t * ex, py - ay - t * ey))
        side = ex * (py - ay) - ey * (px - ax)
        left &= side <= 0
        right &= side >= 0
    return torch.where(left | right, -best, best)


def rounded_square(r: float, f: float, stretch: float = 1.0, cx=20.3, cy=19.6):
    px, py = _grid(cx, cy)
    h = 0.85 * r
    return _box(px / stretch, py, h, f * h) < 0


def rounded_diamond(r: float, f: float, cx=20.3, cy=19.6):
    px, py = _grid(cx, cy)
    h = 0.75 * r
    return _box((px + py) / math.sqrt(2), (px - py) / math.sqrt(2), h, f * h) < 0


def rounded_triangle(r: float, f: float, down: bool = False, stretch: float = 1.0, cx=20.3, cy=19.6):
    """world.py's triangle (inradius 0.625 r, tip up), its corners rounded with radius f times the inradius."""
    px, py = _grid(cx, cy)
    a = 0.625 * r
    inner = a * (1 - f)
    k = math.sqrt(3)
    tip = 1 if down else -1                       # pixel y grows downwards: the tip up is at -2 inner
    d = _polygon(px / stretch, py, [(0.0, tip * 2 * inner), (-k * inner, -tip * inner), (k * inner, -tip * inner)])
    return d < f * a


def bowed_square(r: float, p: float, cx=20.3, cy=19.6):
    """|x|^p + |y|^p <= h^p: a circle at p = 2, a square as p grows."""
    px, py = _grid(cx, cy)
    h = 0.95 * r
    return (px.abs() / h) ** p + (py.abs() / h) ** p <= 1


def ellipse(r: float, stretch: float, cx=20.3, cy=19.6):
    px, py = _grid(cx, cy)
    return (px / (r * stretch)) ** 2 + (py / r) ** 2 <= 1


def drawings():
    """(family, name, mask, named): the families shown row by row in --sheet."""
    out = []
    for f in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        named = "square" if f <= 0.6 else None if f <= 0.8 else "circle"
        out.append(("rounded", f"square rounded {f}", rounded_square(11, f), named))
    for p in (2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 8.0):
        named = "circle" if p <= 2.5 else None if p <= 3.0 else "square"
        out.append(("bowed", f"bowed square p={p}", bowed_square(11, p), named))
    for f in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        named = "diamond" if f <= 0.6 else None if f <= 0.8 else "circle"
        out.append(("rounded diamond", f"diamond rounded {f}", rounded_diamond(11, f), named))
    for f in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        named = "triangle" if f <= 0.6 else None if f <= 0.8 else "circle"
        out.append(("rounded triangle", f"triangle rounded {f}", rounded_triangle(11, f), named))
    for r in (8.0, 9.0, 13.0):
        for name, mask in (("square", rounded_square(r, 0)), ("diamond", rounded_diamond(r, 0)),
                           ("triangle", rounded_triangle(r, 0)), ("circle", ellipse(r, 1.0))):
            out.append((f"sizes", f"{name} r={r}", mask, name))
    out.append(("stretched", "rectangle 1.5:1", rounded_square(9, 0.2, stretch=1.5), "square"))
    out.append(("stretched", "ellipse 1.4:1", ellipse(9, 1.4), "circle"))
    out.append(("stretched", "triangle pointing down", rounded_triangle(11, 0.3, down=True), "triangle"))
    out.append(("stretched", "triangle stretched 1.4:1", rounded_triangle(10, 0.3, stretch=1.4), "triangle"))
    line = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    line[20, 8:30] = True
    out.append(("stretched", "a line", line, None))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "src", "test", "resources", "golden",
                                                  "shape_moments.json"))
    ap.add_argument("--sheet", default=None, help="also write the drawings as a PNG, one family a row")
    a = ap.parse_args(argv)
    records = []
    for _, name, mask, named in drawings():
        moments = metrics.shape_moments(mask)
        read = metrics.shape_of_mask(mask)
        records.append({"name": name, "size": SIZE, "named": named, "read": read,
                        "rows": ["".join("#" if v else "." for v in row) for row in mask.tolist()],
                        "m3": [moments[0].real, moments[0].imag] if moments else None,
                        "m4": [moments[1].real, moments[1].imag] if moments else None})
        shares = (f"triangle {abs(moments[0]) / metrics.TRIANGLE_M3:.2f} square {abs(moments[1]) / metrics.SQUARE_M4:.2f}"
                  if moments else "no area")
        print(f"{name:26s} named {str(named):9s} read {str(read):9s} {shares}")
    with open(a.out, "w") as f:
        json.dump(records, f, indent=0)
        f.write("\n")
    if a.sheet:
        sys.path.insert(0, os.path.join(HERE, "..", "train"))
        from sheet import write_png
        rows, row, family = [], [], None
        for fam, _, mask, _ in drawings():
            if fam != family and row:
                rows.append(torch.cat(row, 2))
                row = []
            family = fam
            row.append(torch.nn.functional.pad(torch.stack([mask.float()] * 3) * 2 - 1, (1, 1, 1, 1)))
        rows.append(torch.cat(row, 2))
        width = max(r.shape[2] for r in rows)
        img = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[2]), value=-1) for r in rows], 1)
        write_png(a.sheet, img.repeat_interleave(4, 1).repeat_interleave(4, 2))


if __name__ == "__main__":
    main()
