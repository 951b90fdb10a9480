"""Writes the small PyTorch checkpoints (torch.save) the Java reader is tested against.

Usage: python tools/reference/make_torch_fixtures.py [--out src/test/resources/dev/diagonal/io/torch] [--seed 17]

Each NAME.pt / NAME.pth is laid out as the real project's checkpoint is (nesting keys, key prefixes, dtype), with
tiny random tensors; NAME.expected.safetensors holds the tensors the reader must return, under their raw keys
inside the state dict it should choose (contiguous copies, same dtype). The files are a few KB each, except
tiny_dit_self_forcing.pt: the tiny DiT of golden/tiny_weights.safetensors in bf16, nested as Self-Forcing's
self_forcing_dmd.pt is, which the Java test streams against the same weights read from safetensors.

Layouts (from each project's loading code):
  self_forcing.pt  {"generator": {"model.<k>"}, "generator_ema": {"model._fsdp_wrapped_module.<k>"}}, bf16
                   (guandeh17/Self-Forcing inference.py loads state_dict['generator_ema'] with --use_ema)
  causvid.pt       {"generator": {"model.<k>"}}, fp32 (tianweiy/CausVid minimal_inference/autoregressive_inference.py)
  longlive_base.pt {"generator": {"model.<k>"}}, bf16, and longlive_lora.pt {"generator_lora":
                   {"base_model.model.<module>.lora_A.weight" [r, in], ".lora_B.weight" [out, r]}}
                   (NVlabs/LongLive inference.py and utils/lora_utils.py: peft on every Linear of the blocks)
  wan_vae.pth      a plain state dict (Wan-Video/Wan2.1 wan/modules/vae.py loads torch.load(...) directly), fp32
  umt5.pth         the tiny umT5 of golden/t5_tiny_weights.safetensors, plain, bf16 (wan/modules/t5.py)
  legacy.pt        a plain fp32 state dict in the pre-1.6 format (_use_new_zipfile_serialization=False)
  views.pt         tensors sharing one storage at offsets, a size-1 dimension, every dtype, an nn.Parameter,
                   nested {"model": {"state_dict": ...}} with a "module." prefix and a non-tensor entry
  transposed.pt    a transposed (non-contiguous) tensor, which the reader must refuse
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, save_file  # noqa: E402

DIT_KEYS = ["patch_embedding.weight", "blocks.0.self_attn.q.weight", "blocks.0.self_attn.q.bias",
            "blocks.0.cross_attn.k.weight", "blocks.0.ffn.0.weight", "blocks.0.ffn.2.weight",
            "blocks.0.modulation", "head.head.weight"]
LORA_MODULES = ["blocks.0.self_attn.q", "blocks.0.cross_attn.k", "blocks.0.ffn.0",
                "blocks.0.ffn.2"]
VAE_KEYS = ["encoder.conv1.weight", "encoder.conv1.bias", "conv1.weight", "conv2.weight",
            "decoder.conv1.weight", "decoder.middle.0.residual.0.gamma", "decoder.head.2.weight"]


def micro(g, key, dtype):
    """A small tensor whose shape says which kind of weight it stands for."""
    shape = (4, 4, 1, 2, 2) if key.startswith("patch") else (1, 6, 4) if key.endswith("modulation") else \
        (4,) if key.endswith(("bias", "gamma")) else (8, 4) if ".ffn.0." in key else (4, 8) if ".ffn.2." in key \
        else (4, 4)
    return torch.randn(shape, generator=g).to(dtype)


def contiguous(d):
    return {k: v.detach().clone().contiguous() for k, v in d.items()}


def write(out, name, obj, expected, **kw):
    torch.save(obj, os.path.join(out, name), **kw)
    save_file(contiguous(expected), os.path.join(out, name.rsplit(".", 1)[0] + ".expected.safetensors"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/dev/diagonal/io/torch")
    ap.add_argument("--golden", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=17)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(a.seed)

    gen = {k: micro(g, k, torch.bfloat16) for k in DIT_KEYS}
    ema = {k: micro(g, k, torch.bfloat16) for k in DIT_KEYS}
    # FSDP-wrapped EMA keys, as Self-Forcing's trainer saves them (LongLive strips "_fsdp_wrapped_module.").
    ema_raw = {("model._fsdp_wrapped_module." + k).replace("blocks.0.", "blocks.0._fsdp_wrapped_module."): v
               for k, v in ema.items()}
    write(a.out, "self_forcing.pt", {"generator": {"model." + k: v for k, v in gen.items()}, "generator_ema": ema_raw},
          ema_raw)

    causvid = {"model." + k: micro(g, k, torch.float32) for k in DIT_KEYS}
    write(a.out, "causvid.pt", {"generator": causvid}, causvid)

    base = {"model." + k: micro(g, k, torch.bfloat16) for k in DIT_KEYS}
    write(a.out, "longlive_base.pt", {"generator": base}, base)
    rank = 2
    lora = {}
    for m in LORA_MODULES:
        out_dim, in_dim = micro(g, m + ".weight", torch.float32).shape
        lora[f"base_model.model.{m}.lora_A.weight"] = torch.randn(rank, in_dim, generator=g).to(torch.bfloat16)
        lora[f"base_model.model.{m}.lora_B.weight"] = torch.randn(out_dim, rank, generator=g).to(torch.bfloat16)
    write(a.out, "longlive_lora.pt", {"generator_lora": lora}, lora)
    # The merge the Java side must reproduce: W + (alpha / rank) * B @ A, in float32, rounded to the base dtype.
    alpha = 4.0
    merged = {}
    for m in LORA_MODULES:
        w = base["model." + m + ".weight"].float()
        b = lora[f"base_model.model.{m}.lora_B.weight"].float()
        aa = lora[f"base_model.model.{m}.lora_A.weight"].float()
        merged[m + ".weight"] = (w + (alpha / rank) * (b @ aa)).to(torch.bfloat16)
    save_file(merged, os.path.join(a.out, "longlive_merged.expected.safetensors"),
              metadata={"rank": str(rank), "alpha": str(alpha)})

    vae = collections.OrderedDict((k, micro(g, k, torch.float32)) for k in VAE_KEYS)
    write(a.out, "wan_vae.pth", vae, vae)

    t5 = {k: v.to(torch.bfloat16) for k, v in load_file(os.path.join(a.golden, "t5_tiny_weights.safetensors"))[0].items()}
    torch.save(t5, os.path.join(a.out, "umt5.pth"))  # expected: the golden rounded to bf16, in the Java test

    legacy = {k: micro(g, k, torch.float32) for k in DIT_KEYS[:4]}
    write(a.out, "legacy.pt", legacy, legacy, _use_new_zipfile_serialization=False)

    flat = torch.arange(24, dtype=torch.float32)
    views = collections.OrderedDict()
    views["module.whole"] = flat
    views["module.tail"] = flat[8:].view(4, 4)           # storage offset 8
    views["module.row"] = flat.view(4, 6)[2]             # offset 12, one row
    views["module.unit"] = flat.view(4, 6)[:, None, :]   # a size-1 dimension (stride is not normalized)
    views["module.empty"] = flat[:0]
    for dt in (torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16, torch.int8,
               torch.uint8, torch.bool):
        views["module." + str(dt).split(".")[1]] = (torch.arange(6) % 3 - 1).to(dt).view(2, 3)
    views["module.param"] = torch.nn.Parameter(torch.randn(3, 2, generator=g))
    nested = {"model": {"state_dict": views, "step": 1200}, "optimizer_name": "adamw"}
    write(a.out, "views.pt", nested, {k: v for k, v in views.items()})

    torch.save({"t": flat.view(4, 6).t()}, os.path.join(a.out, "transposed.pt"))

    tiny = load_file(os.path.join(a.golden, "tiny_weights.safetensors"))[0]
    torch.save({"generator_ema": {"model." + k: v.to(torch.bfloat16) for k, v in tiny.items()}},
               os.path.join(a.out, "tiny_dit_self_forcing.pt"))
    for f in sorted(os.listdir(a.out)):
        print(f"{os.path.getsize(os.path.join(a.out, f)):8d}  {f}")


if __name__ == "__main__":
    main()
