"""Writes the VAE decoder goldens the Java decoder is tested against.

Usage: python tools/reference/make_vae_goldens.py [--out src/test/resources/golden] [--seed 4321]
A tiny random decoder (float32 weights, computed in float64, saved as float32):
  vae_tiny_weights.safetensors  the decoder's weights with Wan2.1_VAE names; metadata 'config' (JSON)
  vae_tiny_golden.safetensors   z [16, 5, 4, 4] (normalized latents), mean/std, after_conv1, after_middle,
                                video [3, 17, 32, 32] (not clamped)
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
from wan_vae import VaeConfig, WanVaeDecoder, decode_streaming, init_random_  # noqa: E402

TINY = VaeConfig(z_dim=16, dim=4, dim_mult=(1, 2, 4, 4), num_res_blocks=2, temporal_upsample=(True, True, False))
FRAMES, H, W = 5, 4, 4


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=4321)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(a.seed)

    mean = (0.5 * torch.randn(TINY.z_dim, generator=g)).tolist()
    std = (1 + 0.5 * torch.rand(TINY.z_dim, generator=g)).tolist()
    model = WanVaeDecoder(TINY, mean=mean, std=std)
    init_random_(model, g)
    model = model.double().eval()
    z = torch.randn((TINY.z_dim, FRAMES, H, W), generator=g)

    zd = z.double()
    video = model(zd)
    x = model.conv2(model.denormalize(zd).unsqueeze(0))
    after_conv1 = model.decoder.conv1(x)
    m = after_conv1
    for layer in model.decoder.middle.values():
        m = layer(m)
    for per_call in (1, 2, 3):
        diff = (decode_streaming(model, zd, per_call) - video).abs().max().item()
        print(f"streaming {per_call} frame(s)/call vs whole: max |diff| {diff:.2e}")
        assert diff < 1e-10, diff

    cfg = dataclasses.asdict(TINY)
    weights = {n: f32(p) for n, p in model.named_parameters()}
    save_file(weights, os.path.join(a.out, "vae_tiny_weights.safetensors"),
              {"config": json.dumps(cfg), "format": "pt"})
    save_file({"z": f32(z), "mean": torch.tensor(mean), "std": torch.tensor(std),
               "after_conv1": f32(after_conv1[0]), "after_middle": f32(m[0]), "video": f32(video)},
              os.path.join(a.out, "vae_tiny_golden.safetensors"), {"config": json.dumps(cfg)})
    print(f"video {tuple(video.shape)} max|x| {video.abs().max():.3f} rms {video.pow(2).mean().sqrt():.3f}; "
          f"{len(weights)} weight tensors, {sum(p.numel() for p in weights.values())} parameters")


if __name__ == "__main__":
    main()
