"""Data sets and deterministic batching. `load(data_config)` is what the engine calls."""

from __future__ import annotations

import numpy as np

from gen_jax.data.batching import Batches, batched_apply, binarize, epoch_permutation, fixed_binarized, scale_images
from gen_jax.data.mnist import DataNotFoundError, load_mnist
from gen_jax.data.tabular import load_points, load_text
from gen_jax.data.toy import load_toy

__all__ = ["Batches", "DataNotFoundError", "batched_apply", "binarize", "epoch_permutation",
           "fixed_binarized", "load", "load_mnist", "load_points", "load_text", "load_toy", "scale_images"]


def _mnist(cfg):
  """train/test (and "validation": the last `validation_examples` training images, held out
  before `train_examples` is applied) with pixels scaled by `cfg.scale`. `train_labels`, if
  set, keeps only those digits in train and validation (anomaly detection trains on 0-8)."""
  raw = load_mnist(cfg.get("data_dir") or None)
  n_val = cfg.get("validation_examples", 0) or 0
  if not 0 <= n_val < len(raw["train"]["label"]):
    raise ValueError(f"data.validation_examples must be in [0, {len(raw['train']['label'])}), got {n_val}")
  if n_val:
    train = raw["train"]
    raw = {"train": {k: v[:-n_val] for k, v in train.items()},
           "validation": {k: v[-n_val:] for k, v in train.items()}, "test": raw["test"]}
  keep = cfg.get("train_labels", None)
  out = {}
  for split, arrays in raw.items():
    if keep is not None and split != "test":
      mask = np.isin(arrays["label"], np.asarray(keep))
      arrays = {k: v[mask] for k, v in arrays.items()}
    limit = cfg.get(f"{split}_examples", -1)
    if limit and limit > 0:
      arrays = {k: v[:limit] for k, v in arrays.items()}
    out[split] = {"image": scale_images(arrays["image"], cfg.scale), "label": arrays["label"]}
  return out


def _points(cfg):
  """Rows of `cfg.source` with unit weights, padded with zero-weight rows to a multiple of the
  device count so that a full batch splits evenly; MNIST pixels keep their test split."""
  import jax
  import jax.numpy as jnp

  dtype = jnp.asarray(0.0).dtype  # float32, or float64 under jax_enable_x64
  splits = load_points(cfg.source, seed=cfg.seed, toy_examples=cfg.toy_examples, data_dir=cfg.data_dir)
  out = {}
  for name, x in splits.items():
    pad = -len(x) % jax.device_count()
    out[name] = {"x": np.concatenate([x, np.zeros((pad, x.shape[1]))]).astype(dtype),
                 "weight": np.concatenate([np.ones(len(x)), np.zeros(pad)]).astype(dtype)}
  return out


_LOADERS = {"mnist": _mnist, "points": _points}  # points: --data FILE | toy:NAME | mnist


def load(cfg) -> dict[str, dict[str, np.ndarray]]:
  """{"train": arrays, "test": arrays} for a `config.data` block (`cfg.name` picks the set)."""
  if cfg.name not in _LOADERS:
    raise ValueError(f"unknown data set {cfg.name!r}; valid: {', '.join(sorted(_LOADERS))}")
  return _LOADERS[cfg.name](cfg)
