"""Where a DiT's cross-attention looks: for the evaluation prompts' real clips noised to one sigma, the
share of each block's attention (mean over heads) that tokens holding the object, and apart background
tokens, give to the caption's colour, shape, direction and background words, to the rest of the caption
and to the padding rows (all equal: the text embedding of zero). A text-blind network puts nearly all of
it on the padding; one that binds colour puts a visible share of the object tokens' attention on the
colour word.

  venv/bin/python tools/eval/attention.py [--run teacher] [--sigma 0.9]
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import common  # noqa: E402
import nets  # noqa: E402
import world  # noqa: E402
from latents import LatentSource  # noqa: E402

import prompts  # noqa: E402

PARTS = ("colour", "shape", "direction", "background", "rest of caption", "padding")


def word_positions(caption: str, word: str) -> list[int]:
    """Byte-token positions of the first whole occurrence of `word` (ASCII captions: one byte, one token)."""
    at = f" {caption} ".find(f" {word} ")
    if at < 0:
        raise ValueError(f"{word!r} not in {caption!r}")
    return list(range(at, at + len(word)))


def attention_shares(model, t5, data: LatentSource, specs, sigma: float, seed: int = 0):
    """[blocks, 2, len(PARTS)]: per block, for object tokens (0) and background tokens (1), the mean
    attention share each part of the caption receives."""
    clips = torch.stack([world.render(s, 1, seed=i) for i, s in enumerate(specs)]).to(torch.get_default_device())
    x0 = data.encode(clips)
    xt = (1 - sigma) * x0 + sigma * torch.randn(x0.shape, generator=common.generator(seed))
    cell = 4 * model.cfg.patch[1]                                    # pixels per token side
    objects = torch.nn.functional.max_pool2d(world.object_pixels(clips)[:, :, 0], cell).flatten(1) > 0
    captions = [s.caption() for s in specs]
    text = nets.encode_text(t5, captions)
    queries = []
    hooks = [blk.norm3.register_forward_hook(lambda mod, inp, out: queries.append(out)) for blk in model.blocks]
    try:
        nets.dit_forward(model, xt, torch.full(x0.shape[:1] + x0.shape[2:3], sigma * 1000), text, None)
    finally:
        for h in hooks:
            h.remove()
    ctx = model.text_embedding(text)
    heads, hd = model.cfg.num_heads, model.cfg.head_dim
    out = torch.zeros(len(model.blocks), 2, len(PARTS))
    for i, blk in enumerate(model.blocks):
        ca = blk.cross_attn
        q = ca.norm_q(ca.q(queries[i])).unflatten(2, (heads, hd)).transpose(1, 2)
        k = ca.norm_k(ca.k(ctx)).unflatten(2, (heads, hd)).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5, -1).mean(1)      # [B, tokens, text_len]
        for b, (spec, caption) in enumerate(zip(specs, captions)):
            o = spec.objects[0]
            n = len(nets.byte_ids(caption))
            spans = [word_positions(caption, w) for w in (o.colour, o.shape, o.direction, spec.background)]
            rest = sorted(set(range(n)) - {p for s in spans for p in s})
            for j, sel in enumerate((objects[b], ~objects[b])):
                a = att[b, sel].mean(0)
                shares = [a[s].sum() for s in spans] + [a[rest].sum(), a[n:].sum()]
                out[i, j] += torch.stack(shares) / len(specs)
    return out


@torch.no_grad()
def main(args):
    run = common.run_dir(args.run)
    ck = common.load_checkpoint(f"{run}/ckpt.pt") or common.load_checkpoint(f"{run}/student.pt")
    if ck is None:
        raise SystemExit(f"no ckpt.pt or student.pt in {run}")
    teacher = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
    model, t5 = nets.dit_from_checkpoint(ck, run), nets.new_t5()
    t5.load_state_dict(teacher["ema"]["t5"])
    shares = attention_shares(model, t5, LatentSource(), prompts.seen_specs(), args.sigma)
    print(f"{args.run}, sigma {args.sigma}: share of cross-attention (mean over heads and 24 training-pair prompts)")
    print("| block | tokens | " + " | ".join(PARTS) + " |")
    print("|---|---|" + "---|" * len(PARTS))
    for i, row in enumerate(shares):
        for j, who in enumerate(("object", "background")):
            print(f"| {i} | {who} | " + " | ".join(f"{v:.3f}" for v in row[j].tolist()) + " |")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--run", default="teacher", help="runs/ directory: teacher, dmd-diagonal, ...")
    p.add_argument("--sigma", type=float, default=0.9)
    common.add_device_argument(p)
    args = p.parse_args()
    common.use_device(args.device)
    main(args)
