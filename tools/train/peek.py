"""Samples from the current checkpoints as a contact sheet, for eyeballing progress:
  peek.py teacher OUT.png     the teacher (24 steps, CFG 4) on four captions
  peek.py RUN OUT.png         a student run (ode-diagonal, dmd-diagonal, ...) rolled out over 3 chunks"""
import sys

import torch

import common
import nets
import rollouts
from latents import LatentSource

CAPTIONS = ["a red circle moving right on a black background", "a green square moving up on a gray background",
            "a yellow triangle moving left on a dark blue background",
            "a white diamond moving down on a dark green background"]

if __name__ != "__main__":
    raise ImportError("peek.py is a script")
which, out = sys.argv[1], sys.argv[2]
tck = common.load_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt")
t5 = nets.new_t5()
t5.load_state_dict(tck["ema"]["t5"])
dit = nets.new_dit()
gen = common.generator(0)
with torch.no_grad():
    if which == "teacher":
        dit.load_state_dict(tck["ema"]["dit"])
        z, _ = rollouts.teacher_sample(dit, t5, CAPTIONS, gen=gen)
        print("teacher step", tck["step"])
    else:
        ck = common.load_checkpoint(f"{common.run_dir(which)}/{'student.pt' if which.startswith('ode') else 'ckpt.pt'}")
        dit.load_state_dict(ck["dit"])
        sched = rollouts.UNIFORM_4 if "uniform" in which else rollouts.DIAGONAL_4_3_2
        z, nfe = rollouts.rollout(dit, nets.encode_text(t5, CAPTIONS), 3, sched,
                                  "reencode" if "uniform" in which else "reuse", 0.0, gen)
        print(which, "NFE", nfe)
    import sheet
    sheet.write_png(out, sheet.sheet(LatentSource().decode(z)))
