"""Self-checks of the training code against tools/reference (whose outputs the Java engine matches):
the batched DiT forward, and the KV-cache rollout (window, sink, both context rules) against the reference
streaming loop."""
import argparse
import contextlib
import json
import os
import tempfile

import torch

import common  # noqa: F401  (puts tools/reference on the path)
import nets
import rollouts
import sampling as ref
from wan_causal import KVCache, init_random_


def random_model():
    m = nets.new_dit()
    init_random_(m, 3)
    return m.double(), nets.new_t5().double()


def drawn_once(seed):
    """noise(k, i) for rollouts: draw i of chunk k, drawn on first use and the same on every later call, so
    two rollouts (or a rollout and the reference stream) see the same noise."""
    g = torch.Generator().manual_seed(seed)
    draws = {}

    def noise(k, i):
        if (k, i) not in draws:
            draws[(k, i)] = torch.randn(1, nets.DIT.in_dim, 3, 16, 16, generator=g, dtype=torch.float64)
        return draws[(k, i)]
    return noise


def test_batched_forward_matches_reference():
    m, t5 = random_model()
    lat = torch.randn(2, nets.DIT.in_dim, 6, 16, 16, dtype=torch.float64)
    ts = torch.rand(2, 6, dtype=torch.float64) * 1000
    txt = nets.encode_text(t5, ["a red circle", "hello"])
    for causal in (True, False):
        mask = nets.frame_mask(6, causal)
        out = nets.dit_forward(m, lat, ts, txt, mask)
        for i in range(2):
            ref = m.forward_masked(lat[i], ts[i], m.encode_context(txt[i]),
                                   mask if causal else torch.ones(6, 6, dtype=torch.bool))
            assert (out[i] - ref).abs().max() < 1e-10


def test_batched_text_matches_reference():
    t5 = nets.new_t5().double()
    prompts = ["a red circle moving left on a black background", "hi", "", "ünïcode ✓ " * 20]
    out = nets.encode_text(t5, prompts)
    assert out.shape == (4, nets.T5.text_len, nets.T5.dim)
    assert (out - nets.encode_text_one_by_one(t5, prompts)).abs().max() < 1e-10


def test_rollout_matches_reference_stream():
    m, t5 = random_model()
    txt = nets.encode_text(t5, ["a blue square moving left"])
    noise = drawn_once(5)
    for context, mode, window, sink in (("reuse", ref.ContextMode("REUSE"), 9, 0),
                                        ("reencode", ref.ContextMode("REENCODE", 0.0), 9, 0),
                                        ("reuse", ref.ContextMode("REUSE"), 9, 3),
                                        ("reuse", ref.ContextMode("REUSE"), 12, 3)):
        ours, _ = rollouts.rollout(m, txt, 5, rollouts.DIAGONAL_4_3_2, context, 0.0, noise=noise, window=window,
                                   sink=sink)
        cache = KVCache(m.cfg.num_layers, capacity=window, sink=sink)
        steps = lambda k: rollouts.steps_for(rollouts.DIAGONAL_4_3_2, k)  # noqa: E731
        theirs, _ = ref.stream(m, m.encode_context(txt[0]), 5, steps, mode, lambda k, i: noise(k, i)[0], cache,
                               reencode_last=False)
        err = (ours[0] - theirs).abs().max().item()
        assert err < 1e-9, (context, window, sink, err)


def test_random_exit_scores_an_earlier_step_and_keeps_the_inference_cache():
    """exit_step e: chunk k's output is the x0 of its step min(e, steps - 1), while the cache the next chunk
    reads is the one inference writes. So the last chunk of a 4-3-2 rollout exited at step 0 is what a
    rollout whose last chunk has the one step [1000] outputs (its earlier chunks, run whole, write the same
    cache), its first chunk what a one-step rollout outputs, and exiting at the last step changes nothing."""
    m, t5 = random_model()
    txt = nets.encode_text(t5, ["a blue square moving left"])
    noise = drawn_once(7)
    full = rollouts.DIAGONAL_4_3_2
    whole, _ = rollouts.rollout(m, txt, 3, full, noise=noise, sink=3)
    at_last, _ = rollouts.rollout(m, txt, 3, full, noise=noise, sink=3, exit_step=3)
    assert (whole - at_last).abs().max() == 0
    first, _ = rollouts.rollout(m, txt, 3, full, noise=noise, sink=3, exit_step=0)
    one_step_last, _ = rollouts.rollout(m, txt, 3, (full[0], full[1], [1000.0]), noise=noise, sink=3)
    one_step, _ = rollouts.rollout(m, txt, 1, ([1000.0],), noise=noise, sink=3)
    assert (first[:, :, 6:] - one_step_last[:, :, 6:]).abs().max() < 1e-12
    assert (first[:, :, :3] - one_step[:, :, :3]).abs().max() < 1e-12
    assert (first - whole).abs().max() > 1e-3    # the outputs did change
    # The exit call carries the gradient, every chunk's.
    scored, _ = rollouts.rollout(m, txt, 3, full, noise=noise, sink=3, grad_last_step=True, exit_step=1)
    scored[:, :, 6:].sum().backward()    # the last chunk's alone: its exit call is in the graph
    assert sum(p.grad.abs().sum() for p in m.parameters() if p.grad is not None) > 0


