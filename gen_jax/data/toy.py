"""2-D toy distributions generated in code (no download): for density models and GMMs."""

from __future__ import annotations

import numpy as np


def gaussian_mixture(n: int, *, seed: int, num_modes: int = 8, radius: float = 4.0, std: float = 0.3):
  """`num_modes` isotropic Gaussians on a circle of `radius`. float32 [n, 2], labels int32 [n]."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(num_modes, size=n)
  angles = 2 * np.pi * labels / num_modes
  centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  return (centers + std * rng.standard_normal((n, 2))).astype(np.float32), labels.astype(np.int32)


def two_moons(n: int, *, seed: int, noise: float = 0.1):
  """Two interleaving half circles. float32 [n, 2], labels int32 [n]."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(2, size=n)
  t = np.pi * rng.random(n)
  x = np.where(labels == 0, np.cos(t), 1 - np.cos(t))
  y = np.where(labels == 0, np.sin(t), 0.5 - np.sin(t))
  points = np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))
  return points.astype(np.float32), labels.astype(np.int32)


def rings(n: int, *, seed: int, num_rings: int = 3, noise: float = 0.05):
  """Concentric circles of radius 1..num_rings. float32 [n, 2], labels int32 [n]."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(num_rings, size=n)
  angles = 2 * np.pi * rng.random(n)
  radii = (labels + 1.0)[:, None]
  points = radii * np.stack([np.cos(angles), np.sin(angles)], axis=1)
  return (points + noise * rng.standard_normal((n, 2))).astype(np.float32), labels.astype(np.int32)


TOY = {"gaussian_mixture": gaussian_mixture, "two_moons": two_moons, "rings": rings}


def load_toy(name: str, n: int, *, seed: int):
  if name not in TOY:
    raise ValueError(f"unknown toy data set {name!r}; valid: {', '.join(sorted(TOY))}")
  return TOY[name](n, seed=seed)
