"""A readable PyTorch model of the umT5 encoder as Wan2.1 uses it, the reference for the Java encoder.

Parameter names follow models_t5_umt5-xxl-enc-bf16.pth: token_embedding.weight; per block N
blocks.N.norm1.weight, blocks.N.attn.{q,k,v,o}.weight (no biases), blocks.N.norm2.weight,
blocks.N.ffn.gate.0.weight, blocks.N.ffn.fc1.weight, blocks.N.ffn.fc2.weight,
blocks.N.pos_embedding.embedding.weight [buckets, heads] (umT5: a relative-position bias per layer);
norm.weight.

Math: RMS norm x·rsqrt(mean(x²) + 1e-6)·w; attention logits q·kᵀ (T5 does not scale) + relative bias,
padded keys masked; FFN fc2(fc1(x) · gelu_tanh(gate(x))); pre-norm residuals; a final norm.
The whole padded sequence is encoded with a key mask, as Wan does; positions past the prompt are then
zeroed (Wan cuts them off and the DiT pads with zeros).
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class T5Config:
    vocab: int = 256384
    dim: int = 4096
    dim_attn: int = 4096
    dim_ffn: int = 10240
    num_heads: int = 64
    num_layers: int = 24
    num_buckets: int = 32
    max_distance: int = 128
    text_len: int = 512
    eps: float = 1e-6


UMT5_XXL = T5Config()


def relative_bucket(rel, num_buckets, max_distance):
    """Bidirectional T5 buckets of rel = key position - query position (an integer tensor)."""
    half = num_buckets // 2
    bucket = (rel > 0).long() * half
    dist = rel.abs()
    exact = half // 2
    # log-spaced buckets for distances >= exact, saturating at the last one
    far = exact + (torch.log(dist.float().clamp(min=1) / exact) / math.log(max_distance / exact)
                   * (half - exact)).long()
    far = far.clamp(max=half - 1)
    return bucket + torch.where(dist < exact, dist, far)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.c = c
        self.norm1 = RMSNorm(c.dim, c.eps)
        self.attn = nn.ModuleDict({n: nn.Linear(c.dim if n != "o" else c.dim_attn,
                                                c.dim_attn if n != "o" else c.dim, bias=False) for n in "qkvo"})
        self.norm2 = RMSNorm(c.dim, c.eps)
        self.ffn = nn.ModuleDict({"gate": nn.ModuleDict({"0": nn.Linear(c.dim, c.dim_ffn, bias=False)}),
                                  "fc1": nn.Linear(c.dim, c.dim_ffn, bias=False),
                                  "fc2": nn.Linear(c.dim_ffn, c.dim, bias=False)})
        self.pos_embedding = nn.ModuleDict({"embedding": nn.Embedding(c.num_buckets, c.num_heads)})

    def position_bias(self, n):
        pos = torch.arange(n)
        buckets = relative_bucket(pos[None, :] - pos[:, None], self.c.num_buckets, self.c.max_distance)
        return self.pos_embedding["embedding"](buckets).permute(2, 0, 1)  # [heads, n, n]

    def forward(self, x, key_mask):
        n, heads = x.shape[0], self.c.num_heads
        h = self.norm1(x)
        q, k, v = (self.attn[m](h).view(n, heads, -1).transpose(0, 1) for m in "qkv")
        logits = q @ k.transpose(1, 2) + self.position_bias(n)
        logits = logits.masked_fill(~key_mask[None, None, :], float("-inf"))
        a = (torch.softmax(logits, -1) @ v).transpose(0, 1).reshape(n, -1)
        x = x + self.attn["o"](a)
        h = self.norm2(x)
        f = self.ffn
        return x + f["fc2"](f["fc1"](h) * F.gelu(f["gate"]["0"](h), approximate="tanh"))


class T5Encoder(nn.Module):
    def __init__(self, c: T5Config):
        super().__init__()
        self.c = c
        self.token_embedding = nn.Embedding(c.vocab, c.dim)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.num_layers))
        self.norm = RMSNorm(c.dim, c.eps)

    def forward(self, ids, length, trace=None):
        """ids [text_len] (padded), length = real tokens -> context [text_len, dim], rows >= length zero."""
        mask = torch.arange(ids.shape[0]) < length
        x = self.token_embedding(ids)
        for i, b in enumerate(self.blocks):
            x = b(x, mask)
            if trace is not None:
                trace[f"blocks.{i}.out"] = x[:length]
        x = self.norm(x)
        return x * mask[:, None].to(x.dtype)
