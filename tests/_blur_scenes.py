"""Small synthetic blur scenes shared by the blur-field tests (tests/ is on sys.path)."""

from __future__ import annotations

import numpy as np


def rectangles(W: int, H: int, seed: int, count: int, sizes: tuple[int, int]) -> np.ndarray:
    """Sharp random rectangles (linear-light gray): step edges in every direction."""
    rng = np.random.default_rng(seed)
    img = np.full((H, W), 0.2, np.float32)
    for _ in range(count):
        x, y = rng.integers(-10, W), rng.integers(-10, H)
        w, h = rng.integers(sizes[0], sizes[1], 2)
        img[max(y, 0):y + h, max(x, 0):x + w] = rng.uniform(0.02, 1.0)
    return img


def box_x(img: np.ndarray, L: int) -> np.ndarray:
    """A horizontal box blur of L px (circular), the blur of a uniform sideways motion."""
    return np.mean([np.roll(img, k - L // 2, axis=1) for k in range(L)], axis=0).astype(np.float32)
