"""Batched training forwards over the reference modules (tools/reference), so every parameter keeps the
name and layout the Java engine loads: the DiT (wan_causal.CausalWanDiT) and the byte-level T5
(t5_encoder.T5Encoder). The reference modules run one sample at a time; training needs batches.

Default model sizes (weights/): DiT dim 128, 4 blocks, 4 heads of 32, FFN 384, the VAE's latent channels;
T5 over UTF-8 bytes (vocab 259: pad 0, eos 1, unk 2, byte b -> b + 3), dim 64, 2 blocks, 4 heads, 128 tokens.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import common  # noqa: F401  (puts tools/reference on the path)
import vae
from t5_encoder import T5Config, T5Encoder
from wan_causal import CausalWanDiT, WanConfig, apply_rope, layer_norm, rope_angles, sinusoidal

T5 = T5Config(vocab=259, dim=64, dim_attn=64, dim_ffn=128, num_heads=4, num_layers=2, num_buckets=32,
              max_distance=128, text_len=128)
DIT = WanConfig(in_dim=vae.CONFIG.z_dim, out_dim=vae.CONFIG.z_dim, dim=128, ffn_dim=384, num_heads=4, num_layers=4,
                text_dim=64, text_len=128, freq_dim=64)
CHUNK = 3          # latent frames per chunk
TRAIN_FRAMES = 9   # latent frames per training clip (3 chunks; the Java window at inference)


def byte_ids(prompt: str, text_len: int = T5.text_len):
    """The Java ByteTokenizer's ids: UTF-8 bytes + 3, then EOS (1), truncated keeping the EOS."""
    ids = [b + 3 for b in prompt.encode("utf-8")][:text_len - 1] + [1]
    return ids


def encode_text(t5: T5Encoder, prompts: list[str]) -> torch.Tensor:
    """[B, text_len, dim], padding rows zero (as Wan and the Java encoder give them). Same math as
    T5Encoder.forward, batched: padded keys are masked and T5's position bias is relative, so a prompt's
    rows do not depend on how much padding follows it, and only the longest prompt's length is encoded (the
    per-prompt reference over 128 rows cost as much as the teacher's DiT step)."""
    cfg = t5.c
    ids = [byte_ids(p) for p in prompts]
    n = max(len(i) for i in ids)
    padded = torch.zeros(len(ids), n, dtype=torch.long)
    for row, i in enumerate(ids):
        padded[row, :len(i)] = torch.tensor(i)
    mask = torch.arange(n)[None, :] < torch.tensor([len(i) for i in ids])[:, None]     # [B, n]
    x = t5.token_embedding(padded)
    b, heads = len(ids), cfg.num_heads
    for blk in t5.blocks:
        h = blk.norm1(x)
        q, k, v = (blk.attn[m](h).view(b, n, heads, -1).transpose(1, 2) for m in "qkv")
        logits = q @ k.transpose(2, 3) + blk.position_bias(n)[None]
        logits = logits.masked_fill(~mask[:, None, None, :], float("-inf"))
        x = x + blk.attn["o"]((torch.softmax(logits, -1) @ v).transpose(1, 2).reshape(b, n, -1))
        h = blk.norm2(x)
        f = blk.ffn
        x = x + f["fc2"](f["fc1"](h) * F.gelu(f["gate"]["0"](h), approximate="tanh"))
    x = t5.norm(x) * mask[..., None].to(x.dtype)
    return F.pad(x, (0, 0, 0, cfg.text_len - n))


def encode_text_one_by_one(t5: T5Encoder, prompts: list[str]) -> torch.Tensor:
    """encode_text's reference: each prompt through T5Encoder.forward alone, over all text_len rows."""
    out = []
    for p in prompts:
        ids = byte_ids(p)
        padded = torch.zeros(T5.text_len, dtype=torch.long)
        padded[:len(ids)] = torch.tensor(ids)
        out.append(t5(padded, len(ids)))
    return torch.stack(out)


def frame_mask(frames: int, causal: bool) -> torch.Tensor | None:
    """Chunk-causal frame mask [F, F] (True = may attend), or None for full attention."""
    if not causal:
        return None
    c = torch.arange(frames) // CHUNK
    return c[:, None] >= c[None, :]


