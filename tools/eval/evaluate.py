"""One table comparing the teacher (many steps, CFG), the uniform 4-step student and the diagonal student
on the held-out captions (and, apart, captions of pairs seen in training): prompt adherence (colour, shape,
direction read by metrics.py), whether the network takes colour from the caption at all (caption swap
and colour gain, textprobe.py), motion (speed, jerk, flow-warp error), drift over rollouts 10x the
training length (saturation, object size and colour, first vs last second) and cost (network evaluations; PyTorch
CPU seconds). A first row reads the prompts' real clips through the VAE: the ceiling the vision code can
reach through this decoder.

  venv/bin/python tools/eval/evaluate.py [--long 6] [--out tools/eval/results.json]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import common  # noqa: E402
import nets  # noqa: E402
import rollouts  # noqa: E402
import world  # noqa: E402
from latents import LatentSource  # noqa: E402

import metrics  # noqa: E402
import prompts  # noqa: E402
import textprobe  # noqa: E402

LONG_CHUNKS = 30  # 90 latent frames = 179 video frames, 10x a 17-frame training clip


def load(path):
    ck = common.load_checkpoint(path)
    return None if ck is None else nets.dit_from_checkpoint(ck, path)


def main(args):
    data = LatentSource()
    tck = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
    t5 = nets.new_t5()
    t5.load_state_dict(tck["ema"]["t5"])
    teacher = load(f"{common.run_dir('teacher')}/ckpt.pt")
    models = [(f"teacher (24 steps, CFG {args.guidance:g})", teacher, None, None)]
    for label, run, sched, ctx in (("uniform 4-step student", "dmd-uniform", rollouts.UNIFORM_4, "reencode"),
                                   ("diagonal 4-3-2 student", "dmd-diagonal", rollouts.DIAGONAL_4_3_2, "reuse"),
                                   ("diagonal student, ODE init only", "ode-diagonal", rollouts.DIAGONAL_4_3_2,
                                    "reuse")):
        path = f"{common.run_dir(run)}/{'student.pt' if run.startswith('ode') else 'ckpt.pt'}"
        m = load(path)
        if m is not None:
            models.append((label, m, sched, ctx))
    held = prompts.eval_specs()
    specs = held + prompts.seen_specs()
    captions = [s.caption() for s in specs]
    clips = torch.stack([world.render(s, data.video_frames(nets.TRAIN_FRAMES), seed=i)
                         for i, s in enumerate(specs)]).to(torch.get_default_device())
    x0 = data.encode(clips)
    rows = [ceiling(data, x0, specs, len(held))]
    probe = textprobe.swap_probe(t5, x0, clips, specs)
    print(json.dumps(rows[0]), flush=True)
    with torch.no_grad():
        text = nets.encode_text(t5, captions)
        for label, m, sched, ctx in models:
            gen = common.generator(11)
            t0 = time.time()
            if sched is None:
                z, _ = rollouts.teacher_sample(m, t5, captions, gen=gen, guidance=args.guidance)
                nfe = 2 * 24  # 24 steps of two passes (CFG), each over all 9 frames
            else:
                z, nfe = rollouts.rollout(m, text, 3, sched, ctx, 0.0, gen, window=args.window, sink=args.sink)
            secs = (time.time() - t0) / len(specs)
            videos = data.decode(z)
            row = {"model": label, "nfe_per_9_latent_frames": nfe, "torch_cpu_s_per_video": round(secs, 3)}
            row.update(scores(videos, specs, len(held)))
            row.update(textprobe.caption_swap(m, probe, data, causal=sched is not None))
            if sched is not None and args.long > 0:
                picked = list(range(min(args.long, len(held)))) + \
                    list(range(len(held), min(len(held) + args.long, len(specs))))
                lz, _ = rollouts.rollout(m, text[picked], LONG_CHUNKS, sched, ctx, 0.0, gen, window=args.window,
                                         sink=args.sink)
                row.update(metrics.drift(data.decode(lz), [specs[i] for i in picked]))
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.sheet:
                import sheet
                sheet.write_png(f"{args.sheet}-{len(rows)}.png", sheet.sheet(videos[:8]))
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)
    print(table(rows))


def scores(videos, specs, held: int) -> dict:
    """Adherence on the first `held` videos and, prefixed seen_, on the rest; motion means over all."""
    judged = [metrics.judge(v, s) for v, s in zip(videos, specs)]
    row = {}
    for prefix, part in (("", judged[:held]), ("seen_", judged[held:])):
        for k in ("colour", "shape", "direction", "found"):
            row[prefix + k] = sum(j[k] for j in part) / len(part)
    for k in ("speed", "jerk", "warp_error", "area", "background"):
        vals = [j[k] for j in judged if j[k] == j[k]]
        row[k] = sum(vals) / max(1, len(vals))
    plain = [j["background"] for j in judged if j["background"] == j["background"]]
    row["background_off"] = sum(b > metrics.BACKGROUND_OFF for b in plain) / max(1, len(plain))
    return row


@torch.no_grad()
def ceiling(data: LatentSource, x0, specs, held: int) -> dict:
    """The prompts' real clips (world.render) through the VAE and back: what the vision code reads when
    the DiT's latents are perfect, so the rows below are read against the VAE's limit, not 100%."""
    row = {"model": "reference clips through the VAE (ceiling)", "nfe_per_9_latent_frames": 0}
    row.update(scores(data.decode(x0), specs, held))
    return row


def table(rows):
    cols = [("model", "model"), ("colour", "colour"), ("shape", "shape"), ("direction", "direction"),
            ("seen_colour", "seen colour"), ("seen_shape", "seen shape"), ("seen_direction", "seen dir."),
            ("caption_swap", "swap"), ("colour_gain", "colour gain"),
            ("speed", "px/frame"), ("jerk", "jerk"), ("warp_error", "warp err"),
            ("background", "bg err"), ("background_off", "bg tinted"),
            ("saturation_first_s", "sat 1st s"), ("saturation_last_s", "sat last s"),
            ("area_first_s", "area 1st s"), ("area_last_s", "area last s"), ("colour_first_s", "colour 1st s"),
            ("colour_last_s", "colour last s"), ("colour_kept", "colour kept"),
            ("background_first_s", "bg err 1st s"), ("background_last_s", "bg err last s"), ("nfe_per_9_latent_frames", "NFE/9 frames")]
    out = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for k, _ in cols:
            v = r.get(k, "n/a")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--long", type=int, default=6,
                   help="prompts of each set rolled out 10x the training length (0: skip)")
    p.add_argument("--window", type=int, default=nets.TRAIN_FRAMES, help="the students' KV cache window, latent frames")
    p.add_argument("--sink", type=int, default=0, help="the students' attention sink, latent frames")
    p.add_argument("--out", default=os.path.join(HERE, "results.json"))
    p.add_argument("--sheet", default=None, help="write contact sheets PREFIX-N.png")
    p.add_argument("--guidance", type=float, default=2.0, help="the teacher's CFG scale (as distill.py's)")
    common.add_device_argument(p)
    args = p.parse_args()
    common.use_device(args.device)
    main(args)