def test_teacher_sample_resumes_at_a_sigma():
    """SDEdit (noiseprobe.py): starting at sigma s from the state a full sample passed through at s walks
    the same grid below s, so it ends where the full sample does."""
    m, t5 = random_model()
    captions = ["a red circle moving left on a black background", "a blue square"]
    noise = torch.randn(2, nets.DIT.in_dim, 3, 16, 16, generator=common.generator(4), dtype=torch.float64)
    full, kept = rollouts.teacher_sample(m, t5, captions, frames=3, steps=8, guidance=2.0, keep=(0.6,),
                                         noise=noise)
    resumed, _ = rollouts.teacher_sample(m, t5, captions, frames=3, steps=8, guidance=2.0, noise=kept[0.6],
                                         start=0.6)
    assert (full - resumed).abs().max() < 1e-10
    assert (full - kept[0.6]).abs().max() > 1e-3  # the walk below 0.6 did something


def test_teacher_sample_takes_the_high_teacher_above_its_sigma_where_marked():
    """distill.py ode --high-teacher: the walk takes the second teacher's velocity above high_above, and with
    `where` only in the marked cells: nowhere marked is the first teacher's walk, everywhere the second's
    above that sigma, which differs from both."""
    low, t5 = random_model()
    high = nets.new_dit()
    init_random_(high, 4)
    high = high.double()
    captions = ["a red circle moving left on a black background", "a blue square"]
    noise = torch.randn(2, nets.DIT.in_dim, 3, 16, 16, generator=common.generator(4), dtype=torch.float64)
    walk = lambda **kw: rollouts.teacher_sample(low, t5, captions, frames=3, steps=8, guidance=2.0,  # noqa: E731
                                                noise=noise, **kw)[0]
    alone, above = walk(), walk(high=high, high_above=0.6)
    assert (walk(high=high, high_above=0.6, where=lambda x0: torch.zeros_like(x0[:, :1])) - alone).abs().max() < 1e-12
    assert (walk(high=high, high_above=0.6, where=lambda x0: torch.ones_like(x0[:, :1])) - above).abs().max() < 1e-12
    assert (walk(high=high, high_above=1.0) - alone).abs().max() < 1e-12, "no step starts above sigma 1"
    high_alone = rollouts.teacher_sample(high, t5, captions, frames=3, steps=8, guidance=2.0, noise=noise)[0]
    assert (above - alone).abs().max() > 1e-3 and (above - high_alone).abs().max() > 1e-3
    other = nets.new_t5(5).double()     # a high teacher with its own text encoder walks on its own embeddings
    own = walk(high=high, high_above=0.6, high_t5=other)
    assert (own - above).abs().max() > 1e-3
    assert (walk(high=high, high_above=0.6, high_t5=t5) - above).abs().max() < 1e-12


def test_ode_low_teacher_walks_the_pairs_and_the_student_starts_from_the_teacher():
    """distill.py ode --low-teacher: the trajectories are that teacher's walk through its own text encoder,
    while the student is runs/teacher's DiT (at lr 0 it stays bit-identical to it)."""
    import distill
    teacher, low = nets.new_dit(), nets.new_dit()
    init_random_(teacher, 5)
    init_random_(low, 6)
    t5, low_t5 = nets.new_t5(), nets.new_t5(7)
    with scratch_runs():
        common.save_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt",
                               {"ema": {"dit": teacher.state_dict(), "t5": t5.state_dict()}})
        path = f"{common.run_dir('low')}/ckpt.pt"
        common.save_checkpoint(path, {"ema": {"dit": low.state_dict(), "t5": low_t5.state_dict()}})
        distill.train_ode(argparse.Namespace(schedule="diagonal", steps=1, pairs=4, batch=2, guidance=2.0, lr=0.0,
                                             high_teacher=None, high_above=0.6, high_on_objects=False,
                                             low_teacher=path))
        pairs = common.load_checkpoint(f"{common.run_dir('ode')}/pairs.pt")
        student = common.load_checkpoint(f"{common.run_dir('ode-diagonal')}/student.pt")["dit"]
    keep = sorted(pairs["states"], reverse=True)
    def walk(dit, enc):
        return rollouts.teacher_sample(dit, enc, pairs["captions"], gen=common.generator(3000), keep=keep,
                                       guidance=2.0)[0]
    with torch.no_grad():
        by_low, by_teacher = walk(low, low_t5), walk(teacher, t5)
    assert (pairs["x0"] - by_low).abs().max() < 1e-5 and (pairs["x0"] - by_teacher).abs().max() > 1e-3
    assert all(torch.equal(student[k], v) for k, v in teacher.state_dict().items())


