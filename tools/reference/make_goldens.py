"""Writes the golden files the Java engine is tested against (see README.md for the contract).

Usage: python tools/reference/make_goldens.py [--out src/test/resources/golden] [--seed 1234]
Everything is computed in float64 from float32 weights/inputs; tensors are saved as float32.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402
from sampling import CHUNK_FRAMES, SCHEDULES, ContextMode, stream  # noqa: E402
from wan_causal import CausalWanDiT, WanConfig, init_random_  # noqa: E402

H = W = 8


def f32(t):
    return t.detach().to(torch.float32).contiguous()


class NoiseBank:
    """noise(k, i): float32 N(0,1) [C, CHUNK_FRAMES, H, W] from a generator seeded by (seed, k, i).
    The same (k, i) gives the same tensor in every run, so runs differ only by schedule/mode."""

    def __init__(self, cfg, seed):
        self.cfg, self.seed, self.used = cfg, seed, {}

    def __call__(self, k, i):
        name = f"noise.c{k}.d{i}"
        if name not in self.used:
            g = torch.Generator().manual_seed(self.seed * 100003 + 1000 * k + i)
            self.used[name] = torch.randn((self.cfg.in_dim, CHUNK_FRAMES, H, W), generator=g)
        return self.used[name]


def build(seed):
    cfg = WanConfig()
    model = CausalWanDiT(cfg)
    init_random_(model, seed)           # float32 values ...
    model = model.double().eval()       # ... computed in float64
    g = torch.Generator().manual_seed(seed + 1)
    context = torch.randn((cfg.text_len, cfg.text_dim), generator=g)  # float32 prompt embedding
    return cfg, model, context, g


def write_weights(model, cfg, out):
    tensors = {n: f32(p) for n, p in model.state_dict().items()}
    save_file(tensors, os.path.join(out, "tiny_weights.safetensors"),
              {"config": cfg.to_json(), "format": "pt"})
    return tensors


def write_forward(model, cfg, context, g, out):
    ctx = model.encode_context(context)
    latent = torch.randn((cfg.in_dim, CHUNK_FRAMES, H, W), generator=g)
    latent2 = torch.randn((cfg.in_dim, CHUNK_FRAMES, H, W), generator=g)
    t1 = torch.tensor([1000.0, 937.5, 500.0])
    t2 = torch.tensor([500.0, 500.0, 500.0])
    cache = model.new_cache()
    trace = {}
    flow = model.forward_chunk(latent, t1.double(), ctx, cache, 0, trace=trace)
    flow2 = model.forward_chunk(latent2, t2.double(), ctx, cache, CHUNK_FRAMES)
    tensors = {"context": context, "latent": latent, "timesteps": t1, "text_embedding.out": ctx.text,
               "flow": flow, "latent2": latent2, "timesteps2": t2, "flow2": flow2}
    tensors.update(trace)
    tensors = {k: f32(v) for k, v in tensors.items()}
    meta = {"frame_offset": "0", "frame_offset2": str(CHUNK_FRAMES), "cache": "empty before chunk 1; "
            "chunk 2 attends to chunk 1 (t=timesteps) and itself", "dtype": "computed float64, stored float32"}
    save_file(tensors, os.path.join(out, "forward.safetensors"), meta)
    return tensors


LOOPS = [
    # file stem, schedule, mode, chunks, window (frames, None = unbounded), sink
    ("loop_uniform_reencode0", "UNIFORM", ContextMode("REENCODE", 0), 3, None, 0),
    ("loop_diagonal_reuse", "DIAGONAL_4_3_2", ContextMode("REUSE"), 3, None, 0),
    ("loop_diagonal_reencode100", "DIAGONAL_4_3_2", ContextMode("REENCODE", 100), 3, None, 0),
    ("loop_diagonal_reuse_window", "DIAGONAL_4_3_2", ContextMode("REUSE"), 5, 9, 3),
]


def write_loop(model, cfg, context, seed, out, stem, sched, mode, chunks, window, sink):
    ctx = model.encode_context(context)
    noise = NoiseBank(cfg, seed + 7)
    cache = model.new_cache(window, sink)
    latents, x0s = stream(model, ctx, chunks, SCHEDULES[sched], mode, noise, cache)
    tensors = {"context": context, "latents": latents}
    tensors.update(noise.used)
    for (k, i), x0 in x0s.items():
        tensors[f"x0.c{k}.s{i}"] = x0
    tensors = {n: f32(v) for n, v in tensors.items()}
    meta = {
        "schedule": sched, "context_mode": mode.kind, "context_timestep": repr(float(mode.timestep)),
        "chunks": str(chunks), "chunk_frames": str(CHUNK_FRAMES),
        "window": "none" if window is None else str(window), "sink": str(sink),
        "step_lists": json.dumps([SCHEDULES[sched](k) for k in range(chunks)]),
        "reencode_after_last_chunk": "true" if mode.kind == "REENCODE" else "n/a",
    }
    save_file(tensors, os.path.join(out, stem + ".safetensors"), meta)
    return latents, x0s, tensors


def rms(t):
    return t.pow(2).mean().sqrt().item()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)

    cfg, model, context, g = build(a.seed)
    write_weights(model, cfg, a.out)
    fw = write_forward(model, cfg, context, g, a.out)
    print(f"forward: max|flow| {fw['flow'].abs().max():.3f} rms {rms(fw['flow']):.3f}; "
          f"max|flow2| {fw['flow2'].abs().max():.3f}")

    runs = {}
    for stem, sched, mode, chunks, window, sink in LOOPS:
        lat, x0s, _ = write_loop(model, cfg, context, a.seed, a.out, stem, sched, mode, chunks, window, sink)
        runs[stem] = lat
        mx = max(v.abs().max().item() for v in x0s.values())
        print(f"{stem:28s} max|x0| {mx:7.3f}  rms(latents) {rms(lat):.3f}  per-chunk rms "
              + " ".join(f"{rms(lat[:, 3 * k:3 * k + 3]):.3f}" for k in range(lat.shape[1] // 3)))

    print("\nrms difference per chunk between runs (first 3 chunks):")
    names = list(runs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a_, b_ = runs[names[i]][:, :9], runs[names[j]][:, :9]
            d = " ".join(f"{rms(a_[:, 3 * k:3 * k + 3] - b_[:, 3 * k:3 * k + 3]):.4f}" for k in range(3))
            print(f"  {names[i]:28s} vs {names[j]:28s}: {d}")

    # eviction check (not written): the same 5-chunk run with an unbounded cache
    noise = NoiseBank(cfg, a.seed + 7)
    unb, _ = stream(model, model.encode_context(context), 5, SCHEDULES["DIAGONAL_4_3_2"], ContextMode("REUSE"),
                    noise, model.new_cache())
    win = runs["loop_diagonal_reuse_window"]
    print("  window(9, sink 3) vs unbounded cache, chunks 0..4: "
          + " ".join(f"{rms(win[:, 3 * k:3 * k + 3] - unb[:, 3 * k:3 * k + 3]):.4f}" for k in range(5)))

    total = 0
    for fn in sorted(os.listdir(a.out)):
        if fn.endswith(".safetensors"):
            sz = os.path.getsize(os.path.join(a.out, fn))
            total += sz
            print(f"{fn:42s} {sz:9d} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
