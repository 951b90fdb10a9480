"""A readable PyTorch model of the Wan2.1 VAE *decoder*, the reference the Java decoder is tested against.

Parameter names follow the Wan2.1_VAE checkpoint (conv2.*, decoder.conv1.*, decoder.middle.*,
decoder.upsamples.*, decoder.head.*), so the same safetensors file loads in both.

Unlike Wan's own decode (one latent frame per call, with a per-conv frame cache), this model decodes the
whole latent sequence in one pass, with each causal convolution seeing two zero frames before the first
one. `decode_streaming` is the frame-at-a-time formulation; `test_reference.py` checks the two agree, and the
Java engine (which streams) is checked against the whole-sequence pass.

Layouts: latents [C, T, h, w] (no batch); video [3, 1 + 4(T-1), 8h, 8w] for Wan's config.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Per-channel statistics of Wan2.1's latent space: decode de-normalizes z * std + mean.
WAN_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
            0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
WAN_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
           3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]


@dataclasses.dataclass(frozen=True)
class VaeConfig:
    z_dim: int = 16
    dim: int = 96
    dim_mult: tuple = (1, 2, 4, 4)
    num_res_blocks: int = 2
    # Per upsampling stage (len(dim_mult) - 1 of them), whether it also doubles time. Wan: the encoder's
    # temporal_downsample (False, True, True) reversed.
    temporal_upsample: tuple = (True, True, False)

    def dims(self):
        return [self.dim * u for u in (self.dim_mult[-1],) + tuple(reversed(self.dim_mult))]


WAN_2_1 = VaeConfig()


class CausalConv3d(nn.Module):
    """Conv3d padded with (k_t - 1) zero frames in the past and k/2 zeros around in space."""

    def __init__(self, cin, cout, k):
        super().__init__()
        k = (k, k, k) if isinstance(k, int) else k
        self.k = k
        self.weight = nn.Parameter(torch.empty(cout, cin, *k))
        self.bias = nn.Parameter(torch.empty(cout))

    def forward(self, x, past=None):
        """x [B, C, T, H, W]; past: the frames before x ([B, C, k_t - 1, H, W]) or None for zeros."""
        kt, kh, kw = self.k
        if kt > 1:
            if past is None:
                past = x.new_zeros(x.shape[0], x.shape[1], kt - 1, *x.shape[3:])
            x = torch.cat([past, x], dim=2)
        x = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2, 0, 0))
        return F.conv3d(x, self.weight, self.bias)


class ChannelRMSNorm(nn.Module):
    """Wan's RMS_norm: x / max(||x||_2 over channels, 1e-12) * sqrt(C) * gamma (no bias in the decoder)."""

    def __init__(self, dim, images):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones((dim, 1, 1) if images else (dim, 1, 1, 1)))
        self.scale = math.sqrt(dim)

    def forward(self, x):
        return F.normalize(x, dim=1) * self.scale * self.gamma


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        # Indices match Wan's nn.Sequential (norm, SiLU, conv, norm, SiLU, dropout, conv).
        self.residual = nn.ModuleDict({
            "0": ChannelRMSNorm(cin, images=False), "2": CausalConv3d(cin, cout, 3),
            "3": ChannelRMSNorm(cout, images=False), "6": CausalConv3d(cout, cout, 3)})
        self.shortcut = CausalConv3d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = x if self.shortcut is None else self.shortcut(x)
        r = self.residual
        y = r["2"](F.silu(r["0"](x)))
        y = r["6"](F.silu(r["3"](y)))
        return y + h


class AttentionBlock(nn.Module):
    """Single-head self-attention over the pixels of each frame separately."""

    def __init__(self, dim):
        super().__init__()
        self.norm = ChannelRMSNorm(dim, images=True)
        self.to_qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        qkv = self.to_qkv(self.norm(frames)).reshape(b * t, 3 * c, h * w).transpose(1, 2)
        q, k, v = qkv.split(c, dim=2)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1) @ v
        y = self.proj(att.transpose(1, 2).reshape(b * t, c, h, w))
        return x + y.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)