def test_scored_window_takes_the_first_at_its_share_and_draws_as_before_without_one():
    """distill.py dmd --first-window: that share of steps scores the stream's first window; at 0 the windows
    (and the generator's state after them) are what they were before the flag."""
    import distill
    gen, old = common.generator(1), common.generator(1)
    plain = [distill.scored_window(8, 3, 0.0, gen) for _ in range(200)]
    assert plain == [int(torch.randint(0, 6, (1,), generator=old)) for _ in range(200)]
    assert set(plain) == set(range(6)) and all(distill.scored_window(3, 3, 0.0, gen) == 0 for _ in range(5))
    assert all(distill.scored_window(8, 3, 1.0, gen) == 0 for _ in range(50))
    half = [distill.scored_window(8, 3, 0.5, gen) for _ in range(600)]
    assert 0.5 + 0.5 / 6 - 0.07 < half.count(0) / 600 < 0.5 + 0.5 / 6 + 0.07


def test_motion_term_has_a_gradient():
    """The released code's first flow loss ran without gradient and did nothing; ours must move x."""
    from distill import dmd_losses
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 8, 9, 4, 4, generator=g, requires_grad=True)
    real = torch.randn(2, 8, 9, 4, 4, generator=g)
    # A fake score that has caught up with the generator (fake == x): the term then pulls x's temporal
    # differences toward the teacher's, so a step along -grad lowers |dx - real_dx|.
    dmd, motion = dmd_losses(x, real, x.detach())
    grad, = torch.autograd.grad(motion, x)
    assert grad.abs().sum() > 0
    dx = lambda t: t[:, :, 1:] - t[:, :, :-1]  # noqa: E731
    before = (dx(x) - dx(real)).abs().mean()
    after = (dx(x - 0.1 * grad / grad.abs().max()) - dx(real)).abs().mean()
    assert after < before, (before, after)


def test_motion_guidance_reaches_the_motion_term_only_and_a_constant_tint_does_nothing_there():
    """--motion-guidance gives the motion term its own teacher prediction: the appearance term is unchanged,
    a prediction that differs by a colour constant over time (a tint) leaves the motion term as it was, and
    one that moves differently changes it."""
    from distill import dmd_losses
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 8, 9, 4, 4, generator=g)
    real, fake = torch.randn(2, 8, 9, 4, 4, generator=g), torch.randn(2, 8, 9, 4, 4, generator=g)
    dmd, motion = dmd_losses(x, real, fake)
    tint = torch.randn(2, 8, 1, 1, 1, generator=g)
    dmd_t, motion_t = dmd_losses(x, real, fake, real + tint)
    assert dmd_t == dmd and abs(motion_t - motion) < 1e-6 * motion
    moved = real + torch.linspace(0, 1, 9)[None, None, :, None, None] * tint
    assert abs(dmd_losses(x, real, fake, moved)[1] - motion) > 1e-3


def test_teacher_mix_parses_and_rejects():
    from teacher import parse_mix
    assert parse_mix("1:48,3:24,9:8") == [(1, 48), (3, 24), (9, 8)]
    for bad in ("0:8", "3:0", "3"):
        try:
            parse_mix(bad)
        except (SystemExit, ValueError):
            continue
        raise AssertionError(f"--mix {bad!r} was accepted")


def test_stage_round_trip():
    """stage.py keeps a checkpoint's weights (nested EMA dicts too) and its step, and never overwrites."""
    import stage
    with scratch_runs():
        check_stage_round_trip(stage)


def check_stage_round_trip(stage):
    ck = {"dit": {"a.weight": torch.randn(3, 2)}, "t5": {"b": torch.ones(4)},
          "ema": {"dit": {"a.weight": torch.zeros(3, 2)}, "t5": {"b": torch.full((4,), 2.0)}},
          "opt": {"state": {}}, "step": 1234, "decoder_only": True}
    common.save_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt", ck)
    stage.save("teacher")
    assert_refused(lambda: stage.restore("teacher"), "exists", "restore overwrote a checkpoint")
    os.remove(f"{common.run_dir('teacher')}/ckpt.pt")
    back = common.load_checkpoint(stage.restore("teacher"))
    assert back["step"] == 1234 and back["decoder_only"] is True and "opt" not in back
    for k in ("dit", "t5"):
        for n, t in ck[k].items():
            assert torch.equal(back[k][n], t) and torch.equal(back["ema"][k][n], ck["ema"][k][n])
    # The VAE stage carries the latents' statistics with it, and a restored stage saved again stays the same.
    stats = {"mean": torch.tensor([0.5, -0.25]), "std": torch.tensor([1.5, 2.0])}
    common.save_checkpoint(f"{common.run_dir('vae')}/ckpt.pt", {"model": {"enc.w": torch.ones(2)}, "step": 7})
    common.save_checkpoint(f"{common.run_dir('vae')}/stats.pt", stats)
    stage.save("vae")
    os.remove(f"{common.run_dir('vae')}/ckpt.pt")
    os.remove(f"{common.run_dir('vae')}/stats.pt")
    stage.restore("vae")
    again = common.load_checkpoint(f"{common.run_dir('vae')}/stats.pt")
    assert all(torch.equal(again[k], stats[k]) for k in stats)
    stage.save("vae")
    _, meta = common.load_file(os.path.join(stage.STAGES, "vae.safetensors"))
    assert json.loads(meta["scalars"]) == {"step": 7}, meta


