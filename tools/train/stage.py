"""Finished stages kept in git, so a new machine resumes the recipe instead of restarting it: runs/ is
ignored, and twice a new session found the encoder and teacher it needed gone, which cost the whole
pipeline. A stage file is the checkpoint's weights (no optimizer state) as safetensors in tools/train/stages/,
with its step and phase flags in the metadata; restoring writes runs/NAME/ckpt.pt as the training script would have.

  venv/bin/python tools/train/stage.py save vae        # runs/vae/ckpt.pt -> stages/vae.safetensors
  venv/bin/python tools/train/stage.py restore vae     # the reverse; refuses to overwrite a checkpoint
"""
from __future__ import annotations

import argparse
import json
import os

import torch

import common

STAGES = os.path.join(common.HERE, "stages")
# Which entries of each stage's checkpoint are weights worth keeping (a state dict, or a dict of them).
KEEP = {"vae": ("model",), "teacher": ("dit", "t5", "ema"), "textbind": ("dit", "t5", "ema"),
        "refit": ("dit", "t5", "ema"), "contrast": ("dit", "t5", "ema"), "repair": ("dit", "t5", "ema"),
        "judge": ("model",)}


def flatten(ck: dict, keys) -> dict:
    out = {}
    for k in keys:
        value = ck[k]
        if all(isinstance(v, dict) for v in value.values()):  # e.g. ema: {"dit": {...}, "t5": {...}}
            for inner, sd in value.items():
                out.update({f"{k}/{inner}/{n}": t for n, t in sd.items()})
        else:
            out.update({f"{k}/{n}": t for n, t in value.items()})
    return out


def unflatten(tensors: dict) -> dict:
    ck = {}
    for name, t in tensors.items():
        *path, leaf = name.split("/")  # parameter names have dots, never slashes
        node = ck
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = t
    return ck


def save(name: str) -> str:
    ck = common.load_checkpoint(f"{common.run_dir(name)}/ckpt.pt")
    if ck is None:
        raise SystemExit(f"runs/{name}/ckpt.pt: no checkpoint to save")
    os.makedirs(STAGES, exist_ok=True)
    path = os.path.join(STAGES, f"{name}.safetensors")
    scalars = {k: v for k, v in ck.items()
               if isinstance(v, (bool, int, float, str)) and k != "restored"}  # step, phase flags
    meta = {"stage": name, "scalars": json.dumps(scalars)}
    stats = common.load_checkpoint(f"{common.run_dir(name)}/stats.pt") if name == "vae" else None
    if stats is not None:
        # The latents' mean and std belong to the encoder: every stage after it was trained on latents
        # normalised by them, and export.py writes them into model.json. Recomputed from today's world.py
        # they would differ (its objects grew in session 18), so they travel with the weights.
        meta["latent_stats"] = json.dumps({k: stats[k].tolist() for k in ("mean", "std")})
    common.save_file({k: v.float() for k, v in flatten(ck, KEEP[name]).items()}, path + ".tmp", meta)
    os.replace(path + ".tmp", path)
    return path


def restore(name: str) -> str:
    target = f"{common.run_dir(name)}/ckpt.pt"
    if os.path.exists(target):
        raise SystemExit(f"{target} exists: move it away to restore stages/{name}.safetensors over it")
    path = os.path.join(STAGES, f"{name}.safetensors")
    if not os.path.exists(path):
        raise SystemExit(f"{path}: no saved stage")
    tensors, meta = common.load_file(path)
    ck = unflatten(tensors)
    ck.update(json.loads(meta.get("scalars", "{}")))
    ck["restored"] = True  # no optimizer state: the scripts start a fresh optimizer on it
    common.save_checkpoint(target, ck)
    if "latent_stats" in meta and not os.path.exists(f"{common.run_dir(name)}/stats.pt"):
        stats = json.loads(meta["latent_stats"])
        common.save_checkpoint(f"{common.run_dir(name)}/stats.pt", {k: torch.tensor(v) for k, v in stats.items()})
    return target


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=("save", "restore"))
    p.add_argument("name", choices=sorted(KEEP))
    a = p.parse_args()
    print((save if a.action == "save" else restore)(a.name))
