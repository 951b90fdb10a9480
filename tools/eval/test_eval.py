"""Self-checks of the evaluation code that need no trained model: the vision metrics read world.py's own
clips as their specs say, and the colour gain scores a full, a half, no and a reversed recolouring as 1,
0.5, 0 and -1.

  venv/bin/python tools/eval/test_eval.py
"""
import dataclasses

import torch

import metrics
import prompts
import textprobe
import world


def test_metrics_read_real_clips():
    for i, spec in enumerate(prompts.eval_specs()[:8] + prompts.seen_specs(8)):
        judged = metrics.judge(world.render(spec, 17, seed=i), spec)
        assert judged["colour"] and judged["shape"] and judged["direction"], (spec.caption(), judged)


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


if __name__ == "__main__":
    test_metrics_read_real_clips()
    test_colour_gain()
    print("ok")
