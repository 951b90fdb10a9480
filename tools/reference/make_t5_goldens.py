"""Writes the T5 encoder goldens the Java encoder is tested against.

Usage: python tools/reference/make_t5_goldens.py [--out src/test/resources/golden] [--seed 77]
A tiny random umT5-shaped encoder (vocab 300, dim 32, 4 heads of 8, ffn 48, 2 layers, 32 buckets, max
distance 128, text_len 160), float32 weights computed in float64:
  t5_tiny_weights.safetensors  weights with Wan's umT5 names; metadata 'config' (JSON)
  t5_tiny_golden.safetensors   ids_short [160] (12 real tokens, rest pad 0), context_short [160, 32];
                               ids_long [160] (150 real: distances past max_distance reach the last
                               bucket), context_long, blocks.{0,1}.out_long; buckets [41] for rel -20..20
                               and buckets_far for rel in (-200, -128, -127, -64, -32, -16, 16, 32, 64, 127, 128, 300)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402
from t5_encoder import T5Config, T5Encoder, relative_bucket  # noqa: E402

TINY = T5Config(vocab=300, dim=32, dim_attn=32, dim_ffn=48, num_heads=4, num_layers=2, text_len=160)


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=77)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(a.seed)
    model = T5Encoder(TINY)
    for name, p in model.named_parameters():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
        elif "embedding" in name:
            p.copy_(torch.randn(p.shape, generator=g))
        else:
            p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
    model = model.double().eval()
    out = {}
    for case, n in (("short", 12), ("long", 150)):
        ids = torch.zeros(TINY.text_len, dtype=torch.long)
        ids[:n] = torch.randint(3, TINY.vocab, (n,), generator=g)
        ids[n - 1] = 1  # EOS, as the tokenizer appends it
        trace = {}
        ctx = model(ids, n, trace)
        out[f"ids_{case}"] = ids.to(torch.int32)
        out[f"context_{case}"] = f32(ctx)
        if case == "long":
            for k, v in trace.items():
                out[f"{k}_long"] = f32(v)
    out["buckets"] = relative_bucket(torch.arange(-20, 21), 32, 128).to(torch.int32)
    out["buckets_far"] = relative_bucket(torch.tensor([-200, -128, -127, -64, -32, -16, 16, 32, 64, 127, 128, 300]), 32, 128).to(torch.int32)
    cfg = json.dumps(dataclasses.asdict(TINY))
    save_file({n: f32(p) for n, p in model.named_parameters()}, os.path.join(a.out, "t5_tiny_weights.safetensors"),
              {"config": cfg, "format": "pt"})
    save_file(out, os.path.join(a.out, "t5_tiny_golden.safetensors"), {"config": cfg})
    print("buckets -20..20:", out["buckets"].tolist())
    print("buckets far:", out["buckets_far"].tolist())
    print(f"context_long max|x| {out['context_long'].abs().max():.3f}")


if __name__ == "__main__":
    main()
