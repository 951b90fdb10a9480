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
    return torch.load(path, weights_only=False) if os.path.exists(path) else None


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
