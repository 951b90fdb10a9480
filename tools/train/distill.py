"""The causal students, from the teacher:

  ode   ODE-regression initialisation (Self-Forcing's ode_init): teacher trajectories with CFG, and the
        chunk-causal student learns to map each chunk's state at its step-list timesteps to the trajectory's
        end, seeing earlier chunks as inference will (their last-step inputs).
  dmd   Diagonal Distillation: Self-Forcing rollouts with the student's own step lists and context rule
        (rollouts.rollout, exactly as Java infers), a DMD loss against the teacher (CFG) with a trained fake
        score, plus the flow distribution-matching term on temporal differences (frame weights growing
        along time). --schedule uniform gives the Self-Forcing-style 4-step baseline with the same budget.

  venv/bin/python tools/train/distill.py ode --schedule diagonal --steps 300
  venv/bin/python tools/train/distill.py dmd --schedule diagonal --steps 150 --init runs/ode-diagonal/student.pt
"""
from __future__ import annotations

import argparse
import copy
import os
import random

import torch

import common
import nets
import rollouts
import world
from teacher import flow_loss, sample_sigma


def load_teacher(path=None, flag="--low-teacher"):
    """A frozen teacher (dit, text encoder) from a checkpoint's EMA: runs/teacher's, or path's (given as flag)."""
    ck = common.load_checkpoint(path or f"{common.run_dir('teacher')}/ckpt.pt")
    if ck is None:
        raise SystemExit(f"{flag} {path}: no such checkpoint" if path else
                         "no teacher checkpoint: run tools/train/teacher.py first")
    dit, t5 = nets.new_dit(), nets.new_t5()
    dit.load_state_dict(ck["ema"]["dit"])
    t5.load_state_dict(ck["ema"]["t5"])
    for p in list(dit.parameters()) + list(t5.parameters()):
        p.requires_grad_(False)
    return dit, t5


def load_high_teacher(path, t5):
    """A second teacher for the real score above --high-above: (dit, text encoder). The text encoder is None
    when it is the teacher's (a stage run with textbind.py --freeze-t5 keeps it), so one caption embedding
    serves both; otherwise the high teacher reads the captions through its own."""
    dit, own = load_teacher(path, "--high-teacher")
    theirs = own.state_dict()
    same = all(torch.equal(theirs[k], v) for k, v in t5.state_dict().items())
    return dit, None if same else own


def object_cells(x, k=2.0, of_max=0.3):
    """[B, 1, F, h, w] 1.0 where a latent frame's cell is far from the frame's median latent (its background:
    objects cover a fifth of a frame): farther than k times the median distance and than of_max times the
    farthest cell's, else 0.0. The second bound keeps a clean plain background, whose median distance is
    tiny, from marking its faint blotches as object. On world.py's clips this finds 77% of the object map
    latents.py pools from pixels, at 79% precision (the first bound alone: 83% at 66%)."""
    med = x.flatten(3).median(dim=3).values[..., None, None]
    dist = (x - med).pow(2).sum(1, keepdim=True).sqrt()
    flat = dist.flatten(3)
    bound = torch.maximum(k * flat.median(dim=3).values, of_max * flat.max(dim=3).values)[..., None, None]
    return (dist > bound).float()


def real_x0(teacher, high, high_above, xt, sigma, text, guidance, uncond, later_above=None, head=0, where=None,
            low_text=None, low_mean=False, high_text=None):
    """The teacher's CFG x0 prediction, from the high teacher (if any) above high_above. With later_above,
    frames from `head` on (the chunks after the stream's first) take the high teacher only above that sigma
    instead. With `where` ([B, 1, F, h, w] in [0, 1]), the high teacher's prediction counts only there and
    the teacher's elsewhere; with low_mean, there too only its pattern counts (its deviation from its own mean
    over the marked cells, per channel and frame: the outline, not the colour), added to the teacher's mean
    there. low_text, high_text: (text, uncond) the teacher or the high teacher reads instead, when it has its
    own text encoder (--low-teacher, or a high teacher whose encoder is not runs/teacher's). A sample goes
    through both teachers only when its frames need both."""
    low_text, low_uncond = low_text if low_text is not None else (text, uncond)
    high_text, high_uncond = high_text if high_text is not None else (text, uncond)
    if high is None:
        return x0_pred(teacher, xt, sigma, low_text, guidance, low_uncond)
    later_above = high_above if later_above is None else later_above
    frame = torch.arange(xt.shape[2])[None]
    use_high = torch.where(frame < head, (sigma > high_above)[:, None], (sigma > later_above)[:, None])  # [B, F]
    need_low = ~use_high if where is None else torch.ones_like(use_high)
    low, real = torch.zeros_like(xt), torch.zeros_like(xt)
    rows = need_low.any(1)
    if rows.any():
        low[rows] = x0_pred(teacher, xt[rows], sigma[rows], low_text[rows], guidance, low_uncond[rows])
    rows = use_high.any(1)
    if rows.any():
        real[rows] = x0_pred(high, xt[rows], sigma[rows], high_text[rows], guidance, high_uncond[rows])
    if where is not None:
        if low_mean:
            cells = where.sum(dim=(3, 4), keepdim=True).clamp(min=1)
            real = real - ((real - low) * where).sum(dim=(3, 4), keepdim=True) / cells
        real = low + where * (real - low)
    return torch.where(use_high[:, None, :, None, None], real, low)


