"""Writes a full-size random Wan2.1-T2V-1.3B DiT as torch.save would ship it, to time the Java .pt reader.

Usage: python tools/bench/write_random_pt.py --out /tmp/dit.pt [--dtype bf16] [--seed 0] [--lora /tmp/lora.pt]
Layout as Self-Forcing's self_forcing_dmd.pt: {"generator_ema": {"model.<Wan key>": tensor}}; shapes are
those of src/main/java/dev/diagonal/model/dit/WanKeys.java for config t2v-1.3b (about 2.8 GB in bf16). Do not
commit the output: it is for tools/bench/pt_vs_safetensors.sh, under /tmp. --lora also writes a random rank-256
adapter in LongLive's layout ({"generator_lora": {"base_model.model.<module>.lora_A.weight" [256, in],
".lora_B.weight" [out, 256]}} for every Linear of every block), to time `diagonal convert --family longlive --lora`.
"""
from __future__ import annotations

import argparse

import torch

DIM, FFN, FREQ, TEXT, IN, LAYERS, PATCH = 1536, 8960, 256, 4096, 16, 30, (1, 2, 2)


def wan_keys():
    """Name -> shape, as WanKeys.of(WanConfig.T2V_1_3B)."""
    d = DIM
    m = {"patch_embedding.weight": (d, IN, *PATCH), "patch_embedding.bias": (d,)}

    def linear(p, out, inp):
        m[p + ".weight"] = (out, inp)
        m[p + ".bias"] = (out,)

    linear("text_embedding.0", d, TEXT)
    linear("text_embedding.2", d, d)
    linear("time_embedding.0", d, FREQ)
    linear("time_embedding.2", d, d)
    linear("time_projection.1", 6 * d, d)
    for i in range(LAYERS):
        b = f"blocks.{i}."
        m[b + "modulation"] = (1, 6, d)
        for attn in ("self_attn", "cross_attn"):
            for p in "qkvo":
                linear(b + attn + "." + p, d, d)
            m[b + attn + ".norm_q.weight"] = (d,)
            m[b + attn + ".norm_k.weight"] = (d,)
        m[b + "norm3.weight"] = (d,)
        m[b + "norm3.bias"] = (d,)
        linear(b + "ffn.0", FFN, d)
        linear(b + "ffn.2", d, FFN)
    linear("head.head", IN * PATCH[0] * PATCH[1] * PATCH[2], d)
    m["head.modulation"] = (1, 2, d)
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lora", help="also write a random rank-256 LongLive-style adapter here")
    a = ap.parse_args(argv)
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    g = torch.Generator().manual_seed(a.seed)
    state = {}
    for k, shape in wan_keys().items():
        state["model." + k] = (torch.randn(shape, generator=g) * 0.02).to(dtype)
    n = sum(t.numel() for t in state.values())
    torch.save({"generator_ema": state}, a.out)
    print(f"wrote {a.out}: {len(state)} tensors, {n / 1e9:.3f} B parameters, {a.dtype}")
    if a.lora:
        shapes = wan_keys()
        lora = {}
        for k, shape in shapes.items():
            if k.startswith("blocks.") and k.endswith(".weight") and len(shape) == 2:
                m = k[:-len(".weight")]
                lora[f"base_model.model.{m}.lora_A.weight"] = (torch.randn(256, shape[1], generator=g) * 0.01).to(dtype)
                lora[f"base_model.model.{m}.lora_B.weight"] = (torch.randn(shape[0], 256, generator=g) * 0.01).to(dtype)
        del state
        torch.save({"generator_lora": lora}, a.lora)
        print(f"wrote {a.lora}: {len(lora) // 2} LoRA modules of rank 256")


if __name__ == "__main__":
    main()
