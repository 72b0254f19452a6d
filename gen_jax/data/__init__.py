"""Data sets and deterministic batching. `load(data_config)` is what the engine calls."""

from __future__ import annotations

import numpy as np

from gen_jax.data.batching import Batches, batched_apply, binarize, epoch_permutation, fixed_binarized, scale_images
from gen_jax.data.mnist import DataNotFoundError, load_mnist
from gen_jax.data.toy import load_toy

__all__ = ["Batches", "DataNotFoundError", "batched_apply", "binarize", "epoch_permutation",
           "fixed_binarized", "load", "load_mnist", "load_toy", "scale_images"]


def _mnist(cfg):
  raw = load_mnist(cfg.get("data_dir") or None)
  out = {}
  for split, arrays in raw.items():
    limit = cfg.get(f"{split}_examples", -1)
    if limit and limit > 0:
      arrays = {k: v[:limit] for k, v in arrays.items()}
    out[split] = {"image": scale_images(arrays["image"], cfg.scale), "label": arrays["label"]}
  return out


def _toy(cfg):
  out = {}
  for split, n, seed in (("train", cfg.train_examples, cfg.seed), ("test", cfg.test_examples, cfg.seed + 1)):
    points, labels = load_toy(cfg.toy, n, seed=seed)
    out[split] = {"x": points, "label": labels}
  return out


_LOADERS = {"mnist": _mnist, "toy": _toy}


def load(cfg) -> dict[str, dict[str, np.ndarray]]:
  """{"train": arrays, "test": arrays} for a `config.data` block (`cfg.name` picks the set)."""
  if cfg.name not in _LOADERS:
    raise ValueError(f"unknown data set {cfg.name!r}; valid: {', '.join(sorted(_LOADERS))}")
  return _LOADERS[cfg.name](cfg)