def assert_refused(call, words: str, accepted: str) -> None:
    """call() must stop with a SystemExit whose message holds `words`; `accepted` is the failure if it does not."""
    try:
        call()
    except SystemExit as e:
        assert words in str(e), str(e)
    else:
        raise AssertionError(accepted)


@contextlib.contextmanager
def scratch_runs():
    """common.RUNS and stage.STAGES pointed at a temporary folder for the duration (training scripts write
    under runs/, stage.py under stages/)."""
    import stage
    saved = common.RUNS, stage.STAGES
    with tempfile.TemporaryDirectory() as d:
        common.RUNS, stage.STAGES = os.path.join(d, "runs"), os.path.join(d, "stages")
        try:
            yield d
        finally:
            common.RUNS, stage.STAGES = saved


def test_vae_joint_phase_keeps_a_decoder_only_checkpoint():
    """Rerunning the recipe's joint VAE phase over a checkpoint already in the long-clip phase changes nothing."""
    import vae
    with scratch_runs():
        path = f"{common.run_dir('vae')}/ckpt.pt"
        common.save_checkpoint(path, {"model": vae.Autoencoder().state_dict(), "step": 10, "decoder_only": True})
        before = os.path.getmtime(path), open(path, "rb").read()
        vae.train(argparse.Namespace(run="vae", decoder_only=False, lr=1e-3, steps=900))
        assert (os.path.getmtime(path), open(path, "rb").read()) == before


def test_vae_latent_width_follows_the_checkpoint():
    """A VAE trained at another latent width (--z-dim) loads and resumes at its own width, whatever the flag."""
    import vae
    with scratch_runs():
        ck = {"model": vae.Autoencoder(vae.config(8)).state_dict(), "step": 10}
        assert vae.z_dim_of(ck) == 8
        z = vae.load(ck).encoder(torch.zeros(1, 3, 3, 64, 64))
        assert z.shape == (1, 8, 2, 16, 16)
        common.save_checkpoint(f"{common.run_dir('wide')}/ckpt.pt", ck)
        vae.train(argparse.Namespace(run="wide", decoder_only=False, lr=1e-3, steps=10, z_dim=16))  # no error


