"""What shapes does a teacher draw from noise, and which does it confuse? Each evaluation prompt is sampled
from pure noise (24 Euler steps, CFG) and read by the vision code; the output is the adherence row and the
confusion of asked against read shapes, and with --sheet a contact sheet of one frame per prompt, grouped by
the asked shape, to look at (the sheet shows what the numbers summarise: corners, or blobs).

--shape-guidance G adds a shape-contrast term to the CFG velocity: G times the caption's velocity minus the
mean of the velocities under the same caption with each other shape word, which amplifies exactly what the
shape word changes (a negative prompt per other shape). Session 25 measured it: it does not draw shapes the
teacher does not already draw (weights/README.md, "Where the limits are").

  venv/bin/python tools/eval/shapeprobe.py tools/train/runs/contrast/ckpt.pt [--shape-guidance 0,3] [--sheet s.png]
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import common  # noqa: E402
import nets  # noqa: E402
import rollouts  # noqa: E402
import world  # noqa: E402
from latents import LatentSource  # noqa: E402
from sheet import grid, write_png  # noqa: E402

import evaluate  # noqa: E402
import metrics  # noqa: E402
import prompts  # noqa: E402


def other_shapes(spec) -> list[str]:
    """The spec's caption with each other shape word, in world.SHAPES order."""
    obj = spec.objects[0]
    return [dataclasses.replace(spec, objects=(dataclasses.replace(obj, shape=s),)).caption()
            for s in world.SHAPES if s != obj.shape]


@torch.no_grad()
def sample(dit, t5, captions, others, noise, guidance=2.0, shape_guidance=0.0, steps=24):
    """Euler from noise [B, C, F, h, w] with uncond + guidance·(cond - uncond) + shape_guidance·(cond -
    mean(others)); others holds len(captions) lists of equally many captions."""
    b, k = len(captions), len(others[0])
    cond, empty = nets.encode_text(t5, captions), nets.encode_text(t5, [""] * b)
    other = nets.encode_text(t5, [c for row in others for c in row]) if shape_guidance else None
    x = noise
    sig = rollouts.teacher_sigmas(steps)
    for s, s_next in zip(sig[:-1], sig[1:]):
        t = torch.full(x.shape[:1] + x.shape[2:3], s * 1000)
        vc = nets.dit_forward(dit, x, t, cond, None)
        v = nets.dit_forward(dit, x, t, empty, None)
        v = v + guidance * (vc - v)
        if shape_guidance:
            vo = nets.dit_forward(dit, x.repeat_interleave(k, 0), t.repeat_interleave(k, 0), other, None)
            v = v + shape_guidance * (vc - vo.view(b, k, *x.shape[1:]).mean(1))
        x = x + (s_next - s) * v
    return x


def confusion(videos, specs) -> dict:
    """{"asked->read": count}, read None when the vision code finds no outline."""
    counts = collections.Counter(f"{s.objects[0].shape}->{metrics.shape_of(metrics.object_masks(v))}"
                                 for v, s in zip(videos, specs))
    return dict(sorted(counts.items()))


def contact_sheet(path, videos, specs, frame: int = 8, columns: int = 8, scale: int = 3):
    """One frame per video, grouped by the asked shape (world.SHAPES order), `columns` to a row."""
    order = sorted(range(len(specs)), key=lambda i: world.SHAPES.index(specs[i].objects[0].shape))
    img = grid([videos[i][:, frame] for i in order], columns, fill=1.0)
    write_png(path, img.repeat_interleave(scale, 1).repeat_interleave(scale, 2))


def main(args):
    torch.set_num_threads(args.threads)
    data = LatentSource()
    held = prompts.eval_specs()
    specs = held + prompts.seen_specs()
    captions, others = [s.caption() for s in specs], [other_shapes(s) for s in specs]
    for path in args.checkpoints:
        ck, dit, t5 = nets.teacher_from_checkpoint(path)
        for g in (float(v) for v in args.shape_guidance.split(",")):
            noise = torch.randn(len(specs), dit.cfg.in_dim, nets.TRAIN_FRAMES, 16, 16,
                                generator=common.generator(args.seed))
            videos = data.decode(sample(dit, t5, captions, others, noise, args.guidance, g))
            row = {k: round(v, 3) for k, v in evaluate.scores(videos, specs, len(held)).items()
                   if k in ("colour", "shape", "direction", "seen_colour", "seen_shape", "seen_direction", "area")}
            print(json.dumps({"model": f"{path} (stage step {ck.get('textbind_step', ck.get('step', '?'))})",
                              "shape_guidance": g, **row, "confusion": confusion(videos, specs)}), flush=True)
            if args.sheet:
                contact_sheet(args.sheet, videos, specs)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--shape-guidance", default="0", help="comma-separated weights of the shape-contrast term")
    p.add_argument("--guidance", type=float, default=2.0, help="standard CFG weight")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sheet", help="a PNG contact sheet of the last sample (one frame a prompt, by asked shape)")
    p.add_argument("--threads", type=int, default=1)
    main(p.parse_args())
