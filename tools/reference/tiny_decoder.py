"""A readable PyTorch model of Diagonal's tiny latent decoder, the reference the Java TinyDecoder is tested
against. It is TAEHV-shaped (a few plain convs per resolution, frame memory instead of 3D convs): it
decodes the same latents as the Wan VAE decoder, to the same frames (latent 0 -> frame 0, every later latent
-> temporal-scale frames), at a fraction of the cost, and is trained to imitate that decoder
(tools/train/decoder.py).

Network, per resolution level i (widths[i] channels; the first level is the latent grid):
  conv_in             1x3x3 conv, z_dim -> widths[0], SiLU
  levels.i.blocks.b   memory block: h = SiLU(mix(past frame, frame)), a 2x3x3 causal conv, so each frame also
                      sees the one before it; h = conv(h), 1x3x3; out = SiLU(x + h)
  levels.i.grow       (where temporal_upsample[i]) a 1x1 conv to 2 x widths[i] channels whose halves become two
                      frames; the stream's first frame passes unchanged, as Wan's time upsampler does
  levels.i.up         nearest 2x in space, then a 1x3x3 conv widths[i] -> widths[i+1], SiLU
  conv_out            1x3x3 conv, widths[-1] -> 3
Every conv is a Conv3d weight [Cout, Cin, kt, kh, kw] with a bias, so the Java side loads it with the VAE's
conv code. Layouts: latents [C, T, h, w] (no batch), normalized as the DiT makes them; video [3, 1 +
s(T-1), H, W] for temporal scale s, about [-1, 1].
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclasses.dataclass(frozen=True)
class TinyDecoderConfig:
    z_dim: int = 8
    widths: tuple = (48, 32, 16)
    blocks: tuple = (2, 1, 0)
    temporal_upsample: tuple = (True, False)

    def __post_init__(self):
        assert len(self.widths) == len(self.blocks) == len(self.temporal_upsample) + 1


def conv(cin, cout, kt=1, k=3):
    return nn.Conv3d(cin, cout, (kt, k, k), padding=(0, k // 2, k // 2))


class MemoryBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.mix = conv(c, c, kt=2)
        self.conv = conv(c, c)

    def forward(self, x, past=None):
        """x [B, C, T, H, W]; past: the frame before x ([B, C, 1, H, W]) or None for zeros."""
        if past is None:
            past = torch.zeros_like(x[:, :, :1])
        h = F.silu(self.mix(torch.cat([past, x], 2)))
        return F.silu(x + self.conv(h))


class Level(nn.Module):
    def __init__(self, cfg: TinyDecoderConfig, i: int):
        super().__init__()
        c = cfg.widths[i]
        self.blocks = nn.ModuleList(MemoryBlock(c) for _ in range(cfg.blocks[i]))
        last = i == len(cfg.widths) - 1
        self.grow = conv(c, 2 * c, k=1) if not last and cfg.temporal_upsample[i] else None
        self.up = None if last else conv(c, cfg.widths[i + 1])

    def grow_time(self, x, starts_video):
        """Every frame but the video's first becomes two."""
        head, rest = (x[:, :, :1], x[:, :, 1:]) if starts_video else (x[:, :, :0], x)
        if rest.shape[2] == 0:
            return head
        b, c, t, h, w = rest.shape
        two = self.grow(rest).reshape(b, 2, c, t, h, w).permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)
        return torch.cat([head, two], 2)

    def upsample(self, x):
        b, c, t, h, w = x.shape
        y = F.interpolate(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), scale_factor=2.0, mode="nearest")
        return F.silu(self.up(y.reshape(b, t, c, 2 * h, 2 * w).permute(0, 2, 1, 3, 4)))


class TinyDecoder(nn.Module):
    def __init__(self, cfg: TinyDecoderConfig = TinyDecoderConfig(), mean=None, std=None):
        super().__init__()
        self.cfg = cfg
        self.conv_in = conv(cfg.z_dim, cfg.widths[0])
        self.levels = nn.ModuleList(Level(cfg, i) for i in range(len(cfg.widths)))
        self.conv_out = conv(cfg.widths[-1], 3)
        self.register_buffer("mean", torch.tensor(mean if mean is not None else [0.0] * cfg.z_dim))
        self.register_buffer("std", torch.tensor(std if std is not None else [1.0] * cfg.z_dim))

    def denormalize(self, x):
        """x [B, C, T, h, w]: z * std + mean per channel, as the Wan decoder starts."""
        return x * self.std.view(1, -1, 1, 1, 1).to(x.dtype) + self.mean.view(1, -1, 1, 1, 1).to(x.dtype)

    def forward(self, z, starts_video=True):
        """z [C, T, h, w] or [B, C, T, h, w] (normalized) -> video [(B,) 3, 1 + s(T-1), H, W], a whole video;
        with starts_video=False the latents continue a video (memory starts from zeros), giving s·T frames."""
        batched = z.dim() == 5
        x = z if batched else z[None]
        x = F.silu(self.conv_in(self.denormalize(x)))
        for level in self.levels:
            for block in level.blocks:
                x = block(x)
            if level.grow is not None:
                x = level.grow_time(x, starts_video)
            if level.up is not None:
                x = level.upsample(x)
        out = self.conv_out(x)
        return out if batched else out[0]


def decode_streaming(model: TinyDecoder, z, frames_per_call=1):
    """The same decode a call at a time, each memory block carrying its last input frame between calls:
    what the Java stream does. test_reference.py-style check that it equals the whole pass."""
    pasts = {}
    outs = []
    for start in range(0, z.shape[1], frames_per_call):
        x = z[None, :, start:start + frames_per_call]
        x = F.silu(model.conv_in(model.denormalize(x)))
        for li, level in enumerate(model.levels):
            for bi, block in enumerate(level.blocks):
                key = (li, bi)
                y = block(x, pasts.get(key))
                pasts[key] = x[:, :, -1:]
                x = y
            if level.grow is not None:
                x = level.grow_time(x, start == 0)
            if level.up is not None:
                x = level.upsample(x)
        outs.append(model.conv_out(x)[0])
    return torch.cat(outs, 1)


def init_random_(model: TinyDecoder, generator: torch.Generator):
    """Fan-in scaled normal weights and small biases, so activations stay O(1) through the stack."""
    for name, p in model.named_parameters():
        if p.dim() > 1:
            fan_in = p[0].numel()
            p.data = torch.randn(p.shape, generator=generator) / fan_in ** 0.5
        else:
            p.data = 0.1 * torch.randn(p.shape, generator=generator)
