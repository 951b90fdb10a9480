"""A procedural, captioned video world: shapes that move, bounce off the borders, over plain, gradient or
textured backgrounds, sometimes under a camera pan. Clips are made on the fly from a seed, so the data set
is unbounded and reproducible.

A clip is a float tensor [3, T, H, W] in [-1, 1] (the VAE's range) with a caption such as
"a red circle moving left on a dark blue background". Some (colour, shape) pairs never appear in
training (HELD_OUT); evaluation prompts use exactly those.
"""
from __future__ import annotations

import dataclasses
import math
import random

import torch

COLOURS = {
    "red": (0.90, 0.12, 0.10), "green": (0.15, 0.80, 0.20), "blue": (0.15, 0.35, 0.95),
    "yellow": (0.95, 0.88, 0.10), "white": (0.96, 0.96, 0.96), "purple": (0.62, 0.20, 0.85),
    "orange": (0.98, 0.55, 0.08), "cyan": (0.10, 0.85, 0.90),
}
SHAPES = ("circle", "square", "triangle", "diamond")
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
BACKGROUNDS = {  # name -> (colour, kind); kind: plain, gradient or texture
    "black": ((0.02, 0.02, 0.02), "plain"), "dark blue": ((0.05, 0.08, 0.30), "plain"),
    "gray": ((0.40, 0.40, 0.40), "plain"), "dark green": ((0.04, 0.22, 0.08), "plain"),
    "gradient": ((0.10, 0.10, 0.35), "gradient"), "textured": ((0.25, 0.20, 0.15), "texture"),
}
SPEEDS = {"slowly": 1.0, "": 1.8, "quickly": 2.8}  # pixels per frame at 64x64
# Object radius range in pixels at 64x64. Sessions 1-17 drew 6-10; at 9-13 the four shapes differ in 2.8x more
# latent energy (weights/README.md), enough for the DiT to learn which one a caption asks for.
RADIUS = (9.0, 13.0)

# Never in training; evaluation prompts use these pairs.
HELD_OUT = {("red", "triangle"), ("green", "circle"), ("blue", "square"), ("yellow", "diamond"),
            ("white", "triangle"), ("purple", "circle")}


@dataclasses.dataclass(frozen=True)
class ObjectSpec:
    colour: str
    shape: str
    direction: str
    speed: str


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    objects: tuple
    background: str
    pan: str | None  # camera pan direction or None

    def caption(self) -> str:
        parts = []
        for o in self.objects:
            speed = f" {o.speed}" if o.speed else ""
            article = "an" if o.colour[0] in "aeiou" else "a"
            parts.append(f"{article} {o.colour} {o.shape} moving{speed} {o.direction}")
        text = " and ".join(parts) + f" on a {self.background} background"
        if self.pan:
            text += f", the camera panning {self.pan}"
        return text


def sample_spec(rng: random.Random, held_out: bool | None = False, two_objects: float = 0.2,
                pan: float = 0.15) -> ClipSpec:
    """A random clip description; held_out=True draws only the held-out (colour, shape) pairs, None draws
    from every pair (the VAE's data: an autoencoder that never saw purple circles decodes them pink)."""
    def one():
        while True:
            c, s = rng.choice(sorted(COLOURS)), rng.choice(SHAPES)
            if held_out is None or ((c, s) in HELD_OUT) == held_out:
                return ObjectSpec(c, s, rng.choice(sorted(DIRECTIONS)), rng.choice(sorted(SPEEDS)))
    n = 2 if rng.random() < two_objects else 1
    objs = [one()]
    while len(objs) < n:
        o = one()
        if (o.colour, o.shape) != (objs[0].colour, objs[0].shape):
            objs.append(o)
    bg = rng.choice(sorted(BACKGROUNDS))
    p = rng.choice(sorted(DIRECTIONS)) if rng.random() < pan else None
    return ClipSpec(tuple(objs), bg, p)


def _shape_mask(shape: str, dx: torch.Tensor, dy: torch.Tensor, r: float) -> torch.Tensor:
    """Anti-aliased coverage in [0, 1] from pixel offsets to the shape centre (1-pixel soft edge)."""
    if shape == "circle":
        d = torch.sqrt(dx * dx + dy * dy) - r
    elif shape == "square":
        d = torch.maximum(dx.abs(), dy.abs()) - r * 0.85
    elif shape == "diamond":
        d = (dx.abs() + dy.abs()) / math.sqrt(2) - r * 0.75
    elif shape == "triangle":  # pointing up, its bounding box centred
        # Inradius 0.625 r (sessions 1-17: 0.5 r, 41% of the circle's area, whose tip the VAE rounded off
        # so that it read as a circle); now 65% of the circle's area, like the diamond's 72%.
        k, a = math.sqrt(3), r * 0.625
        y = -dy + a / 2
        d = torch.maximum(-y - a, (k * dx.abs() + y) / 2 - a)
    else:
        raise ValueError(shape)
    return (0.5 - d).clamp(0, 1)


