"""The default model's VAE: Wan2.1's decoder architecture at a small size (tools/reference/wan_vae.py, the
module the Java decoder is tested against), with a small encoder that exists only for training.

Config: 16 latent channels (Wan2.1's own width; sessions 1-14 used 8, and 16 read more shapes back through
the same decoder, tools/train/README.md), base width 16, dim_mult (1, 2, 4): 4x in space, and one temporal
stage: 2x in time (the issue allows less than Wan's 4x; at 64x64 and 16 fps it keeps motion crisp). So 64x64
video is 16x16 latents, and latent frame 0 is video frame 0, latent frame k >= 1 is video frames 2k-1 and 2k.

  venv/bin/python tools/train/vae.py --steps 1200 --frames 5 --batch 8     # resumes from runs/vae/ckpt.pt
  venv/bin/python tools/train/vae.py --decoder-only --steps 800 --frames 17 --batch 2 --lr 3e-4
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

import common
import world
from wan_vae import VaeConfig, WanVaeDecoder, init_random_

CONFIG = VaeConfig(z_dim=16, dim=16, dim_mult=(1, 2, 4), num_res_blocks=1, temporal_upsample=(True, False))


class Encoder(nn.Module):
    """Frames -> latents, mirroring the decoder's causal framing: 2D downsampling per frame, then latent 0
    from frame 0 alone and latent k from frames (2k-1, 2k)."""

    def __init__(self, cfg: VaeConfig):
        super().__init__()
        d = cfg.dim

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1),
                                 nn.SiLU())
        self.frames = nn.Sequential(block(3, d), nn.Conv2d(d, 2 * d, 3, stride=2, padding=1), nn.SiLU(),
                                    block(2 * d, 2 * d), nn.Conv2d(2 * d, 4 * d, 3, stride=2, padding=1), nn.SiLU(),
                                    block(4 * d, 4 * d))
        self.first = nn.Conv2d(4 * d, cfg.z_dim, 3, padding=1)
        self.pair = nn.Sequential(nn.Conv2d(8 * d, 4 * d, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(4 * d, cfg.z_dim, 3, padding=1))

    def forward(self, video):
        """video [B, 3, 1 + 2n, H, W] -> z [B, z_dim, 1 + n, H/4, W/4]."""
        b, _, t, h, w = video.shape
        f = self.frames(video.permute(0, 2, 1, 3, 4).reshape(b * t, 3, h, w))
        f = f.reshape(b, t, *f.shape[1:])
        z0 = self.first(f[:, 0])
        if t == 1:
            return z0[:, :, None]
        rest = f[:, 1:].reshape(b * (t - 1) // 2, 2 * f.shape[2], *f.shape[3:])
        zr = self.pair(rest).reshape(b, (t - 1) // 2, -1, *rest.shape[2:])
        return torch.cat([z0[:, None], zr], 1).permute(0, 2, 1, 3, 4)


class Autoencoder(nn.Module):
    def __init__(self, cfg: VaeConfig = CONFIG):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.dec = WanVaeDecoder(cfg, mean=[0.0] * cfg.z_dim, std=[1.0] * cfg.z_dim)

    def decode(self, z):
        """z [B, C, T, h, w] raw latents -> video [B, 3, 1 + 2(T-1), H, W]."""
        return self.dec.decoder(self.dec.conv2(z))


def config(z_dim: int) -> VaeConfig:
    """CONFIG with another latent width (the shape-ceiling experiments: more channels per latent cell)."""
    return dataclasses.replace(CONFIG, z_dim=z_dim)


def z_dim_of(ck: dict) -> int:
    """The latent width a checkpoint's weights have."""
    return ck["model"]["encoder.first.weight"].shape[0]


def load(ck: dict) -> Autoencoder:
    """The autoencoder of a checkpoint, at the latent width its weights have."""
    model = Autoencoder(config(z_dim_of(ck)))
    model.load_state_dict(ck["model"])
    return model


