"""Writes the golden file Backend.flowWarpError is tested against (FlowWarpTest).

Usage: python tools/reference/flow_warp_golden.py [--out src/test/resources/golden] [--seed 77]
flow_warp_golden.safetensors, every video channels-last [count, H, W, 3] in [-1, 1] as the engine holds it:
  blob          4 frames of 10x14: a soft bright blob moving 1 px right and 1 px down per frame on a gradient
  blob_error    [3]  tools/eval/metrics.py flow_warp_error(blob) (window 7, temperature 0.02), in float64
  blob_error32  [3]  the same computed in float32, as the metric runs in evaluation
  noise         3 frames of 8x9, uniform in [-1, 1]
  noise_error   [2]  flow_warp_error(noise, window=5, temperature=0.1), in float64
The metric takes [C, T, H, W]; the inputs are stored float32 and the float64 results are computed from those
exact values, so only the engine's own rounding is left to the test's tolerance.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(here, "..", "eval"))
from metrics import flow_warp_error  # noqa: E402
from safetensors_io import save_file  # noqa: E402


def blob_video(frames: int, h: int, w: int) -> torch.Tensor:
    """[T, H, W, 3] in [-1, 1]: a diagonal gradient background with a Gaussian blob of another colour."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    out = []
    for t in range(frames):
        cy, cx = 3.0 + t, 4.0 + t
        blob = torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / (2 * 1.5 ** 2))
        background = torch.stack([xs / (w - 1), ys / (h - 1), 0.5 * (xs + ys) / (h + w - 2)], -1)
        colour = torch.tensor([0.9, 0.2, 0.8], dtype=torch.float64)
        rgb = background * (1 - blob[..., None]) + colour * blob[..., None]
        out.append(rgb * 2 - 1)
    return torch.stack(out).to(torch.float32)


def metric(video_thwc: torch.Tensor, dtype: torch.dtype, **kw) -> torch.Tensor:
    return flow_warp_error(video_thwc.to(dtype).permute(3, 0, 1, 2), **kw).to(torch.float32)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="src/test/resources/golden")
    ap.add_argument("--seed", type=int, default=77)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(a.seed)

    blob = blob_video(4, 10, 14)
    noise = (torch.rand((3, 8, 9, 3), generator=g, dtype=torch.float64) * 2 - 1).to(torch.float32)
    tensors = {
        "blob": blob,
        "blob_error": metric(blob, torch.float64),
        "blob_error32": metric(blob, torch.float32),
        "noise": noise,
        "noise_error": metric(noise, torch.float64, window=5, temperature=0.1),
    }
    for k, v in tensors.items():
        if k.endswith(("error", "error32")):
            print(f"{k}: {v.tolist()}")
    path = os.path.join(a.out, "flow_warp_golden.safetensors")
    save_file(tensors, path, metadata={"blob": "window 7, temperature 0.02", "noise": "window 5, temperature 0.1"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