def test_latents_refuse_a_vae_of_another_width():
    """A VAE from before the latent width changed must stop the DiT stages with the reason, not a shape error."""
    import latents
    import vae
    with scratch_runs():
        common.save_checkpoint(f"{common.run_dir('vae')}/ckpt.pt",
                               {"model": vae.Autoencoder(vae.config(nets.DIT.in_dim // 2)).state_dict(), "step": 1})
        assert_refused(latents.LatentSource, "latent channels", "a VAE of the wrong width was accepted")


def untrained_textbind_inputs():
    """What textbind.py reads besides its teacher, in the scratch runs/: an untrained VAE with unit latent
    statistics; and a fresh DiT and text encoder with their state dicts, for the caller's checkpoint."""
    import vae
    common.save_checkpoint(f"{common.run_dir('vae')}/ckpt.pt", {"model": vae.Autoencoder().state_dict(), "step": 1})
    z = vae.CONFIG.z_dim
    common.save_checkpoint(f"{common.run_dir('vae')}/stats.pt", {"mean": torch.zeros(z), "std": torch.ones(z)})
    dit, t5 = nets.new_dit(), nets.new_t5()
    return dit, t5, {"dit": dit.state_dict(), "t5": t5.state_dict()}


def test_textbind_resumes_a_restored_stage():
    """stage.py keeps no optimizer state; textbind.py must resume such a checkpoint at its step, not fail on it."""
    import stage
    import textbind
    with scratch_runs():
        _, _, weights = untrained_textbind_inputs()
        common.save_checkpoint(f"{common.run_dir('textbind')}/ckpt.pt",
                               {**weights, "ema": weights, "opt": {}, "textbind_step": 50, "step": 8100})
        stage.save("textbind")
        os.remove(f"{common.run_dir('textbind')}/ckpt.pt")
        stage.restore("textbind")
        textbind.main(argparse.Namespace(steps=51, mix="1:2", drop=0.1, sigma_min=0.5, sigma_max=0.9, object_weight=8.0,
                                         lr=3e-4, ema=0.99, twins=True, pool=2, run="textbind", weight_below=0.5,
                                         contrast=1.0, shared_above=0.7, freeze_t5=False))
        back = common.load_checkpoint(f"{common.run_dir('textbind')}/ckpt.pt")
        assert back["textbind_step"] == 51 and back["step"] == 8100 and "opt" in back


def test_repair_with_a_frozen_text_encoder_moves_the_dit_only():
    """--freeze-t5: the stage's text encoder (weights and EMA) comes out bit-identical, its DiT does not; bit for
    bit, since distill.py --high-teacher pairs two such teachers on one caption embedding."""
    import textbind
    with scratch_runs():
        dit, t5, weights = untrained_textbind_inputs()
        common.save_checkpoint(f"{common.run_dir('teacher')}/ckpt.pt", {**weights, "ema": weights, "step": 8100})
        textbind.main(argparse.Namespace(steps=3, mix="1:2", drop=0.1, sigma_min=0.0, sigma_max=0.6, object_weight=4.0,
                                         lr=1e-3, ema=0.99, twins=False, pool=0, run="repair", weight_below=1.0,
                                         contrast=0.0, shared_above=1.0, freeze_t5=True))
        back = common.load_checkpoint(f"{common.run_dir('repair')}/ckpt.pt")
        for part in (back["t5"], back["ema"]["t5"]):
            assert all(torch.equal(part[k], v) for k, v in t5.state_dict().items())
        assert any(not torch.equal(back["ema"]["dit"][k], v) for k, v in dit.state_dict().items())


def test_high_teacher_scores_above_its_sigma_only():
    """distill.py --high-teacher: samples above --high-above get the second teacher's CFG x0, the rest the
    teacher's (with --high-above-later, frames after the first chunk by their own threshold; with
    --high-on-objects, only in the cells distill.object_cells finds; with --high-outline-only, the object's
    mean stays the low teacher's; with --low-teacher, the low teacher reads its own embeddings, and a high
    teacher with another text encoder reads its own too); one with the teacher's encoder shares its embedding."""
    import distill
    torch.manual_seed(0)
    low, high, t5 = nets.new_dit(0), nets.new_dit(1), nets.new_t5()
    with torch.no_grad():   # a fresh DiT's head is zero: every one would predict the same
        for p in list(low.parameters()) + list(high.parameters()):
            p.add_(0.05 * torch.randn_like(p))
    text = nets.encode_text(t5, ["a red circle moving up on a black background"] * 2)
    uncond = nets.encode_text(t5, [""] * 2)
    xt = torch.randn(2, 16, 3, 8, 8)
    sigma = torch.tensor([0.3, 0.9])
    with torch.no_grad():
        got = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond)
        want_low = distill.x0_pred(low, xt[:1], sigma[:1], text[:1], 2.0, uncond[:1])
        want_high = distill.x0_pred(high, xt[1:], sigma[1:], text[1:], 2.0, uncond[1:])
    assert torch.allclose(got[:1], want_low, atol=1e-5) and torch.allclose(got[1:], want_high, atol=1e-5)
    assert not torch.allclose(want_high, distill.x0_pred(low, xt[1:], sigma[1:], text[1:], 2.0, uncond[1:]))
    with torch.no_grad():   # --high-above-later 0.95, a 1-frame head: only the 0.9 sample's first frame is high's
        split = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond, later_above=0.95, head=1)
        low_of_high = distill.x0_pred(low, xt[1:], sigma[1:], text[1:], 2.0, uncond[1:])
    assert torch.allclose(split[:1], want_low, atol=1e-5)
    assert torch.allclose(split[1:, :, :1], want_high[:, :, :1], atol=1e-5)
    assert torch.allclose(split[1:, :, 1:], low_of_high[:, :, 1:], atol=1e-5)
    where = torch.zeros(2, 1, 3, 8, 8)
    where[:, :, :, 2:5, 3:6] = 1.0
    with torch.no_grad():   # --high-on-objects: above the threshold, high's prediction inside `where` only
        masked = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond, where=where)
    assert torch.allclose(masked[:1], want_low, atol=1e-5)
    assert torch.allclose(masked[1:], torch.where(where[1:] > 0, want_high, low_of_high), atol=1e-5)
    with torch.no_grad():   # --high-outline-only: inside `where`, high's pattern around low's mean
        outline = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond, where=where, low_mean=True)
    box = (slice(1, 2), slice(None), slice(None), slice(2, 5), slice(3, 6))
    assert torch.allclose(outline[box].mean(dim=(3, 4)), low_of_high[:, :, :, 2:5, 3:6].mean(dim=(3, 4)), atol=1e-5)
    dev = lambda t: t - t.mean(dim=(3, 4), keepdim=True)  # noqa: E731
    assert torch.allclose(dev(outline[box]), dev(want_high[:, :, :, 2:5, 3:6]), atol=1e-5)
    assert torch.allclose(outline[1:, :, :, 5:], low_of_high[:, :, :, 5:], atol=1e-5)
    other = nets.encode_text(nets.new_t5(5), ["a red circle moving up on a black background"] * 2)
    with torch.no_grad():   # --low-teacher: the low teacher reads its own text encoder's embeddings
        own = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond, low_text=(other, uncond))
        want_own = distill.x0_pred(low, xt[:1], sigma[:1], other[:1], 2.0, uncond[:1])
    assert torch.allclose(own[:1], want_own, atol=1e-5) and torch.allclose(own[1:], want_high, atol=1e-5)
    assert not torch.allclose(want_own, want_low, atol=1e-3)
    with torch.no_grad():   # a high teacher with its own text encoder
        own_high = distill.real_x0(low, high, 0.6, xt, sigma, text, 2.0, uncond, high_text=(other, uncond))
        want_own_high = distill.x0_pred(high, xt[1:], sigma[1:], other[1:], 2.0, uncond[1:])
    assert torch.allclose(own_high[:1], want_low, atol=1e-5) and torch.allclose(own_high[1:], want_own_high, atol=1e-5)
    assert not torch.allclose(want_own_high, want_high, atol=1e-3)
    frame = torch.full((1, 16, 1, 8, 8), -1.0)
    frame[..., 2:4, 5:7] = 3.0      # a 2x2 object on a plain background with a little texture
    frame += 0.05 * torch.randn_like(frame)
    cells = distill.object_cells(frame)
    assert cells[0, 0, 0, 2:4, 5:7].eq(1).all() and cells.sum() == 4, "the object's cells, and only them"
    frame[..., 6, 1] += 0.5         # a faint blotch on the clean background is not an object
    assert distill.object_cells(frame).equal(cells)
    with scratch_runs():
        path = f"{common.run_dir('other')}/ckpt.pt"
        other = {k: v + 0.01 for k, v in t5.state_dict().items()}
        common.save_checkpoint(path, {"ema": {"dit": high.state_dict(), "t5": other}})
        dit, own = distill.load_high_teacher(path, t5)
        assert own is not None and all(torch.equal(own.state_dict()[k], v) for k, v in other.items())
        assert all(torch.equal(dit.state_dict()[k], v) for k, v in high.state_dict().items())
        common.save_checkpoint(path, {"ema": {"dit": high.state_dict(), "t5": t5.state_dict()}})
        assert distill.load_high_teacher(path, t5)[1] is None, "the teacher's own encoder: one embedding for both"


