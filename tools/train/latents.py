"""Training clips as normalized VAE latents: render a batch (world.py), encode it with the trained VAE
encoder, normalize per channel with the statistics the Java decoder de-normalizes with."""
from __future__ import annotations

import random

import torch

import common
import nets
import vae
import world


class LatentSource:
    def __init__(self):
        ck = common.load_checkpoint(f"{common.run_dir('vae')}/ckpt.pt")
        if ck is None:
            raise SystemExit("no VAE checkpoint: run tools/train/vae.py first")
        width = vae.z_dim_of(ck)
        if width != nets.DIT.in_dim:  # e.g. a VAE from before the latent width changed
            raise SystemExit(f"runs/vae has {width} latent channels but the DiT takes {nets.DIT.in_dim} "
                             "(vae.CONFIG): retrain the VAE at that width or move the old run aside")
        self.vae = vae.load(ck)
        self.vae.eval()
        stats = common.run_dir("vae") + "/stats.pt"
        st = common.load_checkpoint(stats)
        if st is None:
            mean, std = vae.latent_stats(self.vae)
            st = {"mean": mean, "std": std}
            common.save_checkpoint(stats, st)
        self.mean = st["mean"].view(1, -1, 1, 1, 1)
        self.std = st["std"].view(1, -1, 1, 1, 1)

    def video_frames(self, latent_frames: int) -> int:
        return 1 + 2 * (latent_frames - 1)

    @torch.no_grad()
    def batch(self, rng: random.Random, n: int, latent_frames: int = nets.TRAIN_FRAMES, held_out: bool = False):
        clips, captions, specs = world.batch(rng, n, self.video_frames(latent_frames), held_out=held_out)
        return self.encode(clips), captions, specs

    @torch.no_grad()
    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        return (self.vae.encoder(clips) - self.mean) / self.std

    @torch.no_grad()
    def batch_with_objects(self, rng: random.Random, n: int, latent_frames: int = nets.TRAIN_FRAMES,
                           twins: bool = False):
        """As batch, plus where the objects are at latent resolution [n, 1, F, h, w] (1.0 or 0.0):
        world.object_pixels, max-pooled over each latent frame's video frames and 4x4. With twins, clips 2i
        and 2i + 1 are a twin pair (world.twin)."""
        clips, captions, _ = world.batch(rng, n, self.video_frames(latent_frames), twins=twins)
        obj = world.object_pixels(clips)                                            # [n, 1, T, H, W]
        first, rest = obj[:, :, :1], obj[:, :, 1:]
        if rest.shape[2]:
            rest = rest.unflatten(2, (-1, 2)).amax(3)                               # video pairs -> latent frames
        obj = torch.cat([first, rest], 2)
        obj = torch.nn.functional.max_pool3d(obj, (1, 4, 4))
        return self.encode(clips), captions, obj

    @torch.no_grad()
    def decode(self, zn: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(zn * self.std + self.mean).clamp(-1, 1)


class LatentPool:
    """Encoded clips kept for reuse: rendering and encoding a 9-latent-frame batch costs about as much as
    the teacher's step on it, so each step draws its batch from a pool and replaces only `refresh` random
    entries with fresh clips. Every clip is then used about size / refresh / (steps between uses) times on
    average, with fresh noise and sigma each time, and the data stays unbounded over a run."""

    def __init__(self, source: LatentSource, rng: random.Random, latent_frames: int, size: int, refresh: int,
                 twins: bool = False):
        if size < 1 or not 0 <= refresh <= size:
            raise SystemExit(f"latent pool of {size} clips refreshing {refresh} a step: need 0 <= refresh <= size >= 1")
        if twins and (size % 2 or refresh % 2):
            raise SystemExit(f"a pool of twins keeps pairs: size {size} and refresh {refresh} must be even")
        self.source, self.frames, self.refresh, self.twins = source, latent_frames, refresh, twins
        parts = [source.batch_with_objects(rng, min(16, size - i), latent_frames, twins) for i in range(0, size, 16)]
        self.x0 = torch.cat([p[0] for p in parts])
        self.captions = [c for p in parts for c in p[1]]
        self.objects = torch.cat([p[2] for p in parts])

    def batch_with_objects(self, rng: random.Random, n: int, latent_frames: int, twins: bool = False):
        """n pooled clips (x0, captions, object masks), as LatentSource.batch_with_objects gives them, so
        either can feed a training step; a pool of twins draws and refreshes whole pairs."""
        if latent_frames != self.frames:
            raise ValueError(f"a pool of {self.frames}-latent-frame clips asked for {latent_frames} frames")
        if twins != self.twins:
            raise ValueError(f"a pool {'of' if self.twins else 'without'} twins asked for twins={twins}")
        step = 2 if twins else 1
        pairs = [rng.randrange(len(self.captions) // step) * step for _ in range(n // step)]
        idx = [i + k for i in pairs for k in range(step)]
        out = self.x0[idx], [self.captions[i] for i in idx], self.objects[idx]
        if self.refresh:
            x0, captions, objects = self.source.batch_with_objects(rng, self.refresh, self.frames, twins)
            slots = rng.sample(range(len(self.captions) // step), self.refresh // step)
            for j, slot in enumerate(i * step + k for i in slots for k in range(step)):
                self.x0[slot], self.captions[slot], self.objects[slot] = x0[j], captions[j], objects[j]
        return out