def schedule_of(name):
    return {"diagonal": rollouts.DIAGONAL_4_3_2, "uniform": rollouts.UNIFORM_4}[name]


# ----------------------------------------------------------------------------------------------- ODE init

def ode_pairs(dit, t5, n, batch, out, guidance, high=(None, None), high_above=1.0, on_objects=False):
    """Teacher trajectories through the step-list sigmas: {sigma: states [n, C, F, h, w]}, x0, captions.
    With a high teacher, its velocity above high_above (in the object's cells only, with on_objects)."""
    path = f"{out}/pairs.pt"
    have = common.load_checkpoint(path)
    if have is not None and have["x0"].shape[0] >= n:
        return have
    keep = sorted({round(t / 1000, 6) for sched in (rollouts.DIAGONAL_4_3_2, rollouts.UNIFORM_4)
                   for lst in sched for t in lst}, reverse=True)
    rng, gen = random.Random(3000), common.generator(3000)
    states, x0s, caps = {k: [] for k in keep}, [], []
    for i in range(0, n, batch):
        captions = [world.sample_spec(rng).caption() for _ in range(batch)]
        x0, kept = rollouts.teacher_sample(dit, t5, captions, gen=gen, keep=keep, guidance=guidance,
                                           high=high[0], high_t5=high[1], high_above=high_above,
                                           where=object_cells if on_objects else None)
        for k in keep:
            states[k].append(kept[k])
        x0s.append(x0)
        caps += captions
        print(f"ode pairs {i + batch}/{n}", flush=True)
    pairs = {"states": {k: torch.cat(v) for k, v in states.items()}, "x0": torch.cat(x0s), "captions": caps}
    common.save_checkpoint(path, pairs)
    return pairs


def train_ode(args):
    out = common.run_dir(f"ode-{args.schedule}")
    teacher, t5 = load_teacher()
    # --low-teacher walks the trajectories in the teacher's place; the student still starts from runs/teacher
    # and reads the captions through its text encoder. The contrast teacher's own samples put a purple haze on
    # gray (0.155 from the asked gray, against the refit's 0.026): with --high-on-objects its binding reaches
    # the trajectories and its tint does not.
    walker, walker_t5 = load_teacher(args.low_teacher) if args.low_teacher else (teacher, t5)
    high = load_high_teacher(args.high_teacher, walker_t5) if args.high_teacher else (None, None)
    pairs = ode_pairs(walker, walker_t5, args.pairs, 16, common.run_dir("ode"), args.guidance, high,
                      args.high_above, args.high_on_objects)
    student = copy.deepcopy(teacher)
    for p in student.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen = common.generator(4000)
    log = common.Log(out)
    sched = schedule_of(args.schedule)
    # What a finished chunk looks like to the next one: its last-step input (reuse), or clean (re-encode at 0).
    ctx_sigma = round(sched[0][-1] / 1000, 6) if args.schedule == "diagonal" else 0.0
    n = pairs["x0"].shape[0]
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        k = int(torch.randint(0, 3, (1,), generator=gen))            # the chunk trained this step
        steps = rollouts.steps_for(sched, k)
        t = steps[int(torch.randint(0, len(steps), (1,), generator=gen))]
        f0, f1 = 3 * k, 3 * k + 3
        ctx = (pairs["states"][ctx_sigma] if ctx_sigma > 0 else pairs["x0"])[idx][:, :, :f0]
        cur = pairs["states"][round(t / 1000, 6)][idx][:, :, f0:f1]
        inp = torch.cat([ctx, cur], 2)
        ts = torch.cat([torch.full((args.batch, f0), ctx_sigma * 1000), torch.full((args.batch, 3), t)], 1)
        text = nets.encode_text(t5, [pairs["captions"][i] for i in idx.tolist()])
        v = nets.dit_forward(student, inp, ts, text, nets.frame_mask(f1, True))[:, :, f0:]
        x0 = cur - (t / 1000) * v
        loss = (x0 - pairs["x0"][idx][:, :, f0:f1]).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        if step % 10 == 0:
            log(step=step, loss=loss.item(), chunk=k, t=t)
    common.save_checkpoint(f"{out}/student.pt", {"dit": student.state_dict()})


