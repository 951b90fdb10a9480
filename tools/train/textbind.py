"""A teacher stage that makes the caption's colour words count: fine-tune the trained teacher on the
high-noise band only, with object positions weighted up.

Why (weights/README.md, "Where the limits are"): where the noisy latent still shows the object it shows its
colour too, so copying it costs nothing; only at high noise does the caption alone know the colour, and
there the object's place is unknown, so the colour lowers the loss only over a faint spread. Plain training
leaves the colour gain (tools/eval/textprobe.py) near 0.03; sigmas in [--sigma-min, 1] with heavier object
weights raise it. The object weight biases the model toward drawing objects, larger ones the heavier it is,
so the last steps run at a small weight.

It starts from the teacher's EMA weights with a fresh optimizer at a constant learning rate (after a short
warm-up), keeps its own faster EMA, and writes a checkpoint in the teacher's layout ("ema" holds the weights
distill.py reads) to runs/textbind/ckpt.pt, resuming from it:

  venv/bin/python tools/train/textbind.py --steps 2150 --mix 1:48
  venv/bin/python tools/train/textbind.py --steps 7250 --mix 1:48,1:48,1:48,9:8
  venv/bin/python tools/train/textbind.py --steps 7700 --mix 1:48,1:48,1:48,9:8 --object-weight 2
  cp runs/textbind/ckpt.pt runs/teacher/ckpt.pt        # the distillations then learn from it

The same fine-tune over every sigma refits that teacher to world.py's larger objects (session 18; --run
refit), with twin pairs (--twins: clips that differ in one caption word, under one noise) and the object
weight kept below sigma 0.85 (--weight-below), where it no longer inflates the objects drawn from noise:

  venv/bin/python tools/train/textbind.py --run refit-twins --steps 2000 --sigma-min 0 --object-weight 4 \
      --mix 1:48,1:48,3:24,9:8 --twins
  cp runs/refit-twins/ckpt.pt runs/teacher/ckpt.pt     # the second stage starts fresh from its EMA
  venv/bin/python tools/train/textbind.py --run refit --steps 1000 --sigma-min 0 --object-weight 4 \
      --mix 1:48,1:48,3:24,9:8 --twins --weight-below 0.85 --pool 4
  cp runs/refit/ckpt.pt runs/teacher/ckpt.pt

Session 19 tried to make the shape word count with a contrast loss on twin pairs (--contrast W: the pair's
prediction difference against its target difference) and, above --shared-above S, one noisy input for both
clips of a pair, so only the word can tell them apart (--run contrast; measured with textprobe.py --shape;
the model card's "Where the limits are" has what it did):

  venv/bin/python tools/train/textbind.py --run contrast --steps 1850 --sigma-min 0 --object-weight 4 \
      --mix 1:48,1:48,3:24,9:8 --twins --weight-below 0.85 --pool 4 --contrast 4 --shared-above 0.6

That stage pays for the word in plain denoising below sigma 0.6 (flow loss on real clips at sigma 0.2 / 0.5:
0.69 / 0.47 against the refit's 0.50 / 0.29), and DMD then drifts its students' colours. --run repair fine-tunes
only that band back with the plain loss, leaving the band where the word decides untouched:

  venv/bin/python tools/train/textbind.py --run repair --steps 300 --sigma-min 0 --sigma-max 0.6 \
      --object-weight 4 --mix 1:48,1:48,3:24,9:8 --pool 4 --lr 1e-4 --freeze-t5
"""
from __future__ import annotations

import argparse
import copy
import random

import torch

import common
import nets
from latents import LatentPool, LatentSource
from teacher import batch_loss, optimizer_step, parse_mix, refresh


