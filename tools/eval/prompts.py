"""The evaluation prompts: every held-out (colour, shape) pair, each direction, on plain backgrounds, one
object, no pan (so the vision code in metrics.py can read them); and as many prompts of pairs seen in
training, so the table separates "cannot draw it at all" from "cannot compose an unseen pair". Fixed and
ordered."""
import dataclasses
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import world  # noqa: E402

PLAIN = ("black", "dark blue", "gray")


def eval_specs():
    out = []
    for i, (colour, shape) in enumerate(sorted(world.HELD_OUT)):
        for j, d in enumerate(sorted(world.DIRECTIONS)):
            bg = PLAIN[(i + j) % len(PLAIN)]
            out.append(world.ClipSpec((world.ObjectSpec(colour, shape, d, ""),), bg, None))
    return out


def seen_specs(n: int = 24):
    """n training (colour, shape) pairs, spread over colours, shapes, directions and backgrounds."""
    pairs = [(c, s) for s in world.SHAPES for c in sorted(world.COLOURS) if (c, s) not in world.HELD_OUT]
    out = []
    for i in range(n):
        colour, shape = pairs[(i * 7) % len(pairs)]
        d = sorted(world.DIRECTIONS)[i % len(world.DIRECTIONS)]
        out.append(world.ClipSpec((world.ObjectSpec(colour, shape, d, ""),), PLAIN[(i // 4) % len(PLAIN)], None))
    return out


if __name__ == "__main__":
    for s in eval_specs() + seen_specs():
        print(s.caption())


def shape_swapped(spec):
    """The spec with its object's shape changed to the next of world.SHAPES (textprobe.py, noiseprobe.py)."""
    obj = spec.objects[0]
    shape = world.SHAPES[(world.SHAPES.index(obj.shape) + 1) % len(world.SHAPES)]
    return dataclasses.replace(spec, objects=(dataclasses.replace(obj, shape=shape),))
