"""Deterministic batching, scaling and binarization.

The order of epoch `e` is `default_rng([seed, e]).permutation(N)`, so the batch at any step is
a pure function of (seed, step): a resumed run reads exactly the batches an uninterrupted run
would have read, and the only "iterator state" a checkpoint needs is the step.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping

import jax
import numpy as np

Batch = dict[str, np.ndarray]


def epoch_permutation(n: int, *, seed: int, epoch: int) -> np.ndarray:
  """The example order of one epoch, derived from (seed, epoch) only."""
  return np.random.default_rng([seed, epoch]).permutation(n)


class Batches:
  """Fixed-size batches of a dict of equally long arrays, in (seed, epoch) order.

  The last incomplete batch of each epoch is dropped so that every step has the same shape
  (one compilation). `batch_size=-1` gives the whole data set at every step (EM).
  `transform` maps a raw numpy batch to the model's inputs.
  """

  def __init__(self, arrays: Mapping[str, np.ndarray], batch_size: int, *, seed: int,
               transform: Callable[[Batch], Batch] | None = None):
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f"arrays must have equal lengths, got {lengths}")
    self.num_examples = next(iter(lengths.values()))
    batch_size = self.num_examples if batch_size == -1 else batch_size  # -1: the full data set
    if not 0 < batch_size <= self.num_examples:
      raise ValueError(f"batch_size must be in [1, {self.num_examples}] or -1 (all), got {batch_size}")
    self.arrays, self.batch_size, self.seed = dict(arrays), batch_size, seed
    self.full = batch_size == self.num_examples
    self.transform = transform or (lambda b: b)
    self.steps_per_epoch = self.num_examples // batch_size
    self._cached_epoch, self._order = -1, None

  def batch(self, step: int) -> Batch:
    """The batch read at global step `step` (0-based)."""
    if self.full:  # every row, in file order: no copy, no shuffle
      return self.transform(dict(self.arrays))
    epoch, i = divmod(step, self.steps_per_epoch)
    if epoch != self._cached_epoch:
      self._order = epoch_permutation(self.num_examples, seed=self.seed, epoch=epoch)
      self._cached_epoch = epoch
    index = np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size])
    return self.transform({k: v[index] for k, v in self.arrays.items()})

  def iterate(self, start_step: int = 0) -> Iterator[Batch]:
    step = start_step
    while True:
      yield self.batch(step)
      step += 1


def scale_images(images: np.ndarray, mode: str) -> np.ndarray:
  """uint8 pixels -> float32: "unit" gives [0, 1], "symmetric" gives [-1, 1]."""
  images = np.asarray(images, np.float32)
  if mode == "unit":
    return images / 255.0
  if mode == "symmetric":
    return images / 127.5 - 1.0
  raise ValueError(f"unknown scaling {mode!r}; valid: 'unit', 'symmetric'")


def binarize(x: jax.Array, *, key: jax.Array) -> jax.Array:
  """Dynamic binarization: pixel ~ Bernoulli(x) for x in [0, 1], drawn with `key`.

  The uniforms are drawn flat and reshaped: the same bits as `jax.random.bernoulli(key, x)`,
  but XLA's CPU backend compiles a 1-D draw several times faster than a 4-D one."""
  u = jax.random.uniform(key, (x.size,), x.dtype).reshape(x.shape)
  return (u < x).astype(x.dtype)


def fixed_binarized(x_unit: np.ndarray, *, seed: int = 0) -> np.ndarray:
  """A binarized copy of a [0, 1] data set fixed by `seed` (the likelihood test set)."""
  rng = np.random.default_rng(seed)
  return (rng.random(x_unit.shape) < x_unit).astype(np.float32)


def batched_apply(fn: Callable[..., jax.Array], arrays: Mapping[str, np.ndarray], chunk: int):
  """Applies a jitted `fn(batch) -> pytree of [chunk, ...]` over all rows, padding the last chunk.

  Every call has the shape [chunk, ...], so `fn` compiles once whatever the data size.
  """
  n = len(next(iter(arrays.values())))
  outputs = []
  for start in range(0, n, chunk):
    part = {k: v[start:start + chunk] for k, v in arrays.items()}
    valid = len(next(iter(part.values())))
    if valid < chunk:
      part = {k: np.concatenate([v, np.repeat(v[-1:], chunk - valid, 0)]) for k, v in part.items()}
    outputs.append(jax.tree.map(lambda y, valid=valid: np.asarray(y)[:valid], fn(part)))
  return jax.tree.map(lambda *ys: np.concatenate(ys), *outputs)

