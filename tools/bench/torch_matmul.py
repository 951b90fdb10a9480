"""Times PyTorch's CPU matmul at the DiT's GEMM shapes, to set the Java GEMM's GFLOP/s beside it.

Same layout as the engine's linear: x [n, k] times w [m, k] transposed (torch.nn.functional.linear), fp32,
and bf16 weights widened per call the way a bf16 checkpoint would be used without a bf16 GEMM.
Run in the same sitting as the Java probe, with the same thread count:
    venv/bin/python tools/bench/torch_matmul.py --threads 2
"""
import argparse
import time

import torch

SHAPES = [(4680, 1536, 1536), (4680, 1536, 8960), (4680, 8960, 1536), (144, 64, 64), (144, 64, 160)]


def bench(fn, min_seconds):
    """Best single-call time (as the Java GemmProbe reports), over at least min_seconds and 5 calls."""
    fn()  # warm-up
    best, runs, start = float("inf"), 0, time.perf_counter()
    while runs < 5 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds per shape")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'n x k x m':>20} {'f32 GFLOP/s':>12} {'bf16-w GFLOP/s':>15}")
    for n, k, m in SHAPES:
        x = torch.randn(n, k)
        w = torch.randn(m, k) / k ** 0.5
        wb = w.to(torch.bfloat16)
        flops = 2.0 * n * k * m
        f32 = flops / bench(lambda: torch.nn.functional.linear(x, w), args.seconds) / 1e9
        b16 = flops / bench(lambda: torch.nn.functional.linear(x, wb.float()), args.seconds) / 1e9
        print(f"{f'{n}x{k}x{m}':>20} {f32:12.1f} {b16:15.1f}")


if __name__ == "__main__":
    main()
