"""Reconstructions of fresh clips by the current VAE checkpoint, as a contact sheet (top: input, below: output)."""
import random
import sys

import torch

import common
import sheet
import vae
import world

ck = common.load_checkpoint(f"{common.run_dir('vae')}/ckpt.pt")
m = vae.Autoencoder()
m.load_state_dict(ck["model"])
clips, caps, _ = world.batch(random.Random(99), 4, 9)
with torch.no_grad():
    rec = m.decode(m.encoder(clips)).clamp(-1, 1)
print("step", ck["step"], "l1", (rec - clips).abs().mean().item())
sheet.write_png(sys.argv[1] if len(sys.argv) > 1 else "/tmp/vae.png",
                torch.cat([sheet.sheet(clips), sheet.sheet(rec)], dim=1))