def dit_forward(model: CausalWanDiT, latent: torch.Tensor, timesteps: torch.Tensor, text: torch.Tensor,
                mask: torch.Tensor | None, cache: list | None = None, frame_offset: int = 0,
                written: list | None = None) -> torch.Tensor:
    """latent [B, C, F, H, W], timesteps [B, F] (network scale, 0..1000), text [B, T, text_dim],
    mask [F, F] frame-level or None -> flow [B, C, F, H, W]. Same math as CausalWanDiT._run.

    KV-cache use, as the Java engine streams: cache holds per block the roped (K, V) [B, heads, L, hd] of the
    earlier frames this chunk sees (prepended, all visible); frame_offset is the chunk's first frame for RoPE;
    written, when a list, receives this call's per-block (K, V) for the caller to cache."""
    cfg = model.cfg
    b = latent.shape[0]
    x = model.patch_embedding(latent)                            # [B, D, F, h, w]
    fn, h, w = x.shape[2:]
    tpf = h * w
    x = x.flatten(2).transpose(1, 2)                             # [B, L, D]
    e = model.time_embedding(sinusoidal(cfg.freq_dim, timesteps.flatten()).to(latent.dtype)).view(b, fn, -1)
    e0 = model.time_projection(e).view(b, fn, 6, cfg.dim)
    ctx = model.text_embedding(text)
    angles = rope_angles(cfg.head_dim, fn, h, w, frame_offset)
    attn_mask = None if mask is None else mask.repeat_interleave(tpf, 0).repeat_interleave(tpf, 1)
    heads, hd = cfg.num_heads, cfg.head_dim
    for i, blk in enumerate(model.blocks):
        m = (blk.modulation[None] + e0).repeat_interleave(tpf, dim=1)      # [B, L, 6, D]
        m0, m1, m2, m3, m4, m5 = m.unbind(2)
        sa = blk.self_attn
        hh = layer_norm(x, cfg.eps) * (1 + m1) + m0
        q = apply_rope(sa.norm_q(sa.q(hh)).view(b, -1, heads, hd), angles)
        k = apply_rope(sa.norm_k(sa.k(hh)).view(b, -1, heads, hd), angles)
        k, v = k.transpose(1, 2), sa.v(hh).view(b, -1, heads, hd).transpose(1, 2)
        if written is not None:
            written.append((k, v))
        if cache is not None:
            k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, attn_mask=attn_mask)
        x = x + sa.o(a.transpose(1, 2).flatten(2)) * m2
        ca = blk.cross_attn
        cq = ca.norm_q(ca.q(blk.norm3(x))).view(b, -1, heads, hd).transpose(1, 2)
        ck = ca.norm_k(ca.k(ctx)).view(b, -1, heads, hd).transpose(1, 2)
        cv = ca.v(ctx).view(b, -1, heads, hd).transpose(1, 2)
        x = x + ca.o(F.scaled_dot_product_attention(cq, ck, cv).transpose(1, 2).flatten(2))
        hh = layer_norm(x, cfg.eps) * (1 + m4) + m3
        x = x + blk.ffn(hh) * m5
    hm = (model.head.modulation[None] + e[:, :, None, :]).repeat_interleave(tpf, dim=1)   # [B, L, 2, D]
    out = model.head.head(layer_norm(x, cfg.eps) * (1 + hm[:, :, 1]) + hm[:, :, 0])
    pt, ph, pw = cfg.patch
    u = out.view(b, fn, h, w, pt, ph, pw, cfg.out_dim).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return u.reshape(b, cfg.out_dim, fn * pt, h * ph, w * pw)


def new_dit(seed: int = 0) -> CausalWanDiT:
    """Initialised as DiT does: Xavier linears, zero modulation outputs and head, so each block starts as
    the identity and the first steps train the embeddings."""
    torch.manual_seed(seed)
    m = CausalWanDiT(DIT)
    for name, p in m.named_parameters():
        with torch.no_grad():
            if p.dim() >= 2 and not name.endswith("modulation"):
                torch.nn.init.xavier_uniform_(p.view(p.shape[0], -1))
            elif name.endswith("bias"):
                p.zero_()
            elif name.endswith("modulation"):
                p.normal_(0, 1 / math.sqrt(DIT.dim))
    with torch.no_grad():
        m.time_projection[1].weight.mul_(0.1)
        m.head.head.weight.zero_()
    return m


def dit_from_checkpoint(ck: dict, where: str = "checkpoint") -> CausalWanDiT:
    """The DiT a checkpoint holds, in eval mode: a teacher's EMA weights (ck["ema"]["dit"]) or a student's
    (ck["dit"])."""
    weights = ck["ema"] if "ema" in ck else ck
    if "dit" not in weights:
        raise SystemExit(f"{where}: holds no 'dit' weights (keys: {sorted(ck)})")
    m = new_dit()
    m.load_state_dict(weights["dit"])
    return m.eval()


def teacher_from_checkpoint(path: str):
    """A teacher checkpoint as the probes read it: (the checkpoint dict, for its step; its EMA DiT in eval mode;
    its EMA text encoder)."""
    ck = common.load_checkpoint(path)
    if ck is None:
        raise SystemExit(f"{path}: no such checkpoint")
    t5 = new_t5()
    t5.load_state_dict(ck["ema"]["t5"])
    return ck, dit_from_checkpoint(ck, path), t5


def new_t5(seed: int = 0) -> T5Encoder:
    torch.manual_seed(seed)
    t = T5Encoder(T5)
    with torch.no_grad():
        for name, p in t.named_parameters():
            if "norm" in name:
                p.fill_(1.0)
            elif "embedding" in name:
                p.normal_(0, 1.0)
            else:
                p.normal_(0, 1 / math.sqrt(p.shape[1]))
    return t
