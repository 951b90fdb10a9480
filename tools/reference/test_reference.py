"""Self-checks of the reference. Run: venv/bin/python tools/reference/test_reference.py"""
import math
import os
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import load_file, save_file  # noqa: E402
import sampling  # noqa: E402
from wan_causal import CausalWanDiT, WanConfig, apply_rope, init_random_, rope_angles  # noqa: E402

torch.set_grad_enabled(False)
CF = 3  # frames per chunk


def tiny_model(seed=5):
    m = CausalWanDiT(WanConfig())
    init_random_(m, seed)
    return m.double().eval()


def rand(*shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


class SafetensorsTest(unittest.TestCase):
    def test_round_trip(self):
        ts = {"b.x": torch.randn(3, 5), "a": torch.arange(7, dtype=torch.int64),
              "c": torch.randn(2, 2, dtype=torch.float64), "d": torch.randn(3).to(torch.bfloat16),
              "scalar": torch.tensor(2.5)}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.safetensors")
            save_file(ts, p, {"config": '{"k": 1}'})
            back, meta = load_file(p)
            with open(p, "rb") as fh:
                raw = fh.read()
        self.assertEqual(meta, {"config": '{"k": 1}'})
        self.assertEqual(set(back), set(ts))
        for k in ts:
            self.assertEqual(back[k].dtype, ts[k].dtype)
            self.assertTrue(torch.equal(back[k], ts[k]), k)
        n = int.from_bytes(raw[:8], "little")
        self.assertEqual((8 + n) % 8, 0)
        import json
        hdr = json.loads(raw[8:8 + n])
        names = [k for k in hdr if k != "__metadata__"]
        offs = [hdr[k]["data_offsets"] for k in sorted(names)]
        self.assertEqual(offs[0][0], 0)
        for (b0, e0), (b1, _) in zip(offs, offs[1:]):
            self.assertEqual(e0, b1)  # sorted by name, packed
        self.assertEqual(offs[-1][1], len(raw) - 8 - n)


class PiecesTest(unittest.TestCase):
    def test_rope_matches_wan_complex_formulation(self):
        # transcription of Wan's rope_params / rope_apply (complex multiply, split c-2(c//3), c//3, c//3)
        d, f, h, w, start = 32, 3, 4, 4, 5

        def rope_params(n, dim):
            fr = torch.outer(torch.arange(n, dtype=torch.float64),
                             1.0 / torch.pow(10000, torch.arange(0, dim, 2).to(torch.float64).div(dim)))
            return torch.polar(torch.ones_like(fr), fr)

        freqs = torch.cat([rope_params(1024, d - 4 * (d // 6)), rope_params(1024, 2 * (d // 6)),
                           rope_params(1024, 2 * (d // 6))], dim=1)
        c = d // 2
        fs = freqs.split([c - 2 * (c // 3), c // 3, c // 3], dim=1)
        fi = torch.cat([fs[0][start:start + f].view(f, 1, 1, -1).expand(f, h, w, -1),
                        fs[1][:h].view(1, h, 1, -1).expand(f, h, w, -1),
                        fs[2][:w].view(1, 1, w, -1).expand(f, h, w, -1)], dim=-1).reshape(f * h * w, 1, -1)
        x = rand(f * h * w, 2, d, seed=3)
        ref = torch.view_as_real(torch.view_as_complex(x.reshape(f * h * w, 2, -1, 2)) * fi).flatten(2)
        got = apply_rope(x, rope_angles(d, f, h, w, start))
        self.assertLess((ref - got).abs().max().item(), 1e-12)

    def test_unpatchify_matches_wan_einsum(self):
        m = tiny_model()
        out = rand(2 * 4 * 4, 64, seed=4)
        ref = torch.einsum("fhwpqrc->cfphqwr", out.view(2, 4, 4, 1, 2, 2, 16)).reshape(16, 2, 8, 8)
        self.assertTrue(torch.equal(m._unpatchify(out, (2, 4, 4)), ref))

    def test_schedule(self):
        w = sampling.warp
        self.assertEqual([w(n) for n in (1000, 750, 500, 250)], [1000.0, 937.5, 1000 * 2.5 / 3, 625.0])
        self.assertAlmostEqual(w(100), 357.142857142857, places=9)


class CacheTest(unittest.TestCase):
    def setUp(self):
        self.m = tiny_model()
        self.ctx = self.m.encode_context(rand(8, 32, seed=1))

    def _chunked(self, lat, ts, n, capacity=None, sink=0):
        cache = self.m.new_cache(capacity, sink)
        return torch.cat([self.m.forward_chunk(lat[:, CF * k:CF * k + CF], ts[CF * k:CF * k + CF], self.ctx,
                                               cache, CF * k) for k in range(n)], dim=1)

    def test_chunked_cache_equals_block_causal_full_sequence(self):
        n = 3
        lat = rand(16, CF * n, 8, 8, seed=2)
        ts = torch.tensor([1000, 937.5, 500, 900, 400, 50, 10, 0, 777], dtype=torch.float64)
        chunk = torch.arange(CF * n) // CF
        mask = chunk[:, None] >= chunk[None, :]  # block-causal
        full = self.m.forward_masked(lat, ts, self.ctx, mask)
        got = self._chunked(lat, ts, n)
        err = (full - got).abs().max().item()
        print(f"\n  chunked-with-cache vs block-causal full sequence: max|diff| = {err:.2e}")
        self.assertLess(err, 1e-10)
        # the mask matters: full bidirectional attention gives something else
        bidir = self.m.forward_masked(lat, ts, self.ctx, torch.ones(CF * n, CF * n, dtype=torch.bool))
        self.assertGreater((bidir - got).abs().max().item(), 1e-3)

    def test_window_with_sink_equals_masked_sequence(self):
        n, cap, sink = 5, 9, 3
        lat = rand(16, CF * n, 8, 8, seed=6)
        ts = torch.linspace(1000, 0, CF * n, dtype=torch.float64)
        q = torch.arange(CF * n)[:, None]
        k = torch.arange(CF * n)[None, :]
        end = (q // CF + 1) * CF  # end of the query's chunk
        mask = (k < end) & ((k < sink) | (k >= end - (cap - sink)))
        full = self.m.forward_masked(lat, ts, self.ctx, mask)
        got = self._chunked(lat, ts, n, cap, sink)
        err = (full - got).abs().max().item()
        print(f"\n  windowed cache (9 frames, sink 3) vs masked full sequence: max|diff| = {err:.2e}")
        self.assertLess(err, 1e-10)
        unbounded = self._chunked(lat, ts, n)
        self.assertTrue(torch.equal(unbounded[:, :9], got[:, :9]))
        self.assertGreater((unbounded[:, 9:] - got[:, 9:]).abs().max().item(), 1e-3)

    def test_repeated_pass_overwrites_slots(self):
        lat = rand(16, 6, 8, 8, seed=8)
        ts = torch.full((3,), 500.0, dtype=torch.float64)
        c1 = self.m.new_cache()
        self.m.forward_chunk(rand(16, 3, 8, 8, seed=9), ts, self.ctx, c1, 0)  # junk first pass
        self.m.forward_chunk(lat[:, :3], ts, self.ctx, c1, 0)
        a = self.m.forward_chunk(lat[:, 3:], ts, self.ctx, c1, 3)
        c2 = self.m.new_cache()
        self.m.forward_chunk(lat[:, :3], ts, self.ctx, c2, 0)
        b = self.m.forward_chunk(lat[:, 3:], ts, self.ctx, c2, 3)
        self.assertTrue(torch.equal(a, b))
        self.assertEqual(c1.frames, list(range(6)))


class GoldenReloadTest(unittest.TestCase):
    def test_goldens_reproduce_from_saved_weights(self):
        import make_goldens
        with tempfile.TemporaryDirectory() as d:
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                make_goldens.main(["--out", d])
            w, meta = load_file(os.path.join(d, "tiny_weights.safetensors"))
            fw, _ = load_file(os.path.join(d, "forward.safetensors"))
            lp, lmeta = load_file(os.path.join(d, "loop_diagonal_reencode100.safetensors"))
        import json
        cfg = WanConfig(**{**json.loads(meta["config"]), "patch": tuple(json.loads(meta["config"])["patch"])})
        m = CausalWanDiT(cfg)
        self.assertEqual(set(w), set(m.state_dict()))
        m.load_state_dict(w)
        m = m.double()
        ctx = m.encode_context(fw["context"].double())
        cache = m.new_cache()
        trace = {}
        flow = m.forward_chunk(fw["latent"].double(), fw["timesteps"].double(), ctx, cache, 0, trace)
        self.assertLess((flow.float() - fw["flow"]).abs().max().item(), 1e-5)
        self.assertLess((trace["blocks.1.out"].float() - fw["blocks.1.out"]).abs().max().item(), 1e-5)
        flow2 = m.forward_chunk(fw["latent2"].double(), fw["timesteps2"].double(), ctx, cache, 3)
        self.assertLess((flow2.float() - fw["flow2"]).abs().max().item(), 1e-5)
        # replay one loop by noise name
        cache = m.new_cache()
        lat, _ = sampling.stream(m, m.encode_context(lp["context"].double()), 3, sampling.diagonal_4_3_2,
                                 sampling.ContextMode("REENCODE", 100),
                                 lambda k, i: lp[f"noise.c{k}.d{i}"], cache)
        self.assertLess((lat.float() - lp["latents"]).abs().max().item(), 1e-5)
        self.assertEqual(lmeta["schedule"], "DIAGONAL_4_3_2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
