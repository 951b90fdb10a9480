"""Independent reference of a causal Wan2.1 T2V DiT (CausVid / Self-Forcing style) with a chunk KV cache.

Parameter names match Wan2.1's WanModel exactly. Written for clarity, not speed; run it in float64.
Layouts: a latent chunk is [C, F, H, W]; tokens are [L, D] ordered (f, h, w); heads are [L, heads, head_dim].
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class WanConfig:
    in_dim: int = 16
    out_dim: int = 16
    dim: int = 64
    ffn_dim: int = 160
    num_heads: int = 2
    num_layers: int = 2
    text_dim: int = 32
    text_len: int = 8
    freq_dim: int = 32
    eps: float = 1e-6
    patch: tuple = (1, 2, 2)
    qk_norm: bool = True
    cross_attn_norm: bool = True

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    def to_json(self) -> str:
        d = asdict(self)
        d["patch"] = list(self.patch)
        return json.dumps(d, sort_keys=True)


# ----------------------------------------------------------------------------------------------
# small building blocks

class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * weight, over the last axis (the full model dim D)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def layer_norm(x, eps):
    """LayerNorm without affine parameters (norm1, norm2, head.norm)."""
    return F.layer_norm(x, (x.shape[-1],), eps=eps)


def sinusoidal(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """[n] -> [n, dim]: cat(cos(pos * w), sin(pos * w)), w_i = 10000^(-i/half), in float64."""
    half = dim // 2
    pos = pos.to(torch.float64)
    w = torch.pow(torch.tensor(10000.0, dtype=torch.float64),
                  -torch.arange(half, dtype=torch.float64) / half)
    ang = pos[:, None] * w[None, :]
    return torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)


def rope_inv_freqs(head_dim: int) -> list[torch.Tensor]:
    """Inverse frequencies of the three RoPE axes (time, height, width), float64.

    Wan: rope_params(1024, d - 4*(d//6)), rope_params(1024, 2*(d//6)) twice, where
    rope_params(n, m) uses 1 / 10000^(arange(0, m, 2) / m).
    """
    d = head_dim
    dims = [d - 4 * (d // 6), 2 * (d // 6), 2 * (d // 6)]
    return [1.0 / torch.pow(torch.tensor(10000.0, dtype=torch.float64),
                            torch.arange(0, m, 2, dtype=torch.float64) / m) for m in dims]


def rope_angles(head_dim: int, frames: int, h: int, w: int, frame_offset: int) -> torch.Tensor:
    """Rotation angle per token and complex pair: [frames*h*w, head_dim/2], tokens ordered (f, h, w)."""
    ft, fh, fw = rope_inv_freqs(head_dim)
    pf = torch.arange(frame_offset, frame_offset + frames, dtype=torch.float64)
    ph = torch.arange(h, dtype=torch.float64)
    pw = torch.arange(w, dtype=torch.float64)
    at = (pf[:, None] * ft[None, :])[:, None, None, :].expand(frames, h, w, -1)
    ah = (ph[:, None] * fh[None, :])[None, :, None, :].expand(frames, h, w, -1)
    aw = (pw[:, None] * fw[None, :])[None, None, :, :].expand(frames, h, w, -1)
    return torch.cat([at, ah, aw], dim=-1).reshape(frames * h * w, -1)


def apply_rope(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x [L, heads, head_dim]; pair j = elements (2j, 2j+1) is rotated by angles[:, j]."""
    cos = torch.cos(angles)[:, None, :].to(x.dtype)
    sin = torch.sin(angles)[:, None, :].to(x.dtype)
    re, im = x[..., 0::2], x[..., 1::2]
    out = torch.stack([re * cos - im * sin, re * sin + im * cos], dim=-1)
    return out.flatten(-2)


def attention(q, k, v, mask=None):
    """q [Lq, heads, hd], k/v [Lk, heads, hd] -> [Lq, heads*hd]; mask [Lq, Lk] bool (True = attend)."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    s = torch.einsum("qhd,khd->hqk", q, k) * scale
    if mask is not None:
        s = s.masked_fill(~mask[None], float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.einsum("hqk,khd->qhd", p, v).flatten(1)


# ----------------------------------------------------------------------------------------------
# KV cache

class KVCache:
    """Per-block self-attention cache holding roped K and V per latent frame.

    capacity: frames kept (None = unbounded); sink: the first `sink` frames are never evicted.
    Eviction happens when a NEW chunk starts (its first forward): if cached + new > capacity,
    the oldest frames right after the sink are dropped (FIFO). Any forward of a chunk whose
    frames are already cached overwrites those frames' K/V.
    """

    def __init__(self, num_layers: int, capacity: int | None = None, sink: int = 0):
        if capacity is not None:
            assert capacity > sink
        self.capacity = capacity
        self.sink = sink
        self.frames: list[int] = []  # absolute frame indices, in storage order
        self.k = [dict() for _ in range(num_layers)]  # layer -> {frame: [tokens, heads, hd]}
        self.v = [dict() for _ in range(num_layers)]

    def begin_chunk(self, frame_offset: int, num_frames: int) -> None:
        new = list(range(frame_offset, frame_offset + num_frames))
        if all(f in self.frames for f in new):
            return  # another pass over a chunk that is already cached: overwrite in place
        assert not any(f in self.frames for f in new), "chunk partially cached"
        if self.capacity is not None:
            assert self.sink + num_frames <= self.capacity
            excess = len(self.frames) + num_frames - self.capacity
            if excess > 0:
                dropped = self.frames[self.sink:self.sink + excess]
                self.frames = self.frames[:self.sink] + self.frames[self.sink + excess:]
                for layer_k, layer_v in zip(self.k, self.v):
                    for f in dropped:
                        del layer_k[f], layer_v[f]
        self.frames.extend(new)

    def write(self, layer: int, frame_offset: int, nf: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """k, v: [nf * tokens_per_frame, heads, hd] of the chunk starting at frame_offset."""
        tpf = k.shape[0] // nf
        for i in range(nf):
            self.k[layer][frame_offset + i] = k[i * tpf:(i + 1) * tpf]
            self.v[layer][frame_offset + i] = v[i * tpf:(i + 1) * tpf]

    def read(self, layer: int):
        return (torch.cat([self.k[layer][f] for f in self.frames]),
                torch.cat([self.v[layer][f] for f in self.frames]))


class ContextKV:
    """Per-prompt cross-attention keys/values (and the text_embedding output)."""

    def __init__(self, text: torch.Tensor, kv: list):
        self.text = text  # [text_len, D]
        self.kv = kv      # per block: (k, v) each [text_len, heads, hd]


# ----------------------------------------------------------------------------------------------
# modules (names follow Wan2.1)

class SelfAttention(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        d = cfg.dim
        self.heads, self.hd = cfg.num_heads, cfg.head_dim
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.norm_q = RMSNorm(d, cfg.eps)
        self.norm_k = RMSNorm(d, cfg.eps)

    def project(self, x, angles):
        L = x.shape[0]
        q = self.norm_q(self.q(x)).view(L, self.heads, self.hd)
        k = self.norm_k(self.k(x)).view(L, self.heads, self.hd)
        v = self.v(x).view(L, self.heads, self.hd)
        return apply_rope(q, angles), apply_rope(k, angles), v


class CrossAttention(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        d = cfg.dim
        self.heads, self.hd = cfg.num_heads, cfg.head_dim
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.norm_q = RMSNorm(d, cfg.eps)
        self.norm_k = RMSNorm(d, cfg.eps)

    def context_kv(self, c):
        T = c.shape[0]
        return (self.norm_k(self.k(c)).view(T, self.heads, self.hd), self.v(c).view(T, self.heads, self.hd))

    def forward(self, x, kv):
        q = self.norm_q(self.q(x)).view(x.shape[0], self.heads, self.hd)
        return self.o(attention(q, kv[0], kv[1]))


class Block(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        d = cfg.dim
        self.eps = cfg.eps
        self.self_attn = SelfAttention(cfg)
        self.cross_attn = CrossAttention(cfg)
        self.norm3 = nn.LayerNorm(d, eps=cfg.eps, elementwise_affine=True)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(approximate="tanh"),
                                 nn.Linear(cfg.ffn_dim, d))
        self.modulation = nn.Parameter(torch.zeros(1, 6, d))

    def forward(self, x, e0, tpf, angles, ctx_kv, attend):
        """x [L, D]; e0 [F, 6, D]; attend(q, k, v) -> [L, D] does the self-attention core."""
        m = (self.modulation + e0)                         # [F, 6, D]
        m = m.repeat_interleave(tpf, dim=0)                # [L, 6, D] (token r -> frame r // tpf)
        m0, m1, m2, m3, m4, m5 = m.unbind(1)
        h = layer_norm(x, self.eps) * (1 + m1) + m0
        q, k, v = self.self_attn.project(h, angles)
        x = x + self.self_attn.o(attend(q, k, v)) * m2
        x = x + self.cross_attn(self.norm3(x), ctx_kv)
        h = layer_norm(x, self.eps) * (1 + m4) + m3
        x = x + self.ffn(h) * m5
        return x


class Head(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        self.eps = cfg.eps
        self.head = nn.Linear(cfg.dim, math.prod(cfg.patch) * cfg.out_dim)
        self.modulation = nn.Parameter(torch.zeros(1, 2, cfg.dim))

    def forward(self, x, e, tpf):
        m = (self.modulation + e[:, None, :]).repeat_interleave(tpf, dim=0)  # [L, 2, D]
        shift, scale = m[:, 0], m[:, 1]
        return self.head(layer_norm(x, self.eps) * (1 + scale) + shift)


class CausalWanDiT(nn.Module):
    def __init__(self, cfg: WanConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, d, kernel_size=cfg.patch, stride=cfg.patch)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"),
                                            nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.head = Head(cfg)

    # -- pieces ---------------------------------------------------------------------------------
    def encode_context(self, ctx: torch.Tensor) -> ContextKV:
        """ctx [text_len, text_dim] (already padded, all tokens attended)."""
        c = self.text_embedding(ctx.to(self.patch_embedding.weight.dtype))
        return ContextKV(c, [b.cross_attn.context_kv(c) for b in self.blocks])

    def new_cache(self, capacity=None, sink=0) -> KVCache:
        return KVCache(self.cfg.num_layers, capacity, sink)

    def _embed(self, latent, timesteps, trace):
        cfg = self.cfg
        dt = self.patch_embedding.weight.dtype
        x = self.patch_embedding(latent.to(dt)[None])[0]         # [D, F, h, w]
        Fn, h, w = x.shape[1:]
        x = x.flatten(1).transpose(0, 1)                         # [L, D], (f, h, w) order
        e = self.time_embedding(sinusoidal(cfg.freq_dim, timesteps).to(dt))   # [F, D]
        e0 = self.time_projection(e)                              # [F, 6D]
        if trace is not None:
            trace["patch_embedding.out"] = x
            trace["time_embedding.out"] = e
            trace["time_projection.out"] = e0
        return x, e, e0.view(Fn, 6, cfg.dim), (Fn, h, w)

    def _unpatchify(self, out, grid):
        Fn, h, w = grid
        pt, ph, pw = self.cfg.patch
        c = self.cfg.out_dim
        u = out.view(Fn, h, w, pt, ph, pw, c)
        u = u.permute(6, 0, 3, 1, 4, 2, 5)  # == einsum('fhwpqrc->cfphqwr')
        return u.reshape(c, Fn * pt, h * ph, w * pw)

    def _run(self, latent, timesteps, ctx: ContextKV, frame_offset, attend_for_layer, trace):
        x, e, e0, grid = self._embed(latent, timesteps, trace)
        Fn, h, w = grid
        tpf = h * w
        angles = rope_angles(self.cfg.head_dim, Fn, h, w, frame_offset)
        for i, blk in enumerate(self.blocks):
            x = blk(x, e0, tpf, angles, ctx.kv[i], attend_for_layer(i))
            if trace is not None:
                trace[f"blocks.{i}.out"] = x
        out = self.head(x, e, tpf)
        if trace is not None:
            trace["head.out"] = out
        return self._unpatchify(out, grid)

    # -- public API -----------------------------------------------------------------------------
    def forward_chunk(self, latent, timesteps, context_kv: ContextKV, kv_cache: KVCache,
                      frame_offset: int, trace: dict | None = None):
        """latent [C, F, H, W], timesteps [F] -> flow [C, F, H, W]. Writes this chunk's K/V into kv_cache."""
        Fn = latent.shape[1]
        kv_cache.begin_chunk(frame_offset, Fn)

        def attend_for_layer(i):
            def attend(q, k, v):
                kv_cache.write(i, frame_offset, Fn, k, v)
                K, V = kv_cache.read(i)
                return attention(q, K, V)
            return attend

        return self._run(latent, timesteps, context_kv, frame_offset, attend_for_layer, trace)

    def forward_masked(self, latent, timesteps, context_kv: ContextKV, frame_mask: torch.Tensor):
        """Whole sequence in one pass (frame_offset 0) with a frame-level mask [F, F] (True = may attend).
        Used by the self-check: a block-causal mask must reproduce the chunked KV-cache run."""
        tpf = (latent.shape[2] // self.cfg.patch[1]) * (latent.shape[3] // self.cfg.patch[2])
        mask = frame_mask.repeat_interleave(tpf, 0).repeat_interleave(tpf, 1)
        return self._run(latent, timesteps, context_kv, 0,
                         lambda i: (lambda q, k, v: attention(q, k, v, mask)), None)


# ----------------------------------------------------------------------------------------------
# random init used by the goldens

def init_random_(model: CausalWanDiT, seed: int) -> None:
    """Seeded init: Linear W ~ N(0, 1/fan_in), bias ~ N(0, 0.02^2); RMS/LayerNorm weight 1 + 0.1 N(0,1);
    norm3.bias 0.02 N(0,1); modulations N(0,1)/sqrt(D); patch_embedding W ~ N(0, 1/(C*prod(patch)))."""
    g = torch.Generator().manual_seed(seed)
    D = model.cfg.dim
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            r = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if name.endswith("modulation"):
                val = r / math.sqrt(D)
            elif "norm" in name and name.endswith(".weight"):
                val = 1 + 0.1 * r
            elif name.endswith("norm3.bias"):
                val = 0.02 * r
            elif name.endswith(".bias"):
                val = 0.02 * r
            elif name.endswith(".weight"):
                fan_in = math.prod(p.shape[1:])
                val = r / math.sqrt(fan_in)
            else:
                raise ValueError(name)
            p.copy_(val.to(p.dtype))
