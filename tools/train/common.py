"""Shared plumbing for the training scripts: paths, the reference modules, checkpoints, logging."""
from __future__ import annotations

import json
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

from safetensors_io import load_file, save_file  # noqa: E402,F401

RUNS = os.environ.get("DIAGONAL_RUNS", os.path.join(HERE, "runs"))


def run_dir(name: str) -> str:
    d = os.path.join(RUNS, name)
    os.makedirs(d, exist_ok=True)
    return d


def save_checkpoint(path: str, state: dict) -> None:
    """Atomic: a crash mid-write never leaves a truncated checkpoint under the real name."""
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str):
    """The checkpoint at path (on the device in use), or None when there is none yet."""
    if not os.path.exists(path):
        return None
    return torch.load(path, weights_only=False, map_location=torch.get_default_device())


def add_device_argument(parser) -> None:
    parser.add_argument("--device", default=os.environ.get("DIAGONAL_DEVICE", "cpu"),
                        help="cpu (default) or cuda[:N]; also DIAGONAL_DEVICE")


def use_device(name: str) -> torch.device:
    """Makes `name` the default device, so modules, factories and generators land there. Clips are still
    rendered on the CPU (world.py) and moved, so data stays the same on every device."""
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {name}: PyTorch sees no CUDA device here (use --device cpu)")
    torch.set_default_device(dev)
    return dev


def generator(seed: int) -> torch.Generator:
    """A seeded generator on the device in use (random draws must come from the device they land on)."""
    return torch.Generator(device=torch.get_default_device()).manual_seed(seed)


class Log:
    """Appends one JSON line per record to DIR/log.jsonl and echoes a short line."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, "log.jsonl")
        self.t0 = time.time()

    def __call__(self, **record) -> None:
        record["elapsed_s"] = round(time.time() - self.t0, 1)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()),
              flush=True)
