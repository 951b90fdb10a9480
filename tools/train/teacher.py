"""The bidirectional teacher: the default DiT architecture with full attention, trained with flow matching
on VAE latents of world.py clips, jointly with the byte-level T5 (captions dropped 10% of the time, so
classifier-free guidance works).

Objects cover a few percent of a frame, so plain flow matching learns backgrounds long before it learns
the objects a caption asks for (samples were backgrounds with fading blobs): latent positions holding an
object weigh 1 + --object-weight in the loss (normalised so the mean weight stays near 1). The optimum
then leans toward clips with an object at a position: a bias toward drawing objects, which this model
lacked.

Steps cycle through clip lengths (--mix, latent frames:batch), as Wan trains on images and videos together:
one-frame and one-chunk clips are 3-9x cheaper per sample, so appearance and caption binding see many more
samples per CPU hour, while the 9-frame clips (the ODE pairs' length) teach motion across chunks.

  venv/bin/python tools/train/teacher.py --steps 1200      # resumes from runs/teacher/ckpt.pt
"""
from __future__ import annotations

import argparse
import copy
import math
import random

import torch

import common
import nets
from latents import LatentPool, LatentSource


def sample_sigma(n: int, gen: torch.Generator) -> torch.Tensor:
    """Half uniform, half through Wan's shift 5 (which the few-step lists live in: 1, .933, .733, .357)."""
    u = torch.rand(n, generator=gen)
    shifted = 5 * u / (1 + 4 * u)
    return torch.where(torch.rand(n, generator=gen) < 0.5, u, shifted).clamp(1e-3, 1.0)


def flow_loss(dit, t5, x0, captions, sigma, mask, gen, weight=None, encode=nets.encode_text, twins=False,
              contrast=0.0, kept=None, shared_above=1.0):
    """Flow-matching loss with per-frame sigma [B, F]: x_t = (1-s)x0 + s·n, target v = n - x0; weight
    [B, 1, F, h, w] (optional) scales each latent position's squared error. With twins, samples 2i and 2i + 1
    share their noise (and the caller their sigma), so the pair's inputs differ only by (1 - s)·(x0 - x0')
    and the gradient that tells their captions apart is not buried under different noise.

    contrast > 0 (twins only) adds the pairs' contrast loss: the error of the difference between a pair's two
    predictions, relative to the difference between its two targets, x0' - x0. Near pure noise the pair's inputs
    are almost the same, so only the one caption word can make that difference; in the plain loss it is a few
    corner cells of one object, and a small network learns it last (shape words never), while here it is
    the whole loss of the pair. kept [B/2] (bool) marks the pairs whose captions were not dropped.

    A pair's two inputs still differ by (1 - s)·(x0 - x0'), and a network can tell them apart from that alone:
    amplifying the faint difference in its input is easier to learn than reading the word, and the contrast
    loss falls while the word's own effect does not move (it did: the pair term halved while a shape word's
    own effect fell, textprobe.py --shape). Above sigma shared_above both clips of a pair get the first's noisy input, so
    the word is all there is: near pure noise the input says almost nothing about the word's part of x0, and
    the caption must decide it; below, the input does, as it should."""
    noise = torch.randn(x0.shape, generator=gen)
    if twins:
        noise[1::2] = noise[0::2]
    s = sigma[:, None, :, None, None]
    xt = (1 - s) * x0 + s * noise
    if twins and shared_above < 1.0:
        shared = (sigma[1::2, 0] > shared_above)[:, None, None, None, None]
        xt = xt.clone()
        xt[1::2] = torch.where(shared, xt[0::2], xt[1::2])
    v = nets.dit_forward(dit, xt, sigma * 1000, encode(t5, captions), mask)
    target = noise - x0
    err = (v - target).pow(2)
    loss = (err if weight is None else err * weight).mean()
    if contrast and twins:
        dv, dt = (v[0::2] - v[1::2]).flatten(1), (target[0::2] - target[1::2]).flatten(1)
        rel = (dv - dt).pow(2).sum(1) / dt.pow(2).sum(1).clamp_min(1e-6)
        if kept is not None:
            rel = rel[kept]
        if rel.numel():
            loss = loss + contrast * rel.mean()
    return loss


