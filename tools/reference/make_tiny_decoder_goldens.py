"""Writes the tiny decoder goldens the Java TinyDecoder is tested against.

Usage: python tools/reference/make_tiny_decoder_goldens.py [--out src/test/resources/golden] [--seed 2468]
A small random decoder (float32 weights, computed in float64, saved as float32), Java's TinyDecoderConfig.TINY:
  tiny_decoder_weights.safetensors  the decoder's weights (tiny_decoder.py names); metadata 'config' (JSON)
  tiny_decoder_golden.safetensors   z [4, 5, 4, 4] (normalized latents), mean/std, video [3, 9, 16, 16]
It also checks that decoding 1, 2 or 3 latent frames per call (decode_streaming) equals the whole pass.
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
from tiny_decoder import TinyDecoder, TinyDecoderConfig, decode_streaming, init_random_  # noqa: E402

TINY = TinyDecoderConfig(z_dim=4, widths=(6, 5, 3), blocks=(2, 1, 1), temporal_upsample=(True, False))
FRAMES, H, W = 5, 4, 4


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=2468)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(a.seed)
    mean = (0.5 * torch.randn(TINY.z_dim, generator=g)).tolist()
    std = (1 + 0.5 * torch.rand(TINY.z_dim, generator=g)).tolist()
    model = TinyDecoder(TINY, mean=mean, std=std)
    init_random_(model, g)
    model = model.double().eval()
    z = torch.randn((TINY.z_dim, FRAMES, H, W), generator=g)
    video = model(z.double())
    for per_call in (1, 2, 3):
        diff = (decode_streaming(model, z.double(), per_call) - video).abs().max().item()
        print(f"streaming {per_call} frame(s)/call vs whole: max |diff| {diff:.2e}")
        assert diff < 1e-10, diff

    f32 = lambda t: t.detach().to(torch.float32).contiguous()  # noqa: E731
    cfg = json.dumps(dataclasses.asdict(TINY))
    weights = {n: f32(p) for n, p in model.named_parameters()}
    save_file(weights, os.path.join(a.out, "tiny_decoder_weights.safetensors"), {"config": cfg, "format": "pt"})
    save_file({"z": f32(z), "mean": torch.tensor(mean), "std": torch.tensor(std), "video": f32(video)},
              os.path.join(a.out, "tiny_decoder_golden.safetensors"), {"config": cfg})
    print(f"video {tuple(video.shape)} max|x| {video.abs().max():.3f} rms {video.pow(2).mean().sqrt():.3f}; "
          f"{len(weights)} weight tensors, {sum(p.numel() for p in weights.values())} parameters")


if __name__ == "__main__":
    main()
