"""Contact sheets as PNG (no imaging library needed): rows of frames, for eyeballing data and samples."""
from __future__ import annotations

import struct
import zlib

import torch


def write_png(path: str, rgb: torch.Tensor) -> None:
    """rgb [3, H, W] in [-1, 1] -> an 8-bit PNG."""
    img = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[y].cpu().numpy().tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def sheet(videos: torch.Tensor, every: int = 2) -> torch.Tensor:
    """videos [N, 3, T, H, W] -> one image: a row per video, every `every`-th frame."""
    rows = [torch.cat(list(v[:, ::every].unbind(1)), dim=2) for v in videos]
    return torch.cat(rows, dim=1)


def grid(tiles: list, columns: int, fill: float = -1.0) -> torch.Tensor:
    """Equally sized images [3, H, W], `columns` to a row, the last row padded with `fill` -> one image."""
    tiles = tiles + [torch.full_like(tiles[0], fill)] * (-len(tiles) % columns)
    return torch.cat([torch.cat(tiles[r:r + columns], dim=2) for r in range(0, len(tiles), columns)], dim=1)
