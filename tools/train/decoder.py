"""Trains the tiny latent decoder (tools/reference/tiny_decoder.py) to imitate a model directory's VAE decoder
on the latents its own student streams, as TAEHV imitates the Wan VAE: the tiny decoder only ever sees
latents from the distribution it will decode at inference, and needs no encoder or real clips.

  venv/bin/python tools/train/decoder.py --model weights --steps 1500        # resumes from runs/tiny-decoder/
  venv/bin/python tools/train/decoder.py --model weights --export weights    # writes tiny_decoder.safetensors

Data: --clips random world captions (training and held-out pairs alike), each streamed --chunks chunks by the
model's DiT exactly as Java infers (rollouts.rollout: its step lists, noisy KV reuse, its cache window and
sink), then decoded by its VAE decoder: the targets. Training windows are --window latent frames at a random
place, decoded after --warmup frames whose output is dropped, so the memory blocks see a real past as in a
stream. Loss: L1 + L2 to the VAE's frames, object pixels (far from the background colour) weighted more.
--export also writes the config into model.json's "tiny_decoder" entry.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

import common
import nets
import rollouts
import world
from tiny_decoder import TinyDecoder, TinyDecoderConfig, init_random_
from wan_vae import VaeConfig, WanVaeDecoder

HERE = os.path.dirname(os.path.abspath(__file__))


def load_model_dir(d: str):
    """The DiT, T5 and VAE decoder of a model directory written by export.py, and its model.json."""
    with open(os.path.join(d, "model.json")) as f:
        card = json.load(f)
    dit = nets.new_dit()
    dit.load_state_dict(common.load_file(os.path.join(d, card["dit"]["file"]))[0])
    t5 = nets.new_t5()
    t5.load_state_dict(common.load_file(os.path.join(d, card["text"]["file"]))[0])
    vc = card["vae"]["config"]
    cfg = VaeConfig(z_dim=vc["z_dim"], dim=vc["dim"], dim_mult=tuple(vc["dim_mult"]), num_res_blocks=vc["num_res_blocks"],
                    temporal_upsample=tuple(vc["temporal_upsample"]))
    vae = WanVaeDecoder(cfg, mean=vc["latent_mean"], std=vc["latent_std"])
    missing = vae.load_state_dict(common.load_file(os.path.join(d, card["vae"]["file"]))[0], strict=False).missing_keys
    if set(missing) - {"mean", "std"}:  # the latent statistics come from model.json, not the checkpoint
        raise SystemExit(f"{d}: the VAE checkpoint lacks {sorted(missing)}")
    return dit.eval(), t5.eval(), vae.eval(), card


def make_data(args, path: str):
    """Streams --clips captions through the model's student and decodes them with its VAE (cached on disk)."""
    if os.path.exists(path):
        return torch.load(path)
    dit, t5, vae, card = load_model_dir(args.model)
    s = card["stream"]
    rng = random.Random(args.seed)
    schedule = {"diagonal-4-3-2": rollouts.DIAGONAL_4_3_2, "uniform-4": rollouts.UNIFORM_4}[s["schedule"]]
    zs, videos = [], []
    t0 = time.time()
    with torch.no_grad():
        for start in range(0, args.clips, 8):
            specs = [world.sample_spec(rng, held_out=rng.random() < 0.25) for _ in range(min(8, args.clips - start))]
            text = nets.encode_text(t5, [sp.caption() for sp in specs])
            z, _ = rollouts.rollout(dit, text, args.chunks, schedule, s["context"], 0.0, common.generator(start),
                                    window=s["window"], sink=s["sink"])
            zs.append(z)
            videos.append(torch.stack([vae(zi) for zi in z]).to(torch.float16))
            print(f"data: {start + len(specs)}/{args.clips} clips, {time.time() - t0:.0f} s", flush=True)
    data = {"z": torch.cat(zs), "video": torch.cat(videos), "mean": vae.mean, "std": vae.std}
    torch.save(data, path)
    return data


HELD = 8  # the last clips are kept out of training, for evaluate()


def window_batch(data, rng: random.Random, batch: int, window: int, warmup: int):
    """Latents [B, C, <= warmup + window, h, w], the target frames of the last `window` of them (temporal
    scale 2: latent k >= 1 is frames 2k-1 and 2k), and whether the latents start the video."""
    total = data["z"].shape[2]
    zs, ts = [], []
    from_start = rng.random() < 0.25
    for _ in range(batch):
        i = rng.randrange(data["z"].shape[0] - HELD)
        a = 0 if from_start else rng.randrange(1 + warmup, total - window + 1)
        lo = max(0, a - warmup)
        zs.append(data["z"][i, :, lo:a + window])
        frames = (0, 1 + 2 * (window - 1)) if a == 0 else (2 * a - 1, 2 * (a + window) - 1)
        ts.append(data["video"][i, :, frames[0]:frames[1]].float())
    return torch.stack(zs), torch.stack(ts), from_start