def optimizer_step(opt, params, loss, lr: float, ema: dict, models: dict, decay: float) -> None:
    """One AdamW step on loss at learning rate lr (gradient norm clipped to 1), then each model's EMA
    (ema[name], a state dict) moves toward its weights with the given decay."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    for g in opt.param_groups:
        g["lr"] = lr
    opt.step()
    with torch.no_grad():
        for name, m in models.items():
            for k, v in m.state_dict().items():
                ema[name][k].mul_(decay).add_(v, alpha=1 - decay)


def batch_loss(dit, t5, data, rng, gen, frames, batch, drop, sigma_min, object_weight, encode=nets.encode_text,
               sigma_max=1.0, twins=False, weight_below=1.0, contrast=0.0, shared_above=1.0):
    """One training batch's weighted flow loss: clips with their object masks (from data, a LatentSource or
    a LatentPool), captions dropped with probability `drop` (for CFG), sigmas in [sigma_min, sigma_max],
    object positions weighing 1 + object_weight (normalised so the mean weight stays near 1). With twins the
    batch is pairs of clips that differ in one caption word (world.twin) under the same noise and sigma; a
    pair's captions are dropped together; contrast and shared_above are flow_loss's."""
    x0, captions, objects = data.batch_with_objects(rng, batch, frames, twins)
    group = 2 if twins else 1
    keep = [rng.random() >= drop for _ in range(batch // group)]
    captions = [c if keep[i // group] else "" for i, c in enumerate(captions)]
    sigma = sigma_min + (sigma_max - sigma_min) * sample_sigma(batch // group, gen)
    sigma = sigma.repeat_interleave(group)[:, None].expand(-1, x0.shape[2])
    # A weight that depends on x0 moves the optimum from the posterior mean toward "an object is here": harmless
    # where the noisy latent shows the object, but at high noise it spreads one over every likely position,
    # which is the oversized blob that sampling from pure noise draws. weight_below keeps it to lower sigmas.
    gated = objects * (sigma[:, 0] <= weight_below).to(objects.dtype)[:, None, None, None, None]
    weight = (1 + object_weight * gated) / (1 + object_weight * gated.mean())
    kept = torch.tensor(keep) if twins else None
    return flow_loss(dit, t5, x0, captions, sigma, None, gen, weight, encode, twins, contrast, kept, shared_above)


def parse_mix(text: str) -> list[tuple[int, int]]:
    """"1:48,3:24,9:8" -> [(1, 48), (3, 24), (9, 8)]: latent frames and batch size, one entry per step."""
    out = []
    for part in text.split(","):
        frames, batch = (int(v) for v in part.split(":"))
        if frames < 1 or batch < 1:
            raise SystemExit(f"--mix entry {part!r}: frames and batch must be positive")
        out.append((frames, batch))
    return out


def refresh(batch: int, pool: int, twins: bool) -> int:
    """Clips a pool of `pool` batches replaces a step: a 1/pool share of a batch, at least one (a pair)."""
    n = max(1, batch // pool)
    return n + n % 2 if twins else n


def main(args):
    out = common.run_dir("teacher")
    dit, t5 = nets.new_dit(0), nets.new_t5(0)
    params = list(dit.parameters()) + list(t5.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    ema = {"dit": copy.deepcopy(dit.state_dict()), "t5": copy.deepcopy(t5.state_dict())}
    step = warm_from = 0
    ck = common.load_checkpoint(f"{out}/ckpt.pt")
    if ck:
        dit.load_state_dict(ck["dit"])
        t5.load_state_dict(ck["t5"])
        ema, step = ck["ema"], ck["step"]
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:  # stage.py restores weights only: Adam's first steps from empty moments are large, so warm up
            warm_from = step
    data = LatentSource()
    rng, gen = random.Random(2000 + step), common.generator(2000 + step)
    log = common.Log(out)
    mix = parse_mix(args.mix)
    if args.pool:  # one pool per clip length of the mix
        pools = {f: LatentPool(data, rng, f, args.pool * b, refresh(b, args.pool, args.twins), args.twins)
                 for f, b in dict(mix).items()}
    end = min(args.steps, args.until) if args.until else args.steps
    while step < end:
        frames, batch = mix[step % len(mix)]
        source = pools[frames] if args.pool else data
        loss = batch_loss(dit, t5, source, rng, gen, frames, batch, args.drop, args.sigma_min, args.object_weight,
                          twins=args.twins)
        lr = args.lr * min(1.0, (step + 1 - warm_from) / 100) * (0.55 + 0.45 * math.cos(math.pi * step / args.steps))
        step += 1
        optimizer_step(opt, params, loss, lr, ema, {"dit": dit, "t5": t5}, min(args.ema, (1 + step) / (10 + step)))
        if step % 10 == 0 or step == end:
            log(step=step, frames=frames, loss=loss.item())
        if step % 100 == 0 or step == end:
            common.save_checkpoint(f"{out}/ckpt.pt", {"dit": dit.state_dict(), "t5": t5.state_dict(),
                                                      "opt": opt.state_dict(), "ema": ema, "step": step})


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--until", type=int, default=None,
                   help="stop at this step; the learning-rate schedule still spans --steps (for staged runs)")
    p.add_argument("--mix", default="1:48,3:24,9:8", help="latent frames:batch per step, cycled")
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--drop", type=float, default=0.1)
    p.add_argument("--ema", type=float, default=0.995)
    p.add_argument("--object-weight", type=float, default=4.0,
                   help="extra loss weight on latent positions holding an object (0: plain flow matching)")
    p.add_argument("--sigma-min", type=float, default=0.0,
                   help="draw sigmas in [this, 1] only: the high-noise band where only the caption knows the colour")
    p.add_argument("--pool", type=int, default=4,
                   help="keep POOL batches of encoded clips per clip length and refresh batch/POOL of them a "
                        "step (0: render and encode every batch, as sessions 1-9 did)")
    p.add_argument("--twins", action="store_true",
                   help="batches of twin pairs: clips that differ in one caption word, under the same noise")
    common.add_device_argument(p)
    args = p.parse_args()
    if args.twins and any(b % 2 for _, b in parse_mix(args.mix)):
        raise SystemExit(f"--twins needs even batch sizes in --mix {args.mix}")
    if args.pool < 0:
        raise SystemExit(f"--pool {args.pool}: must be 0 or more")
    if not 0 <= args.sigma_min < 1:
        raise SystemExit(f"--sigma-min {args.sigma_min}: must be in [0, 1)")
    common.use_device(args.device)
    main(args)