# ----------------------------------------------------------------------------------------------- DMD

def x0_pred(dit, xt, sigma, text, guidance=None, uncond=None):
    t = (sigma * 1000)[:, None].expand(-1, xt.shape[2])
    if guidance is None:
        v = nets.dit_forward(dit, xt, t, text, None)
    else:
        v = rollouts.cfg_velocity(dit, xt, t, torch.cat([text, uncond]), guidance)
    return xt - sigma[:, None, None, None, None] * v


def dmd_losses(x, real, fake, real_motion=None):
    """DMD on the samples and on their temporal differences (the flow distribution-matching term).
    x: generated latents (with grad); real/fake: x0 predictions of the teacher (CFG) and the fake score;
    real_motion: the teacher's prediction the motion term reads instead (another CFG weight), if given."""
    grad = (fake - real) / (x - real).abs().mean(dim=(1, 2, 3, 4), keepdim=True).clamp(min=1e-6)
    dmd = 0.5 * (x - (x - grad).detach()).pow(2).mean()
    real = real if real_motion is None else real_motion
    dx, rdx, fdx = (t[:, :, 1:] - t[:, :, :-1] for t in (x, real, fake))
    gm = (fdx - rdx) / (dx - rdx).abs().mean(dim=(1, 2, 3, 4), keepdim=True).clamp(min=1e-6)
    per_frame_err = (dx - rdx).abs().mean(dim=(0, 1, 3, 4)).detach()          # [F-1]
    f = torch.arange(dx.shape[2], dtype=x.dtype)
    growth = 1.2 ** f
    w = 0.7 * (1 + per_frame_err.cumsum(0) / per_frame_err.sum().clamp(min=1e-6)) + 0.3 * growth / growth.mean()
    motion = ((dx - (dx - gm).detach()).pow(2).mean(dim=(0, 1, 3, 4)) * w).mean()
    return dmd, motion


def scored_window(chunks: int, span: int, first_share: float, gen) -> int:
    """The first chunk of the window a DMD step scores in a rollout of `chunks`: a random one, or with
    probability first_share the stream's first (its rollout then stops after the window). Long rollouts
    alone cleaned the gray backgrounds but cost the two-teacher students the first chunks' direction; the
    share keeps both in training. The share's draw is skipped at 0, so older runs draw as before."""
    if chunks == span or (first_share > 0 and torch.rand(1, generator=gen).item() < first_share):
        return 0
    return int(torch.randint(0, chunks - span + 1, (1,), generator=gen))


