"""The VAE stage's ceiling, on its own: the 48 evaluation prompts' real clips (world.render, 9 latent frames)
encoded and decoded by a VAE checkpoint, read by the same vision code as every model row. No DiT is
involved, so this is the most any model trained on these latents can score through this decoder; the
confusion of asked against read shapes says what the decoder does to shapes.

  venv/bin/python tools/eval/ceiling.py tools/train/runs/vae/ckpt.pt [more ...]   # one row each
  venv/bin/python tools/eval/ceiling.py --sheet s.png A B       # and a contact sheet: clips, A, B
  venv/bin/python tools/eval/ceiling.py --raw                   # the clips themselves (reads 100%)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import common  # noqa: E402
import nets  # noqa: E402
import vae  # noqa: E402
import world  # noqa: E402

import evaluate  # noqa: E402
import metrics  # noqa: E402
import prompts  # noqa: E402


def clips_and_specs():
    specs = prompts.eval_specs() + prompts.seen_specs()
    frames = 1 + 2 * (nets.TRAIN_FRAMES - 1)
    clips = torch.stack([world.render(s, frames, seed=i) for i, s in enumerate(specs)])
    return clips, specs, len(prompts.eval_specs())


@torch.no_grad()
def round_trip(model: vae.Autoencoder, clips: torch.Tensor) -> torch.Tensor:
    out = [model.decode(model.encoder(clips[i:i + 8])).clamp(-1, 1) for i in range(0, len(clips), 8)]
    return torch.cat(out)


def row(videos, clips, specs, held: int) -> dict:
    """evaluate.py's adherence scores, with the round trip's PSNR and which shape was read for which asked."""
    out = {k: round(v, 3) for k, v in evaluate.scores(videos, specs, held).items()}
    mse = ((videos - clips) / 2).pow(2).mean().item()
    out["psnr_db"] = round(10 * math.log10(1 / max(mse, 1e-12)), 2)
    confusion = {}
    for v, s in zip(videos, specs):
        key = f"{s.objects[0].shape}->{metrics.shape_of(metrics.object_masks(v))}"
        confusion[key] = confusion.get(key, 0) + 1
    out["shapes_read"] = dict(sorted(confusion.items()))
    return out


def write_sheet(path: str, clips, videos: list, specs) -> None:
    """Clip and each checkpoint's round trip, one row each, for two prompts of every shape, every 4th frame,
    at 3x: the numbers say how often shapes are misread, the sheet says how."""
    import sheet
    picked = [i for shape in world.SHAPES for i in [j for j, s in enumerate(specs) if s.objects[0].shape == shape][:2]]
    rows = torch.stack([v[i] for i in picked for v in [clips, *videos]])[:, :, ::4]
    img = sheet.sheet(rows, 1)
    sheet.write_png(path, img.repeat_interleave(3, 1).repeat_interleave(3, 2))


def main(args):
    torch.set_num_threads(args.threads)
    clips, specs, held = clips_and_specs()
    if args.raw:
        print(json.dumps({"model": "raw clips", **row(clips, clips, specs, held)}))
    videos = []
    for path in args.checkpoints:
        ck = common.load_checkpoint(path)
        if ck is None:
            raise SystemExit(f"{path}: no such checkpoint")
        model = vae.load(ck)
        model.eval()
        videos.append(round_trip(model, clips))
        print(json.dumps({"model": f"{path} (step {ck.get('step', '?')})", **row(videos[-1], clips, specs, held)}),
              flush=True)
    if args.sheet and videos:
        write_sheet(args.sheet, clips, videos, specs)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("checkpoints", nargs="*", default=[])
    p.add_argument("--raw", action="store_true", help="also read the clips themselves")
    p.add_argument("--sheet", default=None, help="write a contact sheet PNG: clips, then each round trip")
    p.add_argument("--threads", type=int, default=1)
    main(p.parse_args())