def _background(name: str, frames: int, size: int, pan: str | None, rng: random.Random) -> torch.Tensor:
    colour, kind = BACKGROUNDS[name]
    c = torch.tensor(colour).view(3, 1, 1, 1)
    # Render on a larger canvas so a pan can slide across it.
    margin = 48
    big = size + 2 * margin
    yy, xx = torch.meshgrid(torch.arange(big, dtype=torch.float32), torch.arange(big, dtype=torch.float32),
                            indexing="ij")
    if kind == "plain":
        canvas = c[:, 0].expand(3, big, big).clone()
    elif kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        g = ((xx * math.cos(a) + yy * math.sin(a)) / big + 1) / 2
        other = torch.tensor((0.45, 0.15, 0.30)).view(3, 1, 1)
        canvas = c[:, 0] * (1 - g) + other * g
    else:
        f1, f2 = rng.uniform(0.15, 0.3), rng.uniform(0.15, 0.3)
        ph = rng.uniform(0, 6.28)
        t = 0.5 + 0.25 * torch.sin(xx * f1 + ph) * torch.sin(yy * f2) + 0.25 * torch.sin((xx + yy) * 0.07)
        canvas = c[:, 0] * (0.6 + 0.8 * t)
    ox = oy = margin
    vx, vy = DIRECTIONS[pan] if pan else (0.0, 0.0)
    out = []
    for f in range(frames):
        # A camera panning right shows the scene sliding left.
        x0 = int(round(ox + vx * f * 1.0)) % (2 * margin)
        y0 = int(round(oy + vy * f * 1.0)) % (2 * margin)
        out.append(canvas[:, y0:y0 + size, x0:x0 + size])
    return torch.stack(out, 1)


def render(spec: ClipSpec, frames: int, size: int = 64, seed: int = 0) -> torch.Tensor:
    """The clip [3, frames, size, size] in [-1, 1]."""
    rng = random.Random(seed)
    video = _background(spec.background, frames, size, spec.pan, rng)
    scale = size / 64.0
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32) + 0.5,
                            torch.arange(size, dtype=torch.float32) + 0.5, indexing="ij")
    for o in spec.objects:
        r = rng.uniform(*RADIUS) * scale
        vx, vy = DIRECTIONS[o.direction]
        v = SPEEDS[o.speed] * scale * rng.uniform(0.85, 1.15)
        # Start on the side the object moves away from, so most clips show the motion before a bounce.
        x = size / 2 - vx * size * rng.uniform(0.1, 0.25) + (0 if vx else rng.uniform(-0.25, 0.25) * size)
        y = size / 2 - vy * size * rng.uniform(0.1, 0.25) + (0 if vy else rng.uniform(-0.25, 0.25) * size)
        colour = torch.tensor(COLOURS[o.colour]).view(3, 1, 1)
        for f in range(frames):
            m = _shape_mask(o.shape, xx - x, yy - y, r)
            video[:, f] = video[:, f] * (1 - m) + colour * m
            x, y = x + vx * v, y + vy * v
            if x < r or x > size - r:  # bounce
                vx = -vx
                x = min(max(x, r), size - r)
            if y < r or y > size - r:
                vy = -vy
                y = min(max(y, r), size - r)
    return video.clamp(0, 1) * 2 - 1


def object_pixels(clips: torch.Tensor) -> torch.Tensor:
    """clips [n, 3, T, H, W] in [-1, 1] -> [n, 1, T, H, W] 1.0 where a pixel is far from its frame's median
    colour (the background: objects cover a few percent of a frame), else 0.0."""
    med = clips.flatten(3).median(dim=3).values[..., None, None]
    return ((clips - med).abs().sum(1, keepdim=True) > 0.3).float()


TWIN_CHANGES = ("shape", "shape", "colour", "direction")  # what a twin changes, drawn uniformly


def twin(spec: ClipSpec, rng: random.Random) -> ClipSpec:
    """The clip with one word of its first object changed (its shape half the time, else its colour or its
    direction), never to a held-out pair. Rendered with the same seed it has the same background, size, speed
    and start, so a twin pair differs only where its captions do (teacher.py --twins)."""
    first = spec.objects[0]
    change = rng.choice(TWIN_CHANGES)
    while True:
        if change == "shape":
            o = dataclasses.replace(first, shape=rng.choice([s for s in SHAPES if s != first.shape]))
        elif change == "colour":
            o = dataclasses.replace(first, colour=rng.choice([c for c in sorted(COLOURS) if c != first.colour]))
        else:
            o = dataclasses.replace(first, direction=rng.choice([d for d in sorted(DIRECTIONS) if d != first.direction]))
        if (o.colour, o.shape) not in HELD_OUT:
            return dataclasses.replace(spec, objects=(o,) + spec.objects[1:])


def batch(rng: random.Random, n: int, frames: int, size: int = 64, held_out: bool | None = False,
          twins: bool = False):
    """n random clips [n, 3, frames, size, size] (on the default device) and their captions; with twins, n
    is even and clips 2i and 2i + 1 are a twin pair (twin())."""
    if twins:
        if n % 2:
            raise ValueError(f"a batch of twins needs an even size, not {n}")
        firsts = [sample_spec(rng, held_out) for _ in range(n // 2)]
        specs = [s for f in firsts for s in (f, twin(f, rng))]
        seeds = [seed for _ in firsts for seed in [rng.getrandbits(31)] * 2]
    else:
        specs = [sample_spec(rng, held_out) for _ in range(n)]
        seeds = [rng.getrandbits(31) for _ in specs]
    with torch.device("cpu"):  # many tiny ops: the CPU is faster at them, and every device sees the same clips
        clips = torch.stack([render(s, frames, size, seed=seed) for s, seed in zip(specs, seeds)])
    return clips.to(torch.get_default_device()), [s.caption() for s in specs], specs


if __name__ == "__main__":
    import sys
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for _ in range(8):
        print(sample_spec(rng).caption())
