"""Contact sheets of the engine's videos, for looking at what it makes: one row per Y4M file (the 4:4:4 BT.601
limited-range video `diagonal generate` writes), every --every-th frame, scaled up with crisp pixels.

  venv/bin/python tools/eval/sheet_y4m.py OUT.png a.y4m b.y4m ... [--every 8] [--scale 2] [--frames 12]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from sheet import write_png  # noqa: E402


def read_y4m(path: str) -> torch.Tensor:
    """A 4:4:4 Y4M file -> RGB frames [T, 3, H, W] in [-1, 1]."""
    with open(path, "rb") as f:
        data = f.read()
    end = data.index(b"\n")
    fields = data[:end].split()
    if fields[0] != b"YUV4MPEG2":
        raise SystemExit(f"{path}: not a Y4M file")
    w = int(next(x[1:] for x in fields if x.startswith(b"W")))
    h = int(next(x[1:] for x in fields if x.startswith(b"H")))
    if b"C444" not in fields:
        raise SystemExit(f"{path}: only 4:4:4 Y4M is read here (as diagonal writes it)")
    frames, at, n = [], end + 1, w * h
    while at < len(data):
        at = data.index(b"\n", at) + 1  # FRAME header
        planes = torch.frombuffer(bytearray(data[at:at + 3 * n]), dtype=torch.uint8).float().view(3, h, w)
        at += 3 * n
        y, cb, cr = (planes[0] - 16) * (255 / 219), planes[1] - 128, planes[2] - 128
        s = 255 / 224
        r = y + 1.402 * s * cr
        g = y - 0.344136 * s * cb - 0.714136 * s * cr
        b = y + 1.772 * s * cb
        frames.append(torch.stack([r, g, b]) / 127.5 - 1)
    return torch.stack(frames)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("videos", nargs="+")
    ap.add_argument("--every", type=int, default=8, help="take every N-th frame (default 8)")
    ap.add_argument("--frames", type=int, default=12, help="at most this many frames per row (default 12)")
    ap.add_argument("--scale", type=int, default=2, help="integer upscale, nearest neighbour (default 2)")
    a = ap.parse_args(argv)
    rows = []
    for path in a.videos:
        v = read_y4m(path)[::a.every][:a.frames]
        row = torch.cat(list(v.unbind(0)), dim=2)
        rows.append(torch.nn.functional.pad(row, (0, 0, 0, 2), value=-1))  # a dark line between rows
    width = max(r.shape[2] for r in rows)
    img = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[2]), value=-1) for r in rows], dim=1)
    img = img.repeat_interleave(a.scale, 1).repeat_interleave(a.scale, 2)
    write_png(a.out, img)
    print(f"{a.out}: {len(rows)} rows, {img.shape[2]}x{img.shape[1]}")


if __name__ == "__main__":
    main()
