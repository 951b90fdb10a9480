"""Does a DiT take an object's colour from its caption? Each evaluation prompt's real clip is noised to a
high sigma and denoised in one step twice: under its own caption and under the caption with the colour
word swapped (red -> cyan, blue -> purple, ...). Two scores:

- caption swap: the fraction whose swapped prediction shows the new colour where the object is (metrics'
  nearest palette colour). Near 1/8 for a network that ignores the text.
- colour gain: how much of the caption's colour change reaches the object pixels, <p_swap - p_own,
  c_new - c_old> / |c_new - c_old|^2 in RGB, averaged over prompts: 1 if the text sets the colour fully,
  0 if it has no effect. Continuous, so it shows the small, steady movement that a training run makes
  long before the swap fraction leaves chance.

- shape gain (--shape): the same for the shape word, in latent space. Each clip is also rendered with its
  object's shape changed (same seed, so the same place, size and colour); the gain is how much of that
  latent change the swapped caption's one-step prediction makes, <p_swap - p_own, x_new - x_old> /
  |x_new - x_old|^2, averaged over prompts, at a few sigmas. The plain shape scores sit at the circle
  prompts' share for every teacher so far; this moves before they do.

Both take a minute or two on the CPU, so a teacher's checkpoints can be watched while it trains:

  venv/bin/python tools/eval/textprobe.py tools/train/runs/teacher/ckpt.pt [more checkpoints...]
  venv/bin/python tools/eval/textprobe.py --causal tools/train/runs/dmd-diagonal/ckpt.pt
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import common  # noqa: E402
import nets  # noqa: E402
import world  # noqa: E402
from latents import LatentSource  # noqa: E402

import metrics  # noqa: E402
import prompts  # noqa: E402

SWAP_SIGMA = 0.933  # the diagonal lists' second timestep: near pure noise, where only the caption knows the colour


@dataclasses.dataclass(frozen=True)
class SwapProbe:
    """The probe's inputs, the same for every model: noisy latents, the own and swapped captions' text,
    where each real clip's object is, and each prompt's colour before and after the swap."""
    xt: torch.Tensor
    own_text: torch.Tensor
    swapped_text: torch.Tensor
    masks: list
    old: list
    new: list


@torch.no_grad()
def swap_probe(t5, x0, clips, specs) -> SwapProbe:
    palette = sorted(world.COLOURS)
    old = [s.objects[0].colour for s in specs]
    new = [palette[(palette.index(c) + 4) % len(palette)] for c in old]
    swapped = [dataclasses.replace(s, objects=(dataclasses.replace(s.objects[0], colour=c),)).caption()
               for s, c in zip(specs, new)]
    xt = (1 - SWAP_SIGMA) * x0 + SWAP_SIGMA * torch.randn(x0.shape, generator=common.generator(5))
    return SwapProbe(xt, nets.encode_text(t5, [s.caption() for s in specs]), nets.encode_text(t5, swapped),
                     [metrics.object_masks(c) for c in clips], old, new)


@torch.no_grad()
def caption_swap(model, probe: SwapProbe, data: LatentSource, causal: bool) -> dict:
    """{"caption_swap": fraction, "colour_gain": mean gain} for one network (see the module doc)."""
    xt = probe.xt
    t = torch.full(xt.shape[0:1] + xt.shape[2:3], SWAP_SIGMA * 1000)
    mask = nets.frame_mask(xt.shape[2], causal)
    own = data.decode(xt - SWAP_SIGMA * nets.dit_forward(model, xt, t, probe.own_text, mask))
    swapped = data.decode(xt - SWAP_SIGMA * nets.dit_forward(model, xt, t, probe.swapped_text, mask))
    hits, gains = [], []
    for a, b, m, old, new in zip(own, swapped, probe.masks, probe.old, probe.new):
        hits.append(metrics.colour_of(b, m) == new)
        if m.sum() >= metrics.MIN_PIXELS:
            gains.append(colour_gain(a, b, m, old, new))
    return {"caption_swap": sum(hits) / len(hits), "colour_gain": sum(gains) / max(1, len(gains))}


def colour_gain(own: torch.Tensor, swapped: torch.Tensor, mask: torch.Tensor, old: str, new: str) -> float:
    """Videos [3, T, H, W] in [-1, 1] under the own and the swapped caption, the object's pixels [T, H, W]:
    the mean RGB change there, projected on the palette step old -> new, in units of that step."""
    step = (torch.tensor(world.COLOURS[new]) - torch.tensor(world.COLOURS[old])) * 2    # [-1, 1] units
    moved = (swapped - own).permute(1, 2, 3, 0)[mask].mean(0).cpu()
    return float(moved @ step / (step @ step))


@torch.no_grad()
def shape_gain(model, t5, data: LatentSource, specs, frames: int, sigmas, seeds=(5, 6, 7)) -> dict:
    """{sigma: the mean share of the latent change from each clip's shape to the next one
    (prompts.shape_swapped) that swapping the caption's shape word makes in the one-step x0 prediction
    from that sigma} (module doc)."""
    swapped = [prompts.shape_swapped(s) for s in specs]
    n = data.video_frames(frames)
    old = data.encode(torch.stack([world.render(s, n, seed=i) for i, s in enumerate(specs)]))
    new = data.encode(torch.stack([world.render(s, n, seed=i) for i, s in enumerate(swapped)]))
    own_text = nets.encode_text(t5, [s.caption() for s in specs])
    new_text = nets.encode_text(t5, [s.caption() for s in swapped])
    out = {}
    for sigma in sigmas:
        t = torch.full(old.shape[0:1] + old.shape[2:3], sigma * 1000)
        gains = []
        for seed in seeds:
            xt = (1 - sigma) * old + sigma * torch.randn(old.shape, generator=common.generator(seed))
            # x0 = xt - sigma v, so the x0 predictions' difference (swapped - own) is sigma (v_own - v_swapped)
            moved = sigma * (nets.dit_forward(model, xt, t, own_text, None) - nets.dit_forward(model, xt, t, new_text, None))
            gains.append(latent_gain(moved, new - old).mean())
        out[sigma] = float(torch.stack(gains).mean())
    return out


def latent_gain(moved: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """Per sample, the share of `step` that `moved` makes: <moved, step> / |step|^2 (1: all of it, 0: none)."""
    moved, step = moved.flatten(1), step.flatten(1)
    return (moved * step).sum(1) / (step * step).sum(1).clamp_min(1e-12)


def main(args):
    data = LatentSource()
    specs = prompts.eval_specs() + prompts.seen_specs()
    clips = torch.stack([world.render(s, data.video_frames(args.frames), seed=i)
                         for i, s in enumerate(specs)]).to(torch.get_default_device())
    x0 = data.encode(clips)
    teacher_t5 = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
    for path in args.checkpoints:
        ck = common.load_checkpoint(path)
        if ck is None:
            raise SystemExit(f"{path}: no such checkpoint")
        model, t5 = nets.dit_from_checkpoint(ck, path), nets.new_t5()
        if "ema" in ck:                                      # a teacher: its own text encoder
            t5.load_state_dict(ck["ema"]["t5"])
        elif teacher_t5 is not None:                         # students read the teacher's
            t5.load_state_dict(teacher_t5["ema"]["t5"])
        else:
            raise SystemExit(f"{path}: holds no T5 and there is no teacher checkpoint to take it from")
        if args.shape:
            gains = shape_gain(model, t5, data, specs, args.frames, (0.6, 0.8, 0.933))
            print(f"{path}: shape gain " + ", ".join(f"{g:.3f} at sigma {sg}" for sg, g in gains.items()), flush=True)
            continue
        r = caption_swap(model, swap_probe(t5, x0, clips, specs), data, args.causal)
        print(f"{path}: caption swap {r['caption_swap']:.3f}, colour gain {r['colour_gain']:.3f}", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description="caption swap and colour gain of DiT checkpoints")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--causal", action="store_true", help="chunk-causal attention (students)")
    p.add_argument("--shape", action="store_true", help="the shape gain instead of the colour probe")
    p.add_argument("--frames", type=int, default=nets.TRAIN_FRAMES, help="latent frames per clip")
    common.add_device_argument(p)
    args = p.parse_args()
    common.use_device(args.device)
    torch.set_grad_enabled(False)
    main(args)
