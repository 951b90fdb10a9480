"""Self-checks of the evaluation code that need no trained model: the vision metrics read world.py's own
clips as their specs say, rounded drawings as a person names them and a soft-edged object's colour from its
inside, the background error sees a tint, drift sees a mid-clip colour change, the
colour gain scores a full, a half, no and a reversed recolouring as 1, 0.5, 0 and -1, and the shape probe's
sampler adds exactly the shape-contrast term it names.

  venv/bin/python tools/eval/test_eval.py
"""
import dataclasses
import json
import os

import torch

import metrics
import prompts
import shape_golden
import shapeprobe
import textprobe
import world


def test_metrics_read_real_clips():
    for i, spec in enumerate(prompts.eval_specs()[:8] + prompts.seen_specs(8)):
        judged = metrics.judge(world.render(spec, 17, seed=i), spec)
        assert judged["colour"] and judged["shape"] and judged["direction"], (spec.caption(), judged)


def test_shape_reads_rounded_drawings_as_a_person_names_them():
    """Every drawing shape_golden.py names (rounded up to 0.6 of the corner, bowed, stretched, sizes 8-13) reads as
    named, and the golden file the Java test reads is what the code computes now."""
    named = 0
    for _, name, mask, person in shape_golden.drawings():
        if person is not None:
            assert metrics.shape_of_mask(mask) == person, name
            named += 1
    assert named > 30
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "test", "resources", "golden",
                           "shape_moments.json")) as f:
        golden = {r["name"]: r for r in json.load(f)}
    for _, name, mask, _ in shape_golden.drawings():
        moments = metrics.shape_moments(mask)
        assert golden[name]["read"] == metrics.shape_of_mask(mask), name
        if moments is None:
            assert golden[name]["m3"] is None, name
        else:
            assert abs(complex(*golden[name]["m3"]) - moments[0]) < 1e-12, name
            assert abs(complex(*golden[name]["m4"]) - moments[1]) < 1e-12, name


def test_a_shape_counts_only_where_it_holds():
    """A video reads as the shape seen in more than two thirds of its whole frames, and as none when the
    outline keeps changing (a blob to a person)."""
    sq, tri = shape_golden.rounded_square(11, 0.3), shape_golden.rounded_triangle(11, 0.3)
    assert metrics.shape_of(torch.stack([sq] * 7 + [tri] * 3)) == "square"
    assert metrics.shape_of(torch.stack([sq] * 6 + [tri] * 3)) is None     # exactly two thirds: not more
    assert metrics.shape_of(torch.stack([sq, tri] * 5)) is None


def test_colour_is_read_inside_the_outline():
    """A golden yellow disc on black whose edge fades over 2 px, as the VAE draws them: its whole mask averages
    nearer orange, its inside reads yellow."""
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    cover = (0.5 - (torch.sqrt((xs - 31.5) ** 2 + (ys - 31.5) ** 2) - 8) / 2).clamp(0, 1)
    video = (torch.tensor([0.92, 0.78, 0.12]).view(3, 1, 1) * cover * 2 - 1)[:, None].repeat(1, 4, 1, 1)
    masks = metrics.object_masks(video)
    whole = torch.stack([((video[c] + 1) / 2)[masks].mean() for c in range(3)])
    nearest = min(world.COLOURS, key=lambda k: float(((torch.tensor(world.COLOURS[k]) - whole) ** 2).sum()))
    assert nearest == "orange"
    assert metrics.colour_of(video, masks) == "yellow"
    thin = torch.zeros(4, 64, 64, dtype=torch.bool)
    thin[:, 30, 20:40] = True                    # no inside: the outline is all there is
    line = torch.where(thin, 1.0, -1.0).expand(3, 4, 64, 64)
    assert metrics.colour_of(line, thin) == "white"


def test_background_error_reads_a_tint():
    spec = prompts.eval_specs()[2]   # on gray
    assert spec.background == "gray"
    clip = world.render(spec, 17, seed=1)
    assert metrics.background_error(clip, spec.background) < 1e-6
    hazed = clip + 2 * torch.tensor([0.05, -0.04, 0.06])[:, None, None, None]  # [-1, 1] units: twice the RGB shift
    assert abs(metrics.background_error(hazed, spec.background) - 0.0877) < 1e-3
    assert metrics.background_error(hazed, spec.background) > metrics.BACKGROUND_OFF
    assert metrics.background_error(clip, "textured") != metrics.background_error(clip, "textured")  # NaN: no one colour


def test_drift_reads_a_colour_change():
    spec = prompts.eval_specs()[0]
    other = "white" if spec.objects[0].colour != "white" else "red"
    recoloured = dataclasses.replace(spec, objects=(dataclasses.replace(spec.objects[0], colour=other),))
    steady = world.render(spec, 40, seed=3)
    drifted = torch.cat([steady[:, :20], world.render(recoloured, 40, seed=3)[:, 20:]], 1)
    row = metrics.drift([steady, drifted], [spec, spec])
    assert (row["colour_first_s"], row["colour_last_s"], row["colour_kept"]) == (1, 0.5, 0.5), row
    assert abs(row["area_first_s"] - row["area_last_s"]) < 0.2 * row["area_first_s"], row
    assert row["background_first_s"] < 1e-6 and row["background_last_s"] < 1e-6, row


