"""Self-checks of the evaluation code that need no trained model: the vision metrics read world.py's own
clips as their specs say, drift sees a mid-clip colour change, and the colour gain scores a full, a half, no and a reversed recolouring as 1,
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


def test_drift_reads_a_colour_change():
    spec = prompts.eval_specs()[0]
    other = "white" if spec.objects[0].colour != "white" else "red"
    recoloured = dataclasses.replace(spec, objects=(dataclasses.replace(spec.objects[0], colour=other),))
    steady = world.render(spec, 40, seed=3)
    drifted = torch.cat([steady[:, :20], world.render(recoloured, 40, seed=3)[:, 20:]], 1)
    row = metrics.drift([steady, drifted], [spec, spec])
    assert (row["colour_first_s"], row["colour_last_s"], row["colour_kept"]) == (1, 0.5, 0.5), row
    assert abs(row["area_first_s"] - row["area_last_s"]) < 0.2 * row["area_first_s"], row


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
    test_drift_reads_a_colour_change()
    test_colour_gain()
    print("ok")
