"""Teacher training step time, side by side in one run: the sessions 1-9 data path (every batch rendered and
encoded, each caption through the reference T5 alone over all 128 rows) against the current one (a
LatentPool refreshing a quarter batch a step, captions batched and cut to the longest). Steps alternate
between the two so a shared machine's load hits both alike.

  venv/bin/python tools/train/step_speed.py [--steps 6] [--mix 1:48,3:24,9:8]
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import common
import nets
import teacher
from latents import LatentPool, LatentSource


def main(args):
    data = LatentSource()
    dit, t5 = nets.new_dit(0), nets.new_t5(0)
    params = list(dit.parameters()) + list(t5.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4)
    mix = teacher.parse_mix(args.mix)
    rng, gen = random.Random(0), common.generator(0)
    pools = {f: LatentPool(data, rng, f, 4 * b, max(1, b // 4)) for f, b in dict(mix).items()}
    times = {"sessions 1-9": {}, "pooled, batched T5": {}}
    for step in range(2 * args.steps * len(mix)):
        frames, batch = mix[(step // 2) % len(mix)]
        old = step % 2 == 0
        t0 = time.perf_counter()
        loss = teacher.batch_loss(dit, t5, data if old else pools[frames], rng, gen, frames, batch, 0.1, 0.0, 4.0,
                                  nets.encode_text_one_by_one if old else nets.encode_text)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times["sessions 1-9" if old else "pooled, batched T5"].setdefault(frames, []).append(time.perf_counter() - t0)
    print(f"threads {torch.get_num_threads()}, median s per step over {args.steps} steps each")
    print("| data path | " + " | ".join(f"{f} frames x {b}" for f, b in mix) + " |")
    print("|---|" + "---|" * len(mix))
    for name, per in times.items():
        print(f"| {name} | " + " | ".join(f"{statistics.median(per[f]):.3f}" for f, _ in mix) + " |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--mix", default="1:48,3:24,9:8")
    main(p.parse_args())