def test_twins_differ_in_one_caption_word_and_its_pixels():
    """A twin pair shares background, size, start and speed: its first object differs in one caption word,
    the clips only where either draws an object, and no twin is a held-out pair."""
    import random
    import world
    clips, captions, specs = world.batch(random.Random(4), 40, 5, twins=True)
    for i in range(0, 40, 2):
        a, b = specs[i], specs[i + 1]
        assert a.background == b.background and a.pan == b.pan and a.objects[1:] == b.objects[1:]
        fields = ("colour", "shape", "direction", "speed")
        assert sum(getattr(a.objects[0], f) != getattr(b.objects[0], f) for f in fields) == 1, (captions[i:i + 2])
        assert (specs[i + 1].objects[0].colour, specs[i + 1].objects[0].shape) not in world.HELD_OUT
        drawn = world.object_pixels(clips[i:i + 2]).amax(0)                     # [1, T, H, W] either draws an object
        drawn = torch.nn.functional.max_pool2d(drawn[0], 5, 1, 2)                 # and its anti-aliased rim
        same = (clips[i] - clips[i + 1]).abs().amax(0) < 1e-6
        assert bool(same[drawn == 0].all()) and not bool(same.all())
    try:
        world.batch(random.Random(4), 3, 1, twins=True)
    except ValueError:
        pass
    else:
        raise AssertionError("an odd batch of twins was accepted")


