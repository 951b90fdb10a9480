"""The evaluation prompts: every held-out (colour, shape) pair, each direction, on plain backgrounds, one
object, no pan (so the vision code in metrics.py can read them). Fixed and ordered."""
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


if __name__ == "__main__":
    for s in eval_specs():
        print(s.caption())
