"""Numeric text files (whitespace-separated rows) and the `--data` source string.

`--data FILE` reads a file such as `height.txt` (one column) or `old_faithful.txt` (two);
`--data toy:NAME` generates a 2-D toy set; `--data mnist` gives flattened MNIST pixels in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def load_text(path: str | Path) -> np.ndarray:
  """float64 [N, D] from a whitespace-separated numeric text file ('#' starts a comment)."""
  path = Path(path).expanduser()
  if not path.is_file():
    raise FileNotFoundError(f"data file {path} does not exist")
  try:
    x = np.loadtxt(path, dtype=np.float64, ndmin=2)
  except ValueError as error:
    raise ValueError(f"{path} is not a whitespace-separated numeric table: {error}") from None
  if x.size == 0:
    raise ValueError(f"{path} holds no rows")
  if not np.all(np.isfinite(x)):
    raise ValueError(f"{path} has {int(np.sum(~np.isfinite(x)))} non-finite values")
  return x


def load_points(source: str, *, seed: int, toy_examples: int = 2000, data_dir: str = "") -> dict:
  """{"train": float [N, D], "test": float [M, D]} from a `--data` source string. Only MNIST
  has a held-out split; a file or toy set is its own test split."""
  from gen_jax.data.mnist import load_mnist
  from gen_jax.data.toy import load_toy

  if not source:
    raise ValueError("no data given: pass --data FILE, --data toy:NAME or --data mnist")
  if source.startswith("toy:"):
    x = load_toy(source[4:], toy_examples, seed=seed)[0].astype(np.float64)
    return {"train": x, "test": x}
  if source == "mnist":
    images = load_mnist(data_dir or None)  # read once for both splits
    flat = {s: images[s]["image"].reshape(len(images[s]["image"]), -1) / 255.0 for s in ("train", "test")}
    return flat
  x = load_text(source)
  return {"train": x, "test": x}