def test_twin_pool_keeps_pairs_and_loss_shares_their_noise():
    """A LatentPool of twins hands out and refreshes whole pairs, and the twin loss gives a pair one noise
    and one sigma: two identical clips under one caption then have equal per-sample errors."""
    import random
    import teacher
    from latents import LatentPool

    class Source:  # a pair is two clips of the same value, so pair integrity shows in the values
        def __init__(self):
            self.n = 0

        def batch_with_objects(self, rng, n, frames, twins=False):
            assert twins and n % 2 == 0
            vals = [self.n + i // 2 for i in range(n)]
            self.n += n
            x0 = torch.tensor(vals, dtype=torch.float32).view(n, 1, 1, 1, 1).expand(n, 2, frames, 2, 2).clone()
            return x0, [f"c{v}" for v in vals], torch.zeros(n, 1, frames, 2, 2)

    rng = random.Random(1)
    pool = LatentPool(Source(), rng, 1, 8, 2, twins=True)
    for _ in range(20):
        x0, captions, _ = pool.batch_with_objects(rng, 6, 1, twins=True)
        assert torch.equal(x0[0::2], x0[1::2]) and captions[0::2] == captions[1::2]

    seen = []

    def forward(model, xt, t, text, mask):
        seen.append((xt, t))
        return torch.zeros_like(xt)

    saved = nets.dit_forward
    nets.dit_forward = forward
    try:
        x0 = torch.randn(2, 1, 1, 2, 2).repeat_interleave(2, 0)
        data = type("Fixed", (), {"batch_with_objects": lambda self, rng, n, f, twins: (x0, ["a"] * 4,
                                                                                         torch.zeros(4, 1, 1, 2, 2))})()
        teacher.batch_loss(None, None, data, random.Random(0), common.generator(0), 1, 4, 0.0, 0.0, 0.0,
                           encode=lambda t5, c: None, twins=True)
    finally:
        nets.dit_forward = saved
    xt, t = seen[0]
    assert torch.equal(xt[0::2], xt[1::2]) and torch.equal(t[0::2], t[1::2]) and not torch.equal(xt[0], xt[2])


def test_twin_contrast_loss_and_shared_inputs():
    """Above shared_above a twin pair's second clip gets the first's noisy input, below it its own; the
    contrast term is the pair's relative error of the prediction difference: 0 for a network that predicts
    every target, 1 for one whose two predictions of a pair are equal, and left out for dropped captions."""
    import teacher
    x0 = torch.randn(4, 2, 1, 2, 2)
    sigma = torch.tensor([0.9, 0.9, 0.3, 0.3])[:, None]
    seen = {}

    def forward(model, xt, t, text, mask):
        seen["xt"] = xt
        return seen["answer"](xt)

    saved = nets.dit_forward
    nets.dit_forward = forward
    try:
        def run(answer, contrast, kept=None):
            seen["answer"] = answer
            return teacher.flow_loss(None, None, x0, ["a"] * 4, sigma, None, common.generator(3), None,
                                     lambda t5, c: None, True, contrast, kept, 0.5)
        noise = torch.randn(x0.shape, generator=common.generator(3))
        noise[1::2] = noise[0::2]
        target = noise - x0
        exact = run(lambda xt: target.clone(), 1.0)
        xt = seen["xt"]
        assert torch.equal(xt[1], xt[0]) and not torch.equal(xt[3], xt[2])
        assert torch.allclose(xt[2:], (0.7 * x0 + 0.3 * noise)[2:])
        assert float(exact) < 1e-10
        same = lambda xt: torch.zeros_like(xt)                                  # noqa: E731
        assert abs(float(run(same, 2.0)) - float(run(same, 0.0)) - 2.0) < 1e-5    # relative error 1 per pair
        dropped = float(run(same, 2.0, torch.tensor([False, False]))) - float(run(same, 0.0))
        assert abs(dropped) < 1e-6
    finally:
        nets.dit_forward = saved


def test_object_weight_stays_below_its_sigma():
    """weight_below: object positions weigh more only in samples whose sigma is at most that; above it the
    loss is plain flow matching (every weight 1)."""
    import random
    import teacher
    got = {}

    def capture(dit, t5, x0, captions, sigma, mask, gen, weight, encode, twins, *contrast_args):
        got.update(sigma=sigma[:, 0], weight=weight)
        return torch.zeros(())

    objects = torch.zeros(64, 1, 1, 2, 2)
    objects[:, :, :, 0, 0] = 1
    data = type("Fixed", (), {"batch_with_objects": lambda self, rng, n, f, twins: (torch.zeros(n, 1, 1, 2, 2),
                                                                                     ["a"] * n, objects)})()
    saved = teacher.flow_loss
    teacher.flow_loss = capture
    try:
        teacher.batch_loss(None, None, data, random.Random(0), common.generator(0), 1, 64, 0.0, 0.0, 4.0,
                           weight_below=0.5)
    finally:
        teacher.flow_loss = saved
    high, low = got["sigma"] > 0.5, got["sigma"] <= 0.5
    assert high.any() and low.any()
    w = got["weight"].flatten(1)
    assert torch.allclose(w[high], w[high][0, 1].expand_as(w[high])) and bool((w[low][:, 0] > 2 * w[low][:, 1]).all())


def test_judge_labels_and_gradient():
    """The judge's targets are each spec's first object, and its loss, of any subset of its readings, has a
    gradient that moves frames toward the asked reading (distill.py --judge-weight trains a student through it)."""
    import judge
    import world
    spec = world.ClipSpec((world.ObjectSpec("red", "triangle", "up", ""),), "black", None)
    assert judge.labels([spec]).tolist() == [[judge.COLOURS.index("red"), world.SHAPES.index("triangle"),
                                              judge.DIRECTIONS.index("up")]]
    torch.manual_seed(0)
    j = judge.Judge(8)
    video = torch.randn(2, 3, 1 + 2 * (judge.LATENT_FRAMES - 1), 64, 64, requires_grad=True)
    target = judge.labels([spec, spec])
    for heads in (judge.HEADS, ("shape",)):
        loss = judge.loss_of(j, video, target, heads)
        assert loss.shape == (2,)
        grad, = torch.autograd.grad(loss.sum(), video)
        assert grad.abs().sum() > 0
        assert judge.loss_of(j, video - 0.05 * grad / grad.abs().max(), target, heads).sum() < loss.sum()
    shape_only = judge.loss_of(j, video, target, ("shape",))
    assert torch.allclose(shape_only, torch.nn.functional.cross_entropy(j(video)[1], target[:, 1], reduction="none"))


def test_tiny_decoder_weights_load_whole_or_not_at_all():
    """The judge's tiny decoder is the shipped one, every parameter of it; a file missing one is refused
    (decoder.py --init reads files the same way)."""
    import decoder
    import judge
    weights = os.path.join(common.HERE, "..", "..", "weights")
    dec = judge.tiny_decoder(weights)
    shipped, _ = common.load_file(os.path.join(weights, "tiny_decoder.safetensors"))
    assert all(torch.equal(p, shipped[n]) for n, p in dec.named_parameters())
    assert not any(p.requires_grad for p in dec.parameters())
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "partial.safetensors")
        common.save_file({n: t for n, t in list(shipped.items())[1:]}, path, {"format": "pt"})
        assert_refused(lambda: decoder.load_weights(dec, path), "missing",
                       "a tiny decoder file missing a parameter was loaded")


