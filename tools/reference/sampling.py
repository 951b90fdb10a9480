"""Flow-matching schedule (shift 5, 1000 train steps, continuous sigma = t/1000) and the streaming loop."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

NUM_TRAIN_TIMESTEPS = 1000
SHIFT = 5.0
CHUNK_FRAMES = 3


def warp(nominal: float, shift: float = SHIFT) -> float:
    """Shifted network timestep of a nominal one: u = n/1000, t = 1000 * s*u / (1 + (s-1)*u)."""
    u = nominal / NUM_TRAIN_TIMESTEPS
    return NUM_TRAIN_TIMESTEPS * shift * u / (1 + (shift - 1) * u)


def sigma(t: float) -> float:
    return t / NUM_TRAIN_TIMESTEPS


def add_noise(x0, noise, sig):
    return (1 - sig) * x0 + sig * noise


def flow_to_x0(x_t, v, sig):
    return x_t - sig * v


# Step lists, on the shifted (network) scale, per chunk index.
T_100 = warp(100)  # 357.14285714285717
UNIFORM_STEPS = [warp(n) for n in (1000, 750, 500, 250)]  # [1000, 937.5, 833.33.., 625]


def uniform(chunk: int) -> list[float]:
    return list(UNIFORM_STEPS)


def diagonal_4_3_2(chunk: int) -> list[float]:
    if chunk == 0:
        return [1000.0, 933.0, 733.0, T_100]
    if chunk == 1:
        return [1000.0, 933.0, T_100]
    return [1000.0, T_100]


SCHEDULES: dict[str, Callable[[int], list[float]]] = {"UNIFORM": uniform, "DIAGONAL_4_3_2": diagonal_4_3_2}


@dataclass
class ContextMode:
    """REUSE: keep the K/V of the chunk's last denoising step.
    REENCODE(tc): re-run the chunk at timestep tc (network scale, sigma = tc/1000) on
    x0 (tc == 0) or add_noise(x0, noise, tc/1000), only to overwrite its cache slots."""
    kind: str                 # "REUSE" | "REENCODE"
    timestep: float = 0.0

    @property
    def name(self) -> str:
        return "REUSE" if self.kind == "REUSE" else f"REENCODE({self.timestep:g})"


def stream(model, context_kv, num_chunks: int, schedule: Callable[[int], list[float]], mode: ContextMode,
           noise: Callable[[int, int], torch.Tensor], cache, chunk_frames: int = CHUNK_FRAMES,
           reencode_last: bool = True):
    """Runs the streaming loop. noise(k, i) -> [C, F, H, W] tensor (draw i of chunk k).
    Returns (latents [C, total_frames, H, W], x0s {(k, i): tensor}).
    With reencode_last, the context pass also runs after the final chunk (it cannot change any output)."""
    outs, x0s = [], {}
    for k in range(num_chunks):
        steps = schedule(k)
        off = k * chunk_frames
        x = noise(k, 0).to(torch.float64)
        x0 = None
        for i, t in enumerate(steps):
            tt = torch.full((chunk_frames,), t, dtype=torch.float64)
            v = model.forward_chunk(x, tt, context_kv, cache, off)
            x0 = flow_to_x0(x, v, sigma(t))
            x0s[(k, i)] = x0
            if i < len(steps) - 1:
                x = add_noise(x0, noise(k, i + 1).to(torch.float64), sigma(steps[i + 1]))
        outs.append(x0)
        if mode.kind == "REENCODE" and (k < num_chunks - 1 or reencode_last):
            tc = mode.timestep
            inp = x0 if tc == 0 else add_noise(x0, noise(k, len(steps)).to(torch.float64), sigma(tc))
            tt = torch.full((chunk_frames,), float(tc), dtype=torch.float64)
            model.forward_chunk(inp, tt, context_kv, cache, off)
    return torch.cat(outs, dim=1), x0s
