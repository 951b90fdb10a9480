"""Samplers in PyTorch, the same math the Java engine runs: the teacher's many-step ODE (Euler in sigma,
with classifier-free guidance) and the causal student's chunk-by-chunk few-step rollout with a per-chunk
step list and either context rule. The rollout keeps a per-block KV cache with a local window and
absolute RoPE positions, exactly as dev.diagonal.stream.ChunkStream does.
"""
from __future__ import annotations

import torch

import nets

SHIFT = 5.0
# Timesteps (network scale) of the step lists, as Java's DiagonalSchedule presets give them.
DIAGONAL_4_3_2 = ([1000.0, 933.0, 733.0, 357.14], [1000.0, 933.0, 357.14], [1000.0, 357.14])
UNIFORM_4 = ([1000.0, 937.5, 833.33, 625.0],)


def steps_for(schedule, chunk: int) -> list[float]:
    return schedule[min(chunk, len(schedule) - 1)]


def warp(u: torch.Tensor) -> torch.Tensor:
    return SHIFT * u / (1 + (SHIFT - 1) * u)


def teacher_sigmas(steps: int, extra=()) -> list[float]:
    """Shifted uniform grid from 1 to 0 plus extra sigmas (so trajectories pass through them exactly)."""
    grid = warp(torch.linspace(1, 0, steps + 1)).tolist()
    return sorted(set(round(s, 6) for s in grid + list(extra)), reverse=True)


@torch.no_grad()
def teacher_sample(dit, t5, captions, frames=nets.TRAIN_FRAMES, steps=24, guidance=4.0, gen=None,
                   keep=(), noise=None, start=1.0, high=None, high_above=1.0, where=None, high_t5=None):
    """Euler ODE from noise; guidance is standard CFG (cond + (g-1)(cond - uncond)... i.e. uncond + g·(cond -
    uncond)). With start < 1, noise is a state at that sigma and only the grid below it is walked (SDEdit).
    With a second teacher `high`, steps above high_above take its velocity instead, only in the cells
    where(x0 estimate) marks (a [B, 1, F, h, w] map in [0, 1]) if given; it reads the captions through
    high_t5 if it has its own text encoder.
    Returns x0 [B, C, F, h, w] and {sigma: state} for each sigma in keep."""
    b = len(captions)
    cfg = dit.cfg
    x = noise if noise is not None else torch.randn(b, cfg.in_dim, frames, 16, 16, generator=gen)
    def cfg_text(enc):   # the captions' embeddings, then as many empty ones (cfg_velocity's order)
        return torch.cat([nets.encode_text(enc, captions), nets.encode_text(enc, [""] * b)])
    text = cfg_text(t5)
    high_text = text if high_t5 is None else cfg_text(high_t5)
    kept = {}
    sig = teacher_sigmas(steps, keep)
    if start < 1:
        sig = [start] + [s for s in sig if s < start - 1e-6]
    for s, s_next in zip(sig[:-1], sig[1:]):
        if any(abs(s - k) < 1e-6 for k in keep):
            kept[round(s, 6)] = x.clone()
        t = torch.full((b, frames), s * 1000)
        v = cfg_velocity(dit, x, t, text, guidance)
        if high is not None and s > high_above:
            vh = cfg_velocity(high, x, t, high_text, guidance)
            v = vh if where is None else v + where(x - s * vh) * (vh - v)
        x = x + (s_next - s) * v
    return x, kept


def cfg_velocity(dit, x, t, text, guidance):
    """The CFG velocity, uncond + guidance·(cond - uncond), at timesteps t [B, F]; text holds the captions'
    embeddings, then as many empty ones."""
    b = x.shape[0]
    v = nets.dit_forward(dit, torch.cat([x, x]), torch.cat([t, t]), text, None)
    return v[b:] + guidance * (v[:b] - v[b:])


def rollout(dit, text, chunks: int, schedule, context: str = "reuse", context_t: float = 0.0, gen=None,
            grad_last_step=False, window: int = nets.TRAIN_FRAMES, noise=None, grad_from: int = 0, sink: int = 0,
            exit_step: int | None = None):
    """The student's stream, as the Java engine runs it: chunk k denoises with steps_for(schedule, k) over a
    KV cache of the earlier chunks (the last `window` frames, this chunk included, of which the first `sink`
    frames of the video stay for good, as the Java KvCache evicts); its x0 after the last
    step is the output. context: "reuse" (the cache keeps the K/V written by the chunk's last step, from its
    partially noisy input) or "reencode" (one more pass writes them from the finished chunk re-noised to
    context_t). With grad_last_step, each chunk's last network call carries gradient (the rest run without).
    exit_step (training, Self-Forcing's random exit): each chunk's output is instead the x0 of its step
    min(exit_step, steps - 1), and that call carries the gradient; the chunk's later steps still run, without
    gradient, so the next chunk's cache is written as inference writes it. The steps before the last then get
    the distribution-matching signal too, and a chunk's first step is where its motion is decided.
    noise(k, i) -> [B, C, 3, h, w] gives draw i of chunk k (default: from gen).
    Returns the output latents [B, C, chunks·3, h, w] and the NFE count."""
    b, cfg = text.shape[0], dit.cfg
    if noise is None:
        noise = lambda k, i: torch.randn(b, cfg.in_dim, nets.CHUNK, 16, 16, generator=gen)  # noqa: E731
    cached, outs, nfe = [], [], 0      # cached: per chunk, per block (K, V)
    if sink % nets.CHUNK or sink + nets.CHUNK > window:
        raise ValueError(f"sink of {sink} frames: whole chunks, leaving room for one in the window of {window}")
    held = sink // nets.CHUNK                      # sink chunks
    keep = (window - sink) // nets.CHUNK - 1       # recent earlier chunks the window holds next to the current one
    for k in range(chunks):
        steps = steps_for(schedule, k)
        ctx = cached[:held] + (cached[held:][-keep:] if keep > 0 else [])
        cache = [(torch.cat([c[i][0] for c in ctx], 2), torch.cat([c[i][1] for c in ctx], 2))
                 for i in range(cfg.num_layers)] if ctx else None
        x = noise(k, 0)
        exit_i = len(steps) - 1 if exit_step is None else min(exit_step, len(steps) - 1)
        for i, t in enumerate(steps):
            last = i == len(steps) - 1
            written = []
            with torch.set_grad_enabled(grad_last_step and i == exit_i and k >= grad_from):
                v = nets.dit_forward(dit, x, torch.full((b, nets.CHUNK), t, dtype=x.dtype), text, None, cache, nets.CHUNK * k,
                                     written)
                nfe += 1
                x0 = x - (t / 1000) * v
            if i == exit_i:
                chunk_out = x0
            if not last:
                s_next = steps[i + 1] / 1000
                x = (1 - s_next) * x0.detach() + s_next * noise(k, i + 1)
        if context == "reencode":
            sc = context_t / 1000
            xc = (1 - sc) * x0.detach() + sc * noise(k, len(steps))
            written = []
            with torch.no_grad():
                nets.dit_forward(dit, xc, torch.full((b, nets.CHUNK), context_t, dtype=x.dtype), text, None, cache, nets.CHUNK * k,
                                 written)
            nfe += 1
        cached.append([(kk.detach(), vv.detach()) for kk, vv in written])
        outs.append(chunk_out)
    return torch.cat(outs, 2), nfe