class Upsample(nn.Module):
    """2x nearest in space then a 3x3 conv halving channels; with `temporal`, first doubles time.

    The time doubling (Wan's upsample3d) maps frame 0 to itself and every later frame i to two frames, the
    two halves of the output channels of a causal (3,1,1) convolution run over frames 1.. only (so its
    history starts from zeros, not from frame 0).
    """

    def __init__(self, dim, temporal):
        super().__init__()
        self.resample = nn.ModuleDict({"1": nn.Conv2d(dim, dim // 2, 3, padding=1)})
        self.time_conv = CausalConv3d(dim, 2 * dim, (3, 1, 1)) if temporal else None

    def double_time(self, rest, past=None):
        """rest: frames after the first [B, C, T, H, W] -> [B, C, 2T, H, W] (pairs interleaved)."""
        b, c, t, h, w = rest.shape
        y = self.time_conv(rest, past).reshape(b, 2, c, t, h, w)
        return torch.stack((y[:, 0], y[:, 1]), dim=3).reshape(b, c, 2 * t, h, w)

    def spatial(self, x):
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        frames = self.resample["1"](F.interpolate(frames, scale_factor=2.0, mode="nearest-exact"))
        return frames.reshape(b, t, c // 2, 2 * h, 2 * w).permute(0, 2, 1, 3, 4)

    def forward(self, x):
        if self.time_conv is not None:
            x = torch.cat([x[:, :, :1], self.double_time(x[:, :, 1:])], dim=2) if x.shape[2] > 1 else x
        return self.spatial(x)


class Decoder(nn.Module):
    def __init__(self, cfg: VaeConfig):
        super().__init__()
        dims = cfg.dims()
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3)
        self.middle = nn.ModuleDict({"0": ResidualBlock(dims[0], dims[0]), "1": AttentionBlock(dims[0]),
                                     "2": ResidualBlock(dims[0], dims[0])})
        ups = {}
        n = 0
        stages = len(cfg.dim_mult)
        for i in range(stages):
            cin, cout = dims[i], dims[i + 1]
            if i > 0:
                cin //= 2  # the previous stage's upsample halved the channels
            for _ in range(cfg.num_res_blocks + 1):
                ups[str(n)] = ResidualBlock(cin, cout)
                n += 1
                cin = cout
            if i < stages - 1:
                ups[str(n)] = Upsample(cout, cfg.temporal_upsample[i])
                n += 1
        self.upsamples = nn.ModuleDict(ups)
        self.head = nn.ModuleDict({"0": ChannelRMSNorm(dims[-1], images=False), "2": CausalConv3d(dims[-1], 3, 3)})

    def forward(self, x):
        x = self.conv1(x)
        for m in self.middle.values():
            x = m(x)
        for m in self.upsamples.values():
            x = m(x)
        return self.head["2"](F.silu(self.head["0"](x)))


class WanVaeDecoder(nn.Module):
    def __init__(self, cfg: VaeConfig = WAN_2_1, mean=None, std=None):
        super().__init__()
        self.cfg = cfg
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder(cfg)
        self.register_buffer("mean", torch.tensor(mean if mean is not None else WAN_MEAN[:cfg.z_dim]))
        self.register_buffer("std", torch.tensor(std if std is not None else WAN_STD[:cfg.z_dim]))

    def denormalize(self, z):
        shape = (-1, 1, 1, 1)
        return z * self.std.to(z.dtype).view(shape) + self.mean.to(z.dtype).view(shape)

    def forward(self, z):
        """z [C, T, h, w] normalized latents -> video [3, frames, H, W], not clamped."""
        x = self.conv2(self.denormalize(z).unsqueeze(0))
        return self.decoder(x)[0]


class StreamingDecoder:
    """The same decode, a few latent frames per call, carrying each causal conv's last k_t - 1 input frames
    (and each time upsampler's) between calls. Concatenated outputs must equal model(z)."""

    def __init__(self, model: WanVaeDecoder):
        self.model, self.past, self.started = model, {}, False

    def _conv(self, m, x):
        kt = m.k[0]
        if kt == 1:
            return m(x)
        prev = self.past.get(m)
        y = m(x, prev)
        hist = torch.cat([prev if prev is not None else x.new_zeros(*x.shape[:2], kt - 1, *x.shape[3:]), x], 2)
        self.past[m] = hist[:, :, -(kt - 1):]
        return y

    def _res(self, m, x):
        h = x if m.shortcut is None else m.shortcut(x)
        r = m.residual
        y = self._conv(r["2"], F.silu(r["0"](x)))
        return self._conv(r["6"], F.silu(r["3"](y))) + h

    def _up(self, m, x, starts_video):
        if m.time_conv is not None:
            head, rest = (x[:, :, :1], x[:, :, 1:]) if starts_video else (x[:, :, :0], x)
            if rest.shape[2] > 0:
                prev = self.past.get(m)
                doubled = m.double_time(rest, prev)
                hist = torch.cat([prev if prev is not None else rest.new_zeros(*rest.shape[:2], 2, *rest.shape[3:]),
                                  rest], 2)
                self.past[m] = hist[:, :, -2:]
                x = torch.cat([head, doubled], 2)
            else:
                x = head
        return m.spatial(x)

    def decode(self, z):
        """z [C, F, h, w], the next latent frames -> their video frames [3, T, H, W]."""
        model, dec = self.model, self.model.decoder
        starts_video, self.started = not self.started, True
        x = model.conv2(model.denormalize(z).unsqueeze(0))
        x = self._conv(dec.conv1, x)
        x = self._res(dec.middle["0"], x)
        x = dec.middle["1"](x)
        x = self._res(dec.middle["2"], x)
        for m in dec.upsamples.values():
            x = self._res(m, x) if isinstance(m, ResidualBlock) else self._up(m, x, starts_video)
        return self._conv(dec.head["2"], F.silu(dec.head["0"](x)))[0]


def decode_streaming(model: WanVaeDecoder, z, frames_per_call=1):
    """Decodes z in calls of frames_per_call latent frames through one StreamingDecoder."""
    s = StreamingDecoder(model)
    return torch.cat([s.decode(z[:, i:i + frames_per_call]) for i in range(0, z.shape[1], frames_per_call)], 1)


def init_random_(model: WanVaeDecoder, generator: torch.Generator):
    """Random weights with unit-ish activations: convs scaled by 1/sqrt(fan_in), gammas near 1."""
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith("gamma"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=generator))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))
