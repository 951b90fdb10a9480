"""Writes a trained model as a Java model directory: dit.safetensors, t5.safetensors, vae.safetensors (the
decoder only, Wan key names) and model.json with every config and the stream settings it was distilled
for. The Java engine reads exactly this (dev.diagonal.model.ModelBundle).

  venv/bin/python tools/train/export.py --student runs/dmd-diagonal/ckpt.pt --out weights
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import torch

import common
import nets
import vae


def entry(spec, plain) -> dict:
    """What a faithful video of the spec shows; its background only where that is one colour (in `plain`)."""
    o = spec.objects[0]
    out = {"caption": spec.caption(), "colour": o.colour, "shape": o.shape, "direction": o.direction}
    if spec.background in plain:
        out["background"] = spec.background
    return out


def kept_tiny_decoder(out: str, card: dict) -> dict:
    """{"tiny_decoder": entry} when `out` already holds a tiny decoder trained for this very VAE (decoder.py
    --export wrote its entry): it decodes the new student's latents as well as the old one's, so exporting a
    student must not orphan it. With another VAE it is dropped, saying so, since it would decode wrongly."""
    try:
        with open(os.path.join(out, "model.json")) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return {}
    tiny = old.get("tiny_decoder")
    if not isinstance(tiny, dict) or not tiny.get("file") or not os.path.isfile(os.path.join(out, tiny["file"])):
        return {}
    if old.get("vae") != card["vae"]:
        print(f"{out}: its tiny decoder was trained for another VAE; model.json no longer lists it "
              "(decoder.py --export fits one to this VAE)")
        return {}
    return {"tiny_decoder": tiny}


def main(args):
    os.makedirs(args.out, exist_ok=True)
    teacher = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
    student = common.load_checkpoint(args.student)
    vck = common.load_checkpoint(f"{common.run_dir('vae')}/ckpt.pt")
    stats = common.load_checkpoint(f"{common.run_dir('vae')}/stats.pt")
    if stats is None:
        raise SystemExit(f"{common.run_dir('vae')}/stats.pt is missing: the latents' statistics the DiT was "
                         "trained with (stage.py restore vae writes them from stages/vae.safetensors)")
    f32 = lambda sd: {k: v.detach().float().cpu().contiguous() for k, v in sd.items()}  # noqa: E731
    common.save_file(f32(student["dit"]), f"{args.out}/dit.safetensors", {"format": "pt"})
    common.save_file(f32(teacher["ema"]["t5"]), f"{args.out}/t5.safetensors", {"format": "pt"})
    dec = {k[len("dec."):]: v for k, v in vck["model"].items()
           if k.startswith("dec.") and not k.endswith(("mean", "std"))}
    common.save_file(f32(dec), f"{args.out}/vae.safetensors", {"format": "pt"})
    d, t, v = nets.DIT, nets.T5, vae.config(vae.z_dim_of(vck))
    card = {
        "name": args.name,
        "dit": {"file": "dit.safetensors", "config": {
            "in_dim": d.in_dim, "out_dim": d.out_dim, "dim": d.dim, "ffn_dim": d.ffn_dim, "freq_dim": d.freq_dim,
            "text_dim": d.text_dim, "text_len": d.text_len, "num_heads": d.num_heads, "num_layers": d.num_layers,
            "patch": list(d.patch), "eps": d.eps}},
        "vae": {"file": "vae.safetensors", "config": {
            "z_dim": v.z_dim, "dim": v.dim, "dim_mult": list(v.dim_mult), "num_res_blocks": v.num_res_blocks,
            "temporal_upsample": list(v.temporal_upsample),
            "latent_mean": [round(x, 6) for x in stats["mean"].tolist()],
            "latent_std": [round(x, 6) for x in stats["std"].tolist()]}},
        "text": {"file": "t5.safetensors", "tokenizer": "bytes",
                 "config": {k: getattr(t, k) for k in (f.name for f in dataclasses.fields(t))}},
        "stream": {"latent_height": 16, "latent_width": 16, "chunk_frames": nets.CHUNK, "chunks": args.chunks,
                   "window": args.window, "sink": args.sink, "schedule": args.schedule, "context": args.context,
                   "fps": 16},
    }
    # The evaluation sets (held-out and training pairs), for `diagonal eval` (tools/eval/prompts.py makes the same list).
    sys.path.insert(0, os.path.join(common.HERE, "..", "eval"))
    import prompts
    import world
    plain = {k: list(c) for k, (c, kind) in world.BACKGROUNDS.items() if kind == "plain"}
    evals = {"palette": {k: list(v) for k, v in world.COLOURS.items()},
             "backgrounds": plain,
             "prompts": [entry(s, plain) for s in prompts.eval_specs()],
             "seen": [entry(s, plain) for s in prompts.seen_specs()]}
    with open(f"{args.out}/eval.json", "w") as f:
        json.dump(evals, f, indent=1)
        f.write("\n")
    card.update(kept_tiny_decoder(args.out, card))
    with open(f"{args.out}/model.json", "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    for n in ("dit", "t5", "vae"):
        print(f"{args.out}/{n}.safetensors {os.path.getsize(f'{args.out}/{n}.safetensors') / 1e6:.2f} MB")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--student", required=True)
    p.add_argument("--out", default=os.path.join(common.HERE, "..", "..", "weights"))
    p.add_argument("--name", default="diagonal-shapes-64")
    p.add_argument("--chunks", type=int, default=14)   # 42 latent frames -> 83 frames, about 5 s at 16 fps
    p.add_argument("--schedule", default="diagonal-4-3-2")
    p.add_argument("--context", default="reuse")
    p.add_argument("--window", type=int, default=nets.TRAIN_FRAMES, help="the KV cache window it was distilled with")
    p.add_argument("--sink", type=int, default=0, help="the attention sink it was distilled with")
    main(p.parse_args())