def train(args):
    torch.manual_seed(0)
    out = common.run_dir(args.run)
    ck = common.load_checkpoint(f"{out}/ckpt.pt")
    model = Autoencoder(config(z_dim_of(ck) if ck else args.z_dim))
    init_random_(model.dec, common.generator(0))
    with torch.no_grad():  # residual branches start near zero, so the deep decoder starts as a shallow one
        for n, p in model.dec.named_parameters():
            if n.endswith("residual.6.weight"):
                p.mul_(0.1)
    trained = model.dec.parameters() if args.decoder_only else model.parameters()
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.0)
    step = 0
    if ck:
        if "decoder_only" in ck and not args.decoder_only:  # rerunning the recipe must not undo phase two
            print(f"{out}/ckpt.pt is already in the decoder-only phase: the joint phase is done")
            return
        model.load_state_dict(ck["model"])
        if args.decoder_only == ("decoder_only" in ck):  # same phase: resume its schedule
            step = ck["step"]
            if "opt" in ck:  # stage.py restores weights only
                opt.load_state_dict(ck["opt"])
    if args.decoder_only:
        # Second phase: the latent space is frozen (the DiT may already be training on it); the decoder
        # learns long clips, where its causal convolutions carry more history than 5-frame clips show.
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    rng = random.Random(1000 + step)
    log = common.Log(out)
    while step < args.steps:
        clips, _, _ = world.batch(rng, args.batch, args.frames, held_out=None if args.pairs == "all" else False)
        with torch.set_grad_enabled(not args.decoder_only):
            z = model.encoder(clips)
        # Latent noise relative to z's scale: the decoder must tolerate the DiT's imperfect latents.
        zn = z + args.latent_noise * z.detach().std() * torch.randn_like(z)
        rec = model.decode(zn)
        err = rec - clips
        # Objects are a small part of each frame: weight their pixels more.
        weight = 1 + args.object_weight * world.object_pixels(clips)
        loss = (weight * (err.abs() + err ** 2)).mean() + args.z_penalty * z.pow(2).mean()
        if args.edge_weight:
            loss = loss + args.edge_weight * edge_loss(rec, clips, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 100) * (0.5 * (1 + math.cos(math.pi * step / args.steps)) * 0.9 + 0.1)
        opt.step()
        step += 1
        if step % 20 == 0 or step == args.steps:
            log(step=step, loss=loss.item(), l1=err.abs().mean().item(), z_std=z.std().item())
        if step % 50 == 0 or step == args.steps:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step}
            if args.decoder_only:
                state["decoder_only"] = True
            common.save_checkpoint(f"{out}/ckpt.pt", state)


def edge_loss(rec, clips, weight):
    """L1 between the spatial finite differences of the reconstruction and the clip: a blurred square has
    the right mean colour but soft corners, which the vision code reads as a circle; per-pixel L1 + L2 barely
    penalises that, the gradient of the image does."""
    def grads(v):
        return v[..., 1:, :] - v[..., :-1, :], v[..., :, 1:] - v[..., :, :-1]
    (ry, rx), (cy, cx) = grads(rec), grads(clips)
    wy, wx = weight[..., 1:, :], weight[..., :, 1:]
    return (wy * (ry - cy).abs()).mean() + (wx * (rx - cx).abs()).mean()


def latent_stats(model: Autoencoder, clips: int = 256, frames: int = 17):
    """Per-channel mean and std of the encoder's latents over fresh training clips."""
    rng = random.Random(7)
    zs = []
    with torch.no_grad():
        for _ in range(clips // 16):
            c, _, _ = world.batch(rng, 16, frames, held_out=None)
            zs.append(model.encoder(c))
    z = torch.cat(zs).transpose(0, 1).flatten(1)
    return z.mean(1), z.std(1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=9)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--latent-noise", type=float, default=0.1)
    p.add_argument("--z-penalty", type=float, default=1e-3)
    p.add_argument("--object-weight", type=float, default=4.0, help="extra loss weight on object pixels")
    p.add_argument("--edge-weight", type=float, default=3.0,
                   help="weight of the image-gradient L1 (0: sessions 1-10's loss, 1: sessions 11-14's; 3 read "
                        "the most shapes back, see tools/train/README.md)")
    p.add_argument("--z-dim", type=int, default=CONFIG.z_dim, help="latent channels (a resumed run keeps its own)")
    p.add_argument("--run", default="vae", help="checkpoint folder under runs/")
    p.add_argument("--decoder-only", action="store_true", help="fine-tune the decoder on a frozen encoder")
    p.add_argument("--pairs", choices=("all", "seen"), default="all",
                   help="colour-shape pairs the VAE sees: all (default; the held-out pairs are held out of the "
                        "DiT's captions, not of the pixels), or seen (sessions 1-9: held-out pairs never drawn)")
    common.add_device_argument(p)
    args = p.parse_args()
    common.use_device(args.device)
    train(args)