def test_colour_gain():
    spec = prompts.eval_specs()[0]
    old = spec.objects[0].colour
    new = "white" if old != "white" else "red"
    own = world.render(spec, 5, seed=1)
    recoloured = world.render(dataclasses.replace(spec, objects=(dataclasses.replace(spec.objects[0], colour=new),)),
                              5, seed=1)
    # the object's interior: its anti-aliased rim is part background, which would dilute the change
    mask = ((own + 1) / 2 - torch.tensor(world.COLOURS[old])[:, None, None, None]).abs().sum(0) < 0.02
    assert mask.sum() > 50
    assert abs(textprobe.colour_gain(own, recoloured, mask, old, new) - 1) < 0.05
    assert abs(textprobe.colour_gain(own, (own + recoloured) / 2, mask, old, new) - 0.5) < 0.05
    assert textprobe.colour_gain(own, own, mask, old, new) == 0
    assert abs(textprobe.colour_gain(recoloured, own, mask, old, new) + 1) < 0.05


def test_shape_gain():
    import nets
    step = torch.randn(3, 4, 2)
    assert torch.allclose(textprobe.latent_gain(step, step), torch.ones(3))
    assert torch.allclose(textprobe.latent_gain(-0.5 * step, step), torch.full((3,), -0.5))
    specs = prompts.eval_specs()[:4]
    drawn = {}                                    # caption -> its clip, rendered as shape_gain renders it

    class Pixels:                                 # "latents" that are the frames themselves
        def video_frames(self, latent_frames):
            return 1 + 2 * (latent_frames - 1)

        def encode(self, clips):
            return clips

    for i, s in enumerate(specs):
        for spec in (s, prompts.shape_swapped(s)):
            drawn[spec.caption()] = world.render(spec, 1, seed=i)

    def reads_caption(model, xt, t, text, mask):    # v whose x0 prediction is the caption's clip
        sigma = t[:, 0, None, None, None, None] / 1000
        return (xt - torch.stack([drawn[c] for c in text])) / sigma

    def ignores_caption(model, xt, t, text, mask):
        return xt

    saved = nets.dit_forward, nets.encode_text
    nets.encode_text = lambda t5, captions: captions
    try:
        for forward, want in ((reads_caption, 1.0), (ignores_caption, 0.0)):
            nets.dit_forward = forward
            got = textprobe.shape_gain(None, None, Pixels(), specs, 1, (0.8,))[0.8]
            assert abs(got - want) < 1e-4, (forward.__name__, got)
    finally:
        nets.dit_forward, nets.encode_text = saved


def test_shape_contrast_guidance():
    """With a velocity that depends on the caption only, Euler from sigma 1 to 0 lands at noise - v, so the
    sample shows the guided velocity exactly: CFG, plus the shape term, which vanishes when the other
    captions are the caption itself."""
    import nets
    specs = prompts.eval_specs()[:2]
    captions = [s.caption() for s in specs]
    others = [shapeprobe.other_shapes(s) for s in specs]
    assert all(len(row) == len(world.SHAPES) - 1 and s.caption() not in row for s, row in zip(specs, others))
    shape = (4, 1, 2, 2)
    gen = torch.Generator().manual_seed(3)
    vel = {c: torch.randn(shape, generator=gen) for c in captions + [""] + [c for row in others for c in row]}
    noise = torch.randn((2,) + shape, generator=gen)
    saved = nets.dit_forward, nets.encode_text
    nets.encode_text = lambda t5, caps: list(caps)
    nets.dit_forward = lambda model, x, t, text, mask: torch.stack([vel[c] for c in text])
    try:
        plain = shapeprobe.sample(None, None, captions, others, noise, guidance=2.0, shape_guidance=0.0, steps=4)
        guided = shapeprobe.sample(None, None, captions, others, noise, guidance=2.0, shape_guidance=3.0, steps=4)
        selves = shapeprobe.sample(None, None, captions, [[c] * 3 for c in captions], noise, 2.0, 3.0, steps=4)
    finally:
        nets.dit_forward, nets.encode_text = saved
    vc = torch.stack([vel[c] for c in captions])
    vu = torch.stack([vel[""]] * 2)
    vo = torch.stack([torch.stack([vel[c] for c in row]).mean(0) for row in others])
    assert torch.allclose(plain, noise - (vu + 2 * (vc - vu)), atol=1e-5)
    assert torch.allclose(guided, noise - (vu + 2 * (vc - vu) + 3 * (vc - vo)), atol=1e-5)
    assert torch.allclose(selves, plain, atol=1e-6)


def test_shape_confusion_of_real_clips():
    specs = prompts.eval_specs()[:8]
    videos = [world.render(s, 9, seed=i) for i, s in enumerate(specs)]
    got = shapeprobe.confusion(videos, specs)
    assert sum(got.values()) == len(specs)
    assert all(k.split("->")[0] == k.split("->")[1] for k in got), got


if __name__ == "__main__":
    test_metrics_read_real_clips()
    test_shape_reads_rounded_drawings_as_a_person_names_them()
    test_a_shape_counts_only_where_it_holds()
    test_colour_is_read_inside_the_outline()
    test_background_error_reads_a_tint()
    test_drift_reads_a_colour_change()
    test_colour_gain()
    test_shape_gain()
    test_shape_contrast_guidance()
    test_shape_confusion_of_real_clips()
    print("ok")