def test_device_selection():
    """--device cpu works everywhere; cuda without a visible device stops with a clear message, not later."""
    assert common.use_device("cpu").type == "cpu"
    a, b = common.generator(3), common.generator(3)
    assert torch.equal(torch.randn(4, generator=a), torch.randn(4, generator=b))
    if not torch.cuda.is_available():
        assert_refused(lambda: common.use_device("cuda"), "no CUDA device", "--device cuda was accepted without CUDA")
        assert torch.get_default_device().type == "cpu"


def test_soup_interpolates_a_shared_parents_students_and_refuses_strangers():
    """soup.py: (1 - w) A + w B per float tensor, written where export.py reads a student; students of
    different shapes or tensors, or differing integer buffers, are refused by name rather than averaged."""
    import soup
    a, b = nets.new_dit().state_dict(), nets.new_dit().state_dict()
    for t in b.values():
        if t.is_floating_point():
            t.add_(torch.randn_like(t))
    mixed = soup.soup(a, b, 0.25)
    name = next(n for n, t in a.items() if t.is_floating_point() and t.numel() > 1)
    assert torch.allclose(mixed[name], 0.75 * a[name] + 0.25 * b[name], atol=1e-6)
    assert all(torch.equal(soup.soup(a, b, 0.0)[n], a[n]) for n in a)
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, f"{k}.pt") for k in "ab"]
        for path, sd in zip(paths, (a, b)):
            common.save_checkpoint(path, {"dit": sd, "step": 200})
        out = os.path.join(d, "soup", "ckpt.pt")
        soup.main([*paths, "--weight", "0.25", "--out", out])
        student = nets.new_dit()
        student.load_state_dict(common.load_checkpoint(out)["dit"])
        assert torch.allclose(student.state_dict()[name], mixed[name])
        assert_refused(lambda: soup.main([*paths, "--weight", "1.5", "--out", out]), "2", "a weight of 1.5 was accepted")
    for broken, words in (({k: v for k, v in b.items() if k != name}, "differ in their tensors"),
                          ({**b, name: b[name][..., :1]}, name)):
        try:
            soup.soup(a, broken, 0.5)
        except ValueError as e:
            assert words in str(e), str(e)
        else:
            raise AssertionError("students that do not match were averaged")


def test_export_keeps_a_tiny_decoder_of_the_same_vae_only():
    """export.py rewrites model.json for a new student; the tiny decoder beside it stays listed while the VAE
    (and its latent statistics) is the one it was trained for, and is dropped when the VAE changed."""
    import export
    vae = {"file": "vae.safetensors", "config": {"z_dim": 16, "latent_mean": [0.1], "latent_std": [1.0]}}
    tiny = {"file": "tiny_decoder.safetensors", "config": {"widths": [48, 32, 16]}}
    with tempfile.TemporaryDirectory() as d:
        assert export.kept_tiny_decoder(d, {"vae": vae}) == {}
        with open(os.path.join(d, "model.json"), "w") as f:
            json.dump({"vae": vae, "tiny_decoder": tiny}, f)
        assert export.kept_tiny_decoder(d, {"vae": vae}) == {}, "listed a tiny decoder whose file is not there"
        open(os.path.join(d, "tiny_decoder.safetensors"), "wb").close()
        assert export.kept_tiny_decoder(d, {"vae": vae}) == {"tiny_decoder": tiny}
        other = {**vae, "config": {**vae["config"], "latent_mean": [0.2]}}
        assert export.kept_tiny_decoder(d, {"vae": other}) == {}


if __name__ == "__main__":
    test_batched_forward_matches_reference()
    test_batched_text_matches_reference()
    test_rollout_matches_reference_stream()
    test_random_exit_scores_an_earlier_step_and_keeps_the_inference_cache()
    test_teacher_sample_resumes_at_a_sigma()
    test_teacher_sample_takes_the_high_teacher_above_its_sigma_where_marked()
    test_motion_term_has_a_gradient()
    test_motion_guidance_reaches_the_motion_term_only_and_a_constant_tint_does_nothing_there()
    test_teacher_mix_parses_and_rejects()
    test_device_selection()
    test_stage_round_trip()
    test_vae_joint_phase_keeps_a_decoder_only_checkpoint()
    test_vae_latent_width_follows_the_checkpoint()
    test_latents_refuse_a_vae_of_another_width()
    test_textbind_resumes_a_restored_stage()
    test_repair_with_a_frozen_text_encoder_moves_the_dit_only()
    test_high_teacher_scores_above_its_sigma_only()
    test_twins_differ_in_one_caption_word_and_its_pixels()
    test_twin_pool_keeps_pairs_and_loss_shares_their_noise()
    test_twin_contrast_loss_and_shared_inputs()
    test_object_weight_stays_below_its_sigma()
    test_judge_labels_and_gradient()
    test_tiny_decoder_weights_load_whole_or_not_at_all()
    test_soup_interpolates_a_shared_parents_students_and_refuses_strangers()
    test_export_keeps_a_tiny_decoder_of_the_same_vae_only()
    print("ok")
