"""A person's reading of shapes, against the vision code's. Blind labelling sheets: one frame per video (the one
nearest the middle where the object is whole), shuffled across models and seeds, no captions; the labels typed
from them (c s t d, or x where a person would name none of the four) are then scored against what
metrics.shape_of_mask reads on the same frame, what metrics.shape_of reads over the whole video (as the eval
does), and the caption's shape.

  ./diagonal eval --seed S --videos ROOT/six-S ...          # one folder of videos per model and seed
  venv/bin/python tools/eval/shapelabels.py sheets ROOT six-0 six-100 five-0 --out sheets/lab --key key.tsv
  (look at sheets/lab-K.png, 8 cells a row, 48 a sheet; write one letter per cell into labels.txt)
  venv/bin/python tools/eval/shapelabels.py join key.tsv labels.txt > labels.tsv
  venv/bin/python tools/eval/shapelabels.py score ROOT labels.tsv

labels.tsv: folder, video file, frame, label. tools/eval/labels/ holds the ones the model card quotes.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import re
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import metrics  # noqa: E402
from sheet import grid, write_png  # noqa: E402
from sheet_y4m import read_y4m  # noqa: E402

LETTERS = {"c": "circle", "s": "square", "t": "triangle", "d": "diamond", "x": None}
PER_SHEET, PER_ROW, SCALE = 48, 8, 3


def masks(path: str) -> torch.Tensor:
    return metrics.object_masks(read_y4m(path).permute(1, 0, 2, 3))


def middle_frame(path: str) -> int | None:
    ms = masks(path)
    t = ms.shape[0]
    return next((i for i in sorted(range(t), key=lambda i: abs(i - t // 2)) if metrics.whole_object(ms[i])), None)


def asked_shape(file: str) -> str:
    return re.search(r"-(circle|square|triangle|diamond)-", file).group(1)


def sheets(a):
    items = []
    for folder in a.folders:
        for file in sorted(f for f in os.listdir(os.path.join(a.root, folder)) if f.endswith(".y4m")
                           and not f.endswith("-long.y4m")):
            frame = middle_frame(os.path.join(a.root, folder, file))
            if frame is not None:
                items.append((folder, file, frame))
    random.Random(a.seed).shuffle(items)
    with open(a.key, "w") as f:
        for folder, file, frame in items:
            f.write(f"{folder}\t{file}\t{frame}\n")
    for k in range(0, len(items), PER_SHEET):
        cells = [torch.nn.functional.pad(read_y4m(os.path.join(a.root, d, v))[fr], (2, 2, 2, 2), value=0.0)
                 for d, v, fr in items[k:k + PER_SHEET]]
        img = grid(cells, PER_ROW)
        write_png(f"{a.out}-{k // PER_SHEET}.png", img.repeat_interleave(SCALE, 1).repeat_interleave(SCALE, 2))
    print(f"{len(items)} frames, key in {a.key}")


def join(a):
    key = [line.rstrip("\n").split("\t") for line in open(a.key) if line.strip()]
    letters = open(a.labels).read().split()
    if len(letters) != len(key):
        raise SystemExit(f"{len(letters)} labels for {len(key)} frames")
    for (folder, file, frame), letter in zip(key, letters):
        if letter not in LETTERS:
            raise SystemExit(f"label {letter!r}: one of {' '.join(LETTERS)}")
        print(f"{folder}\t{file}\t{frame}\t{letter}")


def score(a):
    by = collections.defaultdict(collections.Counter)
    for line in open(a.labels):
        if not line.strip() or line.startswith("#"):
            continue
        folder, file, frame, letter = line.rstrip("\n").split("\t")
        person, asked = LETTERS[letter], asked_shape(file)
        video = masks(os.path.join(a.root, folder, file))
        read, whole = metrics.shape_of_mask(video[int(frame)]), metrics.shape_of(video)
        s = by[folder.split("-")[0]]
        s["frames"] += 1
        s["person names the asked shape"] += person == asked
        s["code reads the asked shape"] += read == asked
        s["code reads it in the whole video"] += whole == asked
        s["code's video reading is the person's"] += whole == person
        if person is None:
            s["person names none"] += 1
            s["  of those, code reads the asked shape"] += read == asked
        else:
            s["person names one"] += 1
            s["  of those, code reads the same"] += read == person
    for model, s in by.items():
        n = s["frames"]
        print(f"{model}: {n} frames")
        for k in ("person names the asked shape", "code reads the asked shape", "code reads it in the whole video",
                  "code's video reading is the person's"):
            print(f"  {k:40s} {s[k]:4d}  {100 * s[k] / n:5.1f}%")
        for group, k in (("person names one", "  of those, code reads the same"),
                         ("person names none", "  of those, code reads the asked shape")):
            print(f"  {group:40s} {s[group]:4d}  {100 * s[group] / n:5.1f}%")
            print(f"  {k:40s} {s[k]:4d}  {100 * s[k] / max(s[group], 1):5.1f}% of those")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sheets")
    p.add_argument("root")
    p.add_argument("folders", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--seed", type=int, default=1234, help="shuffle seed")
    p = sub.add_parser("join")
    p.add_argument("key")
    p.add_argument("labels")
    p = sub.add_parser("score")
    p.add_argument("root")
    p.add_argument("labels")
    a = ap.parse_args(argv)
    {"sheets": sheets, "join": join, "score": score}[a.cmd](a)


if __name__ == "__main__":
    main()
