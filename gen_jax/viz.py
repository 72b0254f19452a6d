"""Pictures: image grids and loss curves (PNG, headless matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def to_uint8(images) -> np.ndarray:
  """Pixels in [0, 1] (floats, any shape) -> uint8 in [0, 255], rounded."""
  return np.round(np.clip(np.asarray(images, np.float32), 0, 1) * 255).astype(np.uint8)


def image_grid(images: np.ndarray, *, columns: int | None = None, pad: int = 2) -> np.ndarray:
  """uint8 [N, H, W, C] -> one uint8 [rows*(H+pad)+pad, cols*(W+pad)+pad, C] mosaic."""
  images = np.asarray(images)
  if images.ndim != 4 or images.dtype != np.uint8:
    raise ValueError(f"expected uint8 images [N, H, W, C], got {images.dtype} {images.shape}")
  n, h, w, c = images.shape
  columns = columns or math.ceil(math.sqrt(n))
  rows = math.ceil(n / columns)
  grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
  return grid


def save_grid(images: np.ndarray, path: str | Path, *, labels=None, columns: int | None = None) -> None:
  """Writes a PNG mosaic of `images`; conditional samples are ordered by their label."""
  images = np.asarray(images)
  if labels is not None:
    order = np.argsort(np.asarray(labels), kind="stable")
    images = images[order]
  grid = image_grid(images, columns=columns)
  cmap = "gray" if grid.shape[-1] == 1 else None
  plt.imsave(str(path), grid[..., 0] if grid.shape[-1] == 1 else grid, cmap=cmap, vmin=0, vmax=255)


def plot_curves(records: list[dict], path: str | Path) -> None:
  """One panel per metric (loss first), train and eval curves against the step."""
  latest = {}
  for r in records:  # a resumed run may log a step twice: the later line wins
    latest[(r.get("split", "train"), r["step"])] = r
  panel = lambda k: k.removeprefix("test_")  # test_loss is drawn on the loss panel
  skip = ("step", "split", "examples_per_sec")
  keys = sorted({panel(k) for r in latest.values() for k in r if k not in skip}, key=lambda k: (k != "loss", k))
  if not keys:
    return
  fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
  for ax, key in zip(axes[0], keys):
    for split in ("train", "eval"):
      points = sorted((s, v) for (sp, s), r in latest.items() if sp == split
                      for k, v in r.items() if k not in skip and panel(k) == key)
      if points:
        steps, values = zip(*points)
        ax.plot(steps, values, "o-" if len(points) < 3 else "-", label=split, markersize=3)
    ax.set_xlabel("step")
    ax.set_title(key)
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def save_samples(samples: np.ndarray, path: str | Path, *, labels=None) -> None:
  """A grid for uint8 images [N, H, W, C]; a histogram (1-D) or scatter (2-D+) for points [N, D]."""
  samples = np.asarray(samples)
  if samples.ndim == 4:
    return save_grid(samples, path, labels=labels)
  fig, ax = plt.subplots(figsize=(5, 4))
  if samples.shape[1] == 1:
    ax.hist(samples[:, 0], bins=50, color="tab:blue", alpha=0.7)
  else:
    ax.scatter(samples[:, 0], samples[:, 1], s=4, alpha=0.6)
  ax.set_title(f"{len(samples)} samples")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_density(x: np.ndarray, log_prob, path: str | Path, *, title: str, centers=None) -> None:
  """Data with a fitted density: histogram + curve (1-D), scatter + contour lines (2-D).

  `log_prob` maps points [M, D] to log-densities [M]. Nothing is drawn for D > 2.
  """
  x = np.asarray(x)
  if x.shape[1] > 2:
    return
  fig, ax = plt.subplots(figsize=(6, 4.5))
  lo, hi = x.min(0), x.max(0)
  margin = 0.1 * (hi - lo) + 1e-9
  if x.shape[1] == 1:
    grid = np.linspace(lo[0] - margin[0], hi[0] + margin[0], 400)[:, None]
    ax.hist(x[:, 0], bins=60, density=True, color="tab:blue", alpha=0.5, label="data")
    ax.plot(grid[:, 0], np.exp(np.asarray(log_prob(grid))), "r-", lw=2, label="fit")
    ax.set_ylabel("density")
    ax.legend()
  else:
    u, v = np.meshgrid(np.linspace(lo[0] - margin[0], hi[0] + margin[0], 200),
                       np.linspace(lo[1] - margin[1], hi[1] + margin[1], 200))
    density = np.exp(np.asarray(log_prob(np.stack([u.ravel(), v.ravel()], 1)))).reshape(u.shape)
    ax.scatter(x[:, 0], x[:, 1], s=6, alpha=0.6, label="data")
    ax.contour(u, v, density, levels=8, colors="tab:red", linewidths=1)
    if centers is not None:
      ax.plot(np.asarray(centers)[:, 0], np.asarray(centers)[:, 1], "kx", ms=10, mew=2, label="means")
      ax.legend()
  ax.set_title(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