def train_dmd(args):
    out = common.run_dir(args.run or f"dmd-{args.schedule}")
    teacher, t5 = load_teacher()
    high, high_t5 = load_high_teacher(args.high_teacher, t5) if args.high_teacher else (None, None)
    # --low-teacher: the real score outside the high teacher's share from another teacher, which reads the
    # captions through its own text encoder; the student and its fake score keep runs/teacher's.
    low, low_t5 = load_teacher(args.low_teacher) if args.low_teacher else (teacher, None)
    student = copy.deepcopy(teacher)
    if args.init:
        init = common.load_checkpoint(args.init)
        if init is None:   # a typo here would otherwise distill from the teacher's weights without a word
            raise SystemExit(f"--init {args.init}: no such checkpoint")
        student.load_state_dict(init["dit"])
    fake = copy.deepcopy(teacher)
    if args.fake_init:
        init = common.load_checkpoint(args.fake_init)
        if init is None:
            raise SystemExit(f"--fake-init {args.fake_init}: no such checkpoint")
        fake.load_state_dict(init["dit"])
    for p in list(student.parameters()) + list(fake.parameters()):
        p.requires_grad_(True)
    g_opt = torch.optim.AdamW(student.parameters(), lr=args.lr, betas=(0.0, 0.999), weight_decay=0.0)
    f_opt = torch.optim.AdamW(fake.parameters(), lr=args.critic_lr, betas=(0.0, 0.999), weight_decay=0.0)
    step = 0
    ck = common.load_checkpoint(f"{out}/ckpt.pt")
    if ck:
        student.load_state_dict(ck["dit"])
        fake.load_state_dict(ck["fake"])
        g_opt.load_state_dict(ck["g_opt"])
        f_opt.load_state_dict(ck["f_opt"])
        step = ck["step"]
        for opt, lr in ((g_opt, args.lr), (f_opt, args.critic_lr)):  # a resumed stage runs at the rates it is given
            for g in opt.param_groups:
                g["lr"] = lr
    rng, gen = random.Random(5000 + step), common.generator(5000 + step)
    schedule = schedule_of(args.schedule)
    context = "reuse" if args.schedule == "diagonal" else "reencode"
    log = common.Log(out)
    if args.judge_weight:
        import judge as judges
        judge, decoder = judges.load(), judges.tiny_decoder(args.judge_model)
    with torch.no_grad():   # the empty caption's embeddings do not change from step to step
        empty = [""] * args.batch
        uncond, low_uncond, high_uncond = (None if enc is None else nets.encode_text(enc, empty)
                                           for enc in (t5, low_t5, high_t5))
    while step < args.steps:
        specs = [world.sample_spec(rng) for _ in range(args.batch)]
        captions = [s.caption() for s in specs]
        with torch.no_grad():
            text = nets.encode_text(t5, captions)
        # Generator update: roll out exactly as inference does, gradient through each chunk's last call.
        # Longer rollouts score a random training-length window of them, so chunks past the first window
        # (where the cache has rolled and holds only 2-step chunks) are trained too, not only extrapolated.
        span = nets.TRAIN_FRAMES // nets.CHUNK
        first = scored_window(args.rollout_chunks, span, args.first_window, gen)
        exit_step = int(torch.randint(0, len(schedule[0]), (1,), generator=gen)) if args.random_exit else None
        x, _ = rollouts.rollout(student, text, first + span, schedule, context, 0.0, gen, grad_last_step=True,
                                grad_from=first, window=args.window, sink=args.sink, exit_step=exit_step)
        x = x[:, :, first * nets.CHUNK:]
        sigma = (0.02 + 0.96 * torch.rand(args.batch, generator=gen))
        noise = torch.randn(x.shape, generator=gen)
        s = sigma[:, None, None, None, None]
        xt = ((1 - s) * x + s * noise).detach()
        with torch.no_grad():
            # The stream's first chunk sets the colour the later ones inherit from the cache: --high-above-later
            # lets only it lean on the high teacher's binding in the band where that teacher's colour drifts.
            # --high-on-objects: that teacher's colour drift tints the background too (gray to purple), while
            # what it adds, the caption's binding, is in the object; its cells are found in the sample itself.
            low_text = None if low_t5 is None else (nets.encode_text(low_t5, captions), low_uncond)
            high_text = None if high_t5 is None else (nets.encode_text(high_t5, captions), high_uncond)
            cells = object_cells(x.detach()) if args.high_on_objects else None

            def real_at(guidance):
                return real_x0(low, high, args.high_above, xt, sigma, text, guidance, uncond,
                               args.high_above_later, nets.CHUNK if first == 0 else 0, cells, low_text,
                               args.high_outline_only, high_text)
            real = real_at(args.guidance)
            # --motion-guidance: the caption's pull on motion (direction) made stronger without the colour
            # shift a stronger CFG gives the whole frame: a constant tint has no temporal difference.
            real_motion = None if args.motion_guidance in (None, args.guidance) else real_at(args.motion_guidance)
            fk = x0_pred(fake, xt, sigma, text)
        dmd, motion = dmd_losses(x, real, fk, real_motion)
        g_loss = dmd + args.motion_weight * motion
        extra = {}
        if args.judge_weight:
            # The judge's reading of the window against what the caption asks of its one object; two-object
            # captions are left to DMD alone.
            single = torch.tensor([len(s.objects) == 1 for s in specs])
            if single.any():
                asked = judges.labels([s for s, k in zip(specs, single) if k])
                judged = judges.loss_of(judge, decoder(x[single]), asked, args.judge_heads.split(",")).mean()
                g_loss = g_loss + args.judge_weight * judged
                extra["judge"] = judged.item()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 10.0)
        g_opt.step()
        # Fake-score updates: ordinary flow matching on the student's samples.
        for _ in range(args.critic_steps):
            sig = sample_sigma(args.batch, gen)[:, None].expand(-1, x.shape[2])
            f_loss = flow_loss(fake, t5, x.detach(), captions, sig, None, gen)
            f_opt.zero_grad(set_to_none=True)
            f_loss.backward()
            torch.nn.utils.clip_grad_norm_(fake.parameters(), 10.0)
            f_opt.step()
        step += 1
        log(step=step, dmd=dmd.item(), motion=motion.item(), fake=f_loss.item(), **extra)
        if step % 10 == 0 or step == args.steps:
            common.save_checkpoint(f"{out}/ckpt.pt", {"dit": student.state_dict(), "fake": fake.state_dict(),
                                                      "g_opt": g_opt.state_dict(), "f_opt": f_opt.state_dict(),
                                                      "step": step})


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("ode", "dmd"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--pairs", type=int, default=256)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--critic-lr", type=float, default=1e-4)
    p.add_argument("--critic-steps", type=int, default=2)
    # Standard CFG (uncond + g·(cond - uncond)). The paper's teacher uses 3.0 in Self-Forcing's convention
    # (= 4.0 here); our small teacher oversaturates at 4, so the default is 2.
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--motion-weight", type=float, default=1.0)
    p.add_argument("--motion-guidance", type=float, default=None,
                   help="dmd: the CFG weight of the teacher prediction the motion term reads (default: --guidance)")
    p.add_argument("--high-teacher", metavar="CKPT",
                   help="the real score (dmd) or the trajectories' velocity (ode) above --high-above comes from "
                        "this teacher checkpoint instead, through its own text encoder if it is not the teacher's")
    p.add_argument("--high-above", type=float, default=0.6, help="the sigma above which --high-teacher counts")
    p.add_argument("--high-on-objects", action="store_true",
                   help="--high-teacher counts only in the sample's object cells (distill.object_cells)")
    p.add_argument("--high-outline-only", action="store_true",
                   help="dmd: with --high-on-objects, the object's mean latent (its colour) stays the low teacher's")
    p.add_argument("--fake-init", metavar="CKPT",
                   help="dmd: the fake score starts from this student checkpoint instead of the teacher")
    p.add_argument("--low-teacher", metavar="CKPT",
                   help="the real score (dmd) or the trajectories' velocity (ode) outside --high-teacher's share "
                        "comes from this teacher checkpoint, through its own text encoder")
    p.add_argument("--high-above-later", type=float, default=None,
                   help="dmd: the same for the frames after the stream's first chunk (default: --high-above)")
    p.add_argument("--random-exit", action="store_true",
                   help="dmd: score each chunk's x0 at a random step of its list (one draw a rollout, Self-Forcing's "
                        "exit), not always its last, so the first steps, where motion is decided, are trained too")
    p.add_argument("--schedule", choices=("diagonal", "uniform"), default="diagonal")
    p.add_argument("--init", default=None)
    p.add_argument("--run", default=None,
                   help="dmd: the run directory under runs/ (default dmd-SCHEDULE); a copy of one made part-way "
                        "branches it, so two later stages can start from one checkpoint (soup.py averages them)")
    p.add_argument("--rollout-chunks", type=int, default=3,
                   help="dmd: chunks per rollout; a random window of the training length is scored")
    p.add_argument("--first-window", type=float, default=0.0,
                   help="dmd: with --rollout-chunks, the share of steps that score the stream's first window")
    p.add_argument("--window", type=int, default=nets.TRAIN_FRAMES, help="dmd: KV cache window, latent frames")
    p.add_argument("--sink", type=int, default=0, help="dmd: leading latent frames the cache never evicts")
    p.add_argument("--judge-weight", type=float, default=0.0,
                   help="dmd: weight of the learned judge's cross-entropy (judge.py) on the decoded rollouts")
    p.add_argument("--judge-heads", default="shape", help="dmd: which of the judge's readings count (colour,shape,direction)")
    p.add_argument("--judge-model", default=os.path.join(common.HERE, "..", "..", "weights"),
                   help="dmd: the model directory whose tiny decoder decodes rollouts for the judge")
    common.add_device_argument(p)
    a = p.parse_args()
    common.use_device(a.device)
    if a.rollout_chunks < nets.TRAIN_FRAMES // nets.CHUNK:
        p.error(f"--rollout-chunks must be at least {nets.TRAIN_FRAMES // nets.CHUNK} (one training clip)")
    if not 0.0 <= a.first_window <= 1.0:
        p.error("--first-window is a share, from 0 to 1")
    if a.high_on_objects and not a.high_teacher:
        p.error("--high-on-objects needs --high-teacher")
    if a.high_outline_only and not a.high_on_objects:
        p.error("--high-outline-only needs --high-on-objects")
    if a.lr is None:
        a.lr = 2e-4 if a.mode == "ode" else 3e-5
    (train_ode if a.mode == "ode" else train_dmd)(a)
