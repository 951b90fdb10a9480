"""PyTorch's time for the VAE decoder, to compare with dev.diagonal.bench.DecoderProbe (its VAE row) at the same arguments.

Usage: python tools/bench/torch_vae.py CONFIG H W FRAMES [THREADS]   (CONFIG: tiny | wan2.1)
Random float32 weights, one latent frame per call through the reference's StreamingDecoder (as Wan and the
Java engine decode), no grad. The best later latent frame (4 video frames) is the figure to compare.
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from wan_vae import WAN_2_1, StreamingDecoder, VaeConfig, WanVaeDecoder, init_random_  # noqa: E402


def main():
    name, h, w, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else os.cpu_count()
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    cfg = WAN_2_1 if name == "wan2.1" else VaeConfig(dim=4)
    model = WanVaeDecoder(cfg)
    init_random_(model, torch.Generator().manual_seed(1))
    model.eval()
    z = torch.randn((cfg.z_dim, 1, h, w), generator=torch.Generator().manual_seed(2))
    print(f"torch {torch.__version__}, {threads} threads, {torch.backends.cpu.get_cpu_capability()}")
    stream = StreamingDecoder(model)
    best = float("inf")
    for f in range(frames):
        t0 = time.perf_counter()
        video = stream.decode(z)
        ms = (time.perf_counter() - t0) * 1e3
        print(f"{name} {h}x{w} latent frame {f} -> {video.shape[1]} video frames of {video.shape[3]}x{video.shape[2]}: "
              f"{ms:.1f} ms")
        if f > 0:
            best = min(best, ms)
    print(f"{name} {h}x{w}: best {best:.1f} ms per later latent frame (4 video frames), {threads} threads")


if __name__ == "__main__":
    main()