def load_weights(model: TinyDecoder, path: str) -> None:
    """A tiny_decoder.safetensors (as export writes it: the parameters, no buffers) into model, refusing a
    file whose tensors are not exactly model's parameters rather than leaving some of them random."""
    tensors, _ = common.load_file(path)
    names = {n for n, _ in model.named_parameters()}
    if set(tensors) != names:
        raise SystemExit(f"{path}: its tensors are not this decoder's parameters "
                         f"(missing {sorted(names - set(tensors))[:3]}, extra {sorted(set(tensors) - names)[:3]})")
    model.load_state_dict(tensors, strict=False)  # the latent mean/std buffers come from the config


def train(args):
    torch.set_num_threads(args.threads)
    run = common.run_dir("tiny-decoder")
    data = make_data(args, os.path.join(run, "data.pt"))
    cfg = TinyDecoderConfig(z_dim=data["z"].shape[1], widths=tuple(args.widths), blocks=tuple(args.blocks),
                            temporal_upsample=(True,) + (False,) * (len(args.widths) - 2))
    model = TinyDecoder(cfg, mean=data["mean"].tolist(), std=data["std"].tolist())
    init_random_(model, torch.Generator().manual_seed(args.seed))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    ck_path = os.path.join(run, "ckpt.pt")
    ck = common.load_checkpoint(ck_path)
    step = 0
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
    elif args.init:  # fine-tune a decoder already trained (for an earlier student of the same latents)
        load_weights(model, args.init)
    log = common.Log(run)
    rng = random.Random(args.seed + step)
    t0 = time.time()
    while step < args.steps:
        lr = args.lr * 0.5 * (1 + torch.cos(torch.tensor(step / args.steps * torch.pi)).item())
        for g in opt.param_groups:
            g["lr"] = lr
        z, target, starts = window_batch(data, rng, args.batch, args.window, args.warmup)
        out = model(z, starts_video=starts)
        out = out[:, :, out.shape[2] - target.shape[2]:]
        # Object pixels: far from the frame's median colour (the background), weighted as the VAE was trained.
        bg = target.flatten(3).median(3).values[..., None, None]
        weight = 1 + args.object_weight * ((target - bg).abs().amax(1, keepdim=True) > 0.3).float()
        err = out - target
        loss = (weight * (err.abs() + err ** 2)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0 or step == args.steps:
            log(step=step, loss=loss.item(), l1=err.abs().mean().item(), lr=lr, s=round(time.time() - t0, 1))
        if step % 250 == 0 or step == args.steps:
            common.save_checkpoint(ck_path, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                                             "config": dataclasses.asdict(cfg)})
    return model, data


def evaluate(model, data):
    """Whole-video L1 and PSNR against the VAE's frames on the clips kept out of training."""
    with torch.no_grad():
        out = model(data["z"][-HELD:])
        ref = data["video"][-HELD:].float()
    l1 = (out - ref).abs().mean().item()
    mse = ((out.clamp(-1, 1) - ref.clamp(-1, 1)) / 2).pow(2).mean().item()
    return {"l1": round(l1, 4), "psnr_db": round(-10 * torch.log10(torch.tensor(mse)).item(), 2)}


def export(model, out_dir: str):
    cfg = model.cfg
    weights = {n: p.detach().float().contiguous() for n, p in model.named_parameters()}
    common.save_file(weights, os.path.join(out_dir, "tiny_decoder.safetensors"), {"format": "pt"})
    card_path = os.path.join(out_dir, "model.json")
    with open(card_path) as f:
        card = json.load(f)
    card["tiny_decoder"] = {"file": "tiny_decoder.safetensors",
                            "config": {"widths": list(cfg.widths), "blocks": list(cfg.blocks),
                                       "temporal_upsample": list(cfg.temporal_upsample)}}
    with open(card_path, "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"export: {sum(p.numel() for p in weights.values())} parameters -> {out_dir}/tiny_decoder.safetensors")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "..", "weights"))
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--object-weight", type=float, default=4.0)
    ap.add_argument("--widths", type=int, nargs="+", default=[48, 32, 16])
    ap.add_argument("--blocks", type=int, nargs="+", default=[2, 1, 0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", metavar="FILE", help="start from this tiny_decoder.safetensors instead of random weights")
    ap.add_argument("--export", metavar="DIR", help="write tiny_decoder.safetensors and model.json's entry there")
    args = ap.parse_args(argv)
    model, data = train(args)
    print(f"eval ({HELD} held-out clips, whole videos):", json.dumps(evaluate(model.eval(), data)), flush=True)
    if args.export:
        export(model, args.export)


if __name__ == "__main__":
    sys.exit(main())
