"""Averages the weights of two students fine-tuned from one checkpoint (a "model soup", Wortsman et al.,
ICML 2022): (1 - w) * A + w * B, tensor by tensor, into a checkpoint export.py reads.

Session 27 used it on two long stages branched from one DMD checkpoint: one scored by the refit teacher
alone (keeps a stream's colour, loses the outline in the 2-step chunks), one with the contrast teacher on the
object too (keeps the outline, lets colour drift over long streams). Their average kept most of both, where
no single run found so far did. It only makes sense for students that share a parent: two independently
trained networks do not average into a working one, and nothing here can tell, so the caller must know.

  soup.py runs/dmd-diagonal/ckpt.pt runs/dmd-diagonal-shape/ckpt.pt --weight 0.5 --out runs/soup-diagonal/ckpt.pt
"""
from __future__ import annotations

import argparse
import os

import torch

import common


def soup(a: dict, b: dict, weight: float) -> dict:
    """(1 - weight) * a + weight * b for each floating-point tensor of two state dicts of one architecture;
    other tensors (integer buffers) must be equal and are kept."""
    if a.keys() != b.keys():
        only = sorted(set(a) ^ set(b))
        raise ValueError(f"the two students differ in their tensors: {', '.join(only[:5])}"
                         + (f" and {len(only) - 5} more" if len(only) > 5 else ""))
    out = {}
    for name, x in a.items():
        y = b[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            raise ValueError(f"{name}: {tuple(x.shape)} {x.dtype} in one student, {tuple(y.shape)} {y.dtype} in the other")
        if x.is_floating_point():
            out[name] = (1 - weight) * x + weight * y
        elif torch.equal(x, y):
            out[name] = x.clone()
        else:
            raise ValueError(f"{name}: a {x.dtype} tensor that differs between the students cannot be averaged")
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="a student checkpoint (distill.py's ckpt.pt)")
    p.add_argument("b", help="another, fine-tuned from the same parent")
    p.add_argument("--weight", type=float, default=0.5, help="B's share, from 0 (A) to 1 (B)")
    p.add_argument("--out", required=True, help="the checkpoint to write (student weights only)")
    args = p.parse_args(argv)
    if not 0.0 <= args.weight <= 1.0:
        p.error("--weight is a share, from 0 to 1")
    cks = []
    for path in (args.a, args.b):
        ck = common.load_checkpoint(path)
        if ck is None or "dit" not in ck:
            p.error(f"{path}: no student checkpoint there (a dict with 'dit', as distill.py writes)")
        cks.append(ck)
    try:
        dit = soup(cks[0]["dit"], cks[1]["dit"], args.weight)
    except ValueError as e:
        p.error(str(e))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    common.save_checkpoint(args.out, {"dit": dit, "step": max(ck.get("step", 0) for ck in cks),
                                      "soup": {"a": args.a, "b": args.b, "weight": args.weight}})
    print(f"{args.out}: {len(dit)} tensors, {1 - args.weight:g} x {args.a} + {args.weight:g} x {args.b}")


if __name__ == "__main__":
    main()
