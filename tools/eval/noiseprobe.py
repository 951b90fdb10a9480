"""At which noise level does a teacher lose the shape (or the colour, or the size)? Each evaluation prompt's
real clip is encoded, noised to sigma s and denoised by the teacher under its caption (Euler on the 24-step
grid below s, CFG), then read by the same vision code as evaluate.py. At s near 0 the row is the VAE's
ceiling; at s = 1 it is the teacher's own sample. The sigma where shape falls from the ceiling to the
teacher's row is the band whose training limits shape, which says what to fix before distilling again.

  venv/bin/python tools/eval/noiseprobe.py tools/train/runs/teacher/ckpt.pt [more ...] [--sigmas 0.3,0.6,0.9,1]

With --swap-shape each clip is also denoised under its caption with the shape word changed (circle ->
square -> triangle -> diamond -> circle): shape_follows is the share of those videos that read as the new
shape, shape_keeps the share still reading as the clip's own. Where the own caption's shape score falls
while shape_follows stays near chance, the teacher does not take the shape from the text, as colour once
was not (textprobe.py); where shape_follows rises with sigma, it does, and the loss is elsewhere.
"""
from __future__ import annotations

import argparse
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

import evaluate  # noqa: E402
import metrics  # noqa: E402
import prompts  # noqa: E402

KEYS = ("colour", "shape", "direction", "seen_colour", "seen_shape", "seen_direction", "area")


@torch.no_grad()
def denoised_from(teacher, t5, x0, captions, sigma: float, guidance: float, seed: int) -> torch.Tensor:
    """x0 noised to sigma and walked back to 0 by the teacher; sigma 1 is a plain sample."""
    noise = torch.randn(x0.shape, generator=common.generator(seed))
    xt = (1 - sigma) * x0 + sigma * noise
    z, _ = rollouts.teacher_sample(teacher, t5, captions, frames=x0.shape[2], guidance=guidance, noise=xt,
                                   start=sigma)
    return z


def main(args):
    torch.set_num_threads(args.threads)
    data = LatentSource()
    held = prompts.eval_specs()
    specs = held + prompts.seen_specs()
    captions = [s.caption() for s in specs]
    clips = torch.stack([world.render(s, data.video_frames(nets.TRAIN_FRAMES), seed=i)
                         for i, s in enumerate(specs)])
    x0 = data.encode(clips)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    for path in args.checkpoints:
        ck, teacher, t5 = nets.teacher_from_checkpoint(path)
        for sigma in sigmas:
            videos = data.decode(denoised_from(teacher, t5, x0, captions, sigma, args.guidance, seed=7))
            row = {k: round(v, 3) for k, v in evaluate.scores(videos, specs, len(held)).items() if k in KEYS}
            if args.swap_shape:
                swapped = [prompts.shape_swapped(s) for s in specs]
                videos = data.decode(denoised_from(teacher, t5, x0, [s.caption() for s in swapped], sigma,
                                                   args.guidance, seed=7))
                row["shape_follows"] = round(share(videos, swapped), 3)
                row["shape_keeps"] = round(share(videos, specs), 3)
            print(json.dumps({"model": f"{path} (step {ck.get('step', '?')})", "sigma": sigma, **row}), flush=True)


def share(videos, specs) -> float:
    """The share of videos whose object reads as its spec's shape."""
    return sum(metrics.judge(v, s)["shape"] for v, s in zip(videos, specs)) / len(specs)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--sigmas", default="0.2,0.4,0.6,0.8,0.933,1")
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--swap-shape", action="store_true", help="also denoise under the caption with another shape")
    main(p.parse_args())
