"""A learned judge of world.py clips: a small CNN that reads the first object's colour, shape and direction
from decoded frames. `distill.py dmd --judge-weight W` adds its cross-entropy (by default of the shape
reading alone) on the student's rollouts, decoded by the model's tiny decoder, to the DMD loss: a reward in
the manner of reward fine-tuning, because the teacher's score does not carry shape (it does not read shape
words at all: tools/eval/noiseprobe.py --swap-shape), so DMD against it alone cannot teach a student to draw
the asked shape.

It reads pixels through the tiny decoder, which is cheap to differentiate through, and not latents: a judge
of latents (session 18) was fooled, the student drifting to latents it read as the asked shape that decode
to the wrong colour or to nothing. It is trained on real clips of every (colour, shape) pair, as the VAE
is, encoded, noised in latent space and decoded by that same tiny decoder. The evaluation never uses it:
tools/eval/metrics.py and Java's VideoMetrics read the VAE's frames with deterministic code.

  venv/bin/python tools/train/judge.py --steps 1500      # writes runs/judge/ckpt.pt; logs held-out accuracy
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

import common
from decoder import load_weights as load_tiny_weights
import world
from latents import LatentSource
from tiny_decoder import TinyDecoder, TinyDecoderConfig

LATENT_FRAMES = 9   # a window of the student's training length: 17 video frames
EVERY = 2           # of which it reads every second one
COLOURS = sorted(world.COLOURS)
DIRECTIONS = sorted(world.DIRECTIONS)
HEADS = ("colour", "shape", "direction")


class Judge(nn.Module):
    """Video [B, 3, 17, 64, 64] in [-1, 1] -> logits for colour (8), shape (4) and direction (4)."""

    def __init__(self, width: int = 32):
        super().__init__()
        w = width
        frames = len(range(0, 1 + 2 * (LATENT_FRAMES - 1), EVERY))
        self.body = nn.Sequential(
            nn.Conv2d(3 * frames, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.SiLU(),        # 32x32
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1), nn.SiLU(),    # 16x16
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.SiLU())
        self.heads = nn.Linear(4 * w, len(COLOURS) + len(world.SHAPES) + len(DIRECTIONS))

    def forward(self, video: torch.Tensor):
        x = video[:, :, :1 + 2 * (LATENT_FRAMES - 1):EVERY].flatten(1, 2)
        # Max over positions: the object is small and anywhere, and its evidence should not be averaged away.
        logits = self.heads(self.body(x).amax(dim=(2, 3)))
        return logits.split([len(COLOURS), len(world.SHAPES), len(DIRECTIONS)], 1)


def tiny_decoder(model_dir: str) -> TinyDecoder:
    """A model directory's tiny decoder (decoder.py), frozen: the judge's differentiable way to pixels."""
    with open(os.path.join(model_dir, "model.json")) as f:
        card = json.load(f)
    if "tiny_decoder" not in card:
        raise SystemExit(f"{model_dir}: no tiny decoder (train one with decoder.py --export)")
    c, v = card["tiny_decoder"]["config"], card["vae"]["config"]
    cfg = TinyDecoderConfig(z_dim=v["z_dim"], widths=tuple(c["widths"]), blocks=tuple(c["blocks"]),
                            temporal_upsample=tuple(c["temporal_upsample"]))
    dec = TinyDecoder(cfg, mean=v["latent_mean"], std=v["latent_std"])
    load_tiny_weights(dec, os.path.join(model_dir, card["tiny_decoder"]["file"]))
    for p in dec.parameters():
        p.requires_grad_(False)
    return dec.eval()


def labels(specs) -> torch.Tensor:
    """[B, 3] (colour, shape, direction) indices of each spec's first object."""
    return torch.tensor([[COLOURS.index(o.colour), world.SHAPES.index(o.shape), DIRECTIONS.index(o.direction)]
                         for o in (s.objects[0] for s in specs)])


def loss_of(judge: Judge, video: torch.Tensor, target: torch.Tensor, heads=HEADS) -> torch.Tensor:
    """Summed cross-entropy of the chosen readings, per clip [B]."""
    logits = judge(video)
    return sum(F.cross_entropy(logits[HEADS.index(h)], target[:, HEADS.index(h)], reduction="none") for h in heads)


@torch.no_grad()
def encoded_clips(data: LatentSource, rng: random.Random, n: int):
    """n single-object clips of every pair as normalized latents, and their specs."""
    specs = [world.sample_spec(rng, held_out=None, two_objects=0.0) for _ in range(n)]
    frames = data.video_frames(LATENT_FRAMES)
    clips = [world.render(s, frames, seed=rng.getrandbits(31)) for s in specs]
    return torch.cat([data.encode(torch.stack(clips[i:i + 16])) for i in range(0, n, 16)]), specs


def load(path: str | None = None) -> Judge:
    ck = common.load_checkpoint(path or f"{common.run_dir('judge')}/ckpt.pt")
    if ck is None:
        raise SystemExit("no judge checkpoint: run tools/train/judge.py first")
    judge = Judge(ck["width"])
    judge.load_state_dict(ck["model"])
    judge.eval()
    for p in judge.parameters():
        p.requires_grad_(False)
    return judge


def accuracy(judge: Judge, video: torch.Tensor, target: torch.Tensor) -> list[float]:
    with torch.no_grad():
        return [(lg.argmax(1) == target[:, i]).float().mean().item() for i, lg in enumerate(judge(video))]


def main(args):
    torch.manual_seed(0)
    out = common.run_dir("judge")
    data, decoder = LatentSource(), tiny_decoder(args.model)

    def decoded(z):
        noisy = z + args.latent_noise * torch.rand(len(z), 1, 1, 1, 1) * torch.randn(z.shape)
        with torch.no_grad():
            return decoder(noisy)

    test_z, test_specs = encoded_clips(data, random.Random(7), 256)
    test_video, test_target = decoded(test_z), labels(test_specs)
    judge = Judge(args.width)
    opt = torch.optim.AdamW(judge.parameters(), lr=args.lr, weight_decay=0.01)
    log = common.Log(out)
    pool, target = encoded_clips(data, random.Random(7000), args.pool)
    target = labels(target)
    rng = random.Random(7001)
    for step in range(1, args.steps + 1):
        if args.refresh and step % args.refresh == 0:  # replace a share of the pool with fresh clips
            fresh, specs = encoded_clips(data, rng, args.pool // 8)
            slots = torch.randperm(len(pool))[:len(fresh)]
            pool[slots], target[slots] = fresh, labels(specs)
        idx = torch.randint(0, len(pool), (args.batch,))
        loss = loss_of(judge, decoded(pool[idx]), target[idx]).mean()
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, step / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == args.steps:
            colour, shape, direction = accuracy(judge, test_video, test_target)
            log(step=step, loss=loss.item(), colour=colour, shape=shape, direction=direction)
    common.save_checkpoint(f"{out}/ckpt.pt", {"model": judge.state_dict(), "width": args.width, "step": args.steps})


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--pool", type=int, default=1024, help="encoded clips kept")
    p.add_argument("--refresh", type=int, default=25, help="every this many steps, an eighth of the pool is replaced")
    p.add_argument("--latent-noise", type=float, default=0.5,
                   help="latent noise of std up to this (uniform per clip), so it reads imperfect latents too")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--model", default=os.path.join(common.HERE, "..", "..", "weights"),
                   help="the model directory whose tiny decoder turns latents into the frames it reads")
    p.add_argument("--lr", type=float, default=2e-3)
    main(p.parse_args())