def main(args):
    out = common.run_dir(args.run)
    ck = common.load_checkpoint(f"{out}/ckpt.pt")
    fresh = ck is None
    if fresh:
        ck = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
        if ck is None:
            raise SystemExit("no teacher checkpoint: run tools/train/teacher.py first")
    dit, t5 = nets.new_dit(), nets.new_t5()
    # A resumed stage continues its raw weights; a fresh one starts from the teacher's EMA, the weights it ships.
    dit.load_state_dict(ck["ema"]["dit"] if fresh else ck["dit"])
    t5.load_state_dict(ck["ema"]["t5"] if fresh else ck["t5"])
    ema = copy.deepcopy(ck["ema"])
    step = 0 if fresh else ck["textbind_step"]
    # Kept as the teacher's own step, so that once this checkpoint is copied over runs/teacher/ckpt.pt a rerun of
    # teacher.py's stages (run_all.sh) finds them done instead of failing on a foreign layout.
    teacher_step = ck["step"]
    # A frozen text encoder keeps the caption embeddings the stage before taught the DiT to read.
    t5.requires_grad_(not args.freeze_t5)
    trained = {"dit": dit} if args.freeze_t5 else {"dit": dit, "t5": t5}
    params = [q for m in trained.values() for q in m.parameters()]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    warm_from = 0
    if not fresh:
        if "opt" in ck:
            opt.load_state_dict(ck["opt"])
        else:  # restored by stage.py (weights only): warm up again, as from empty Adam moments at the start
            warm_from = step
    data = LatentSource()
    rng, gen = random.Random(11 + step), common.generator(11 + step)
    mix = parse_mix(args.mix)
    if args.pool:  # one pool per clip length of the mix, as teacher.py keeps
        pools = {f: LatentPool(data, rng, f, args.pool * b, refresh(b, args.pool, args.twins), args.twins)
                 for f, b in dict(mix).items()}
    log = common.Log(out)
    while step < args.steps:
        frames, batch = mix[step % len(mix)]
        source = pools[frames] if args.pool else data
        loss = batch_loss(dit, t5, source, rng, gen, frames, batch, args.drop, args.sigma_min, args.object_weight,
                          sigma_max=args.sigma_max, twins=args.twins, weight_below=args.weight_below,
                          contrast=args.contrast, shared_above=args.shared_above)
        lr = args.lr * min(1.0, (step + 1 - warm_from) / 50)
        optimizer_step(opt, params, loss, lr, ema, trained, args.ema)
        step += 1
        if step % 10 == 0:
            log(step=step, frames=frames, loss=loss.item())
        if step % 50 == 0 or step == args.steps:
            common.save_checkpoint(f"{out}/ckpt.pt", {"dit": dit.state_dict(), "t5": t5.state_dict(), "ema": ema,
                                                      "opt": opt.state_dict(), "textbind_step": step,
                                                      "step": teacher_step})


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, required=True, help="train until this step of the stage (resumes)")
    p.add_argument("--sigma-min", type=float, default=0.5, help="sigmas are drawn in [this, --sigma-max]")
    p.add_argument("--sigma-max", type=float, default=1.0,
                   help="below 1: a band of its own (0.4-0.9 is where shape is decided, tools/eval/noiseprobe.py)")
    p.add_argument("--object-weight", type=float, default=8.0,
                   help="object positions weigh 1 + this in the loss (normalised to a mean near 1)")
    p.add_argument("--weight-below", type=float, default=1.0,
                   help="the object weight applies only where sigma is below this (above it the weight biases the "
                        "high-noise prediction toward oversized objects)")
    p.add_argument("--mix", default="1:48,1:48,1:48,9:8", help="latent frames:batch per step, cycled")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--ema", type=float, default=0.99)
    p.add_argument("--drop", type=float, default=0.1, help="caption dropout (keeps CFG working)")
    p.add_argument("--run", default="textbind", choices=("textbind", "refit-twins", "refit", "contrast", "repair"),
                   help="the stage's folder under runs/ (refit-twins, then refit: the teacher refit to world.py's "
                        "larger objects over every sigma, in two stages)")
    p.add_argument("--pool", type=int, default=0,
                   help="draw batches from POOL batches of encoded clips per clip length, as teacher.py --pool "
                        "(0: render and encode every batch, as the shipped stage ran)")
    p.add_argument("--twins", action="store_true",
                   help="batches of twin pairs: clips that differ in one caption word, under the same noise")
    p.add_argument("--contrast", type=float, default=0.0,
                   help="with --twins: weight of the pairs' contrast loss (teacher.flow_loss), which makes the one "
                        "caption word that tells a pair apart carry the whole of that loss")
    p.add_argument("--shared-above", type=float, default=1.0,
                   help="with --twins: above this sigma a pair's two clips share one noisy input (teacher.flow_loss), "
                        "so only the caption word tells them apart")
    p.add_argument("--freeze-t5", action="store_true", help="train the DiT only; the text encoder stays as it was")
    common.add_device_argument(p)
    a = p.parse_args()
    if a.shared_above < 1 and not a.twins:
        raise SystemExit("--shared-above needs --twins")
    if a.contrast and not a.twins:
        raise SystemExit("--contrast needs --twins: it compares the two clips of a twin pair")
    if a.contrast < 0:
        raise SystemExit(f"--contrast {a.contrast}: must be 0 or more")
    if a.twins and any(b % 2 for _, b in parse_mix(a.mix)):
        raise SystemExit(f"--twins needs even batch sizes in --mix {a.mix}")
    if not 0 <= a.sigma_min < a.sigma_max <= 1:
        raise SystemExit(f"--sigma-min {a.sigma_min}, --sigma-max {a.sigma_max}: need 0 <= min < max <= 1")
    common.use_device(a.device)
    main(a)
