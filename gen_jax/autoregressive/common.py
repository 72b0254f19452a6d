"""What every binary autoregressive model gives its family.

A model of D binary pixels x ∈ {0, 1}^D in some ordering o factorises exactly,
    log p(x) = Σ_d log p(x_{o_d} | x_{o_<d}) = Σ_d x_{o_d} l_d − softplus(l_d),
with l_d the logit of pixel o_d given the pixels before it (`bounds.bernoulli_log_prob`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class BinaryAutoregressive:
  """init(key, x [1, D]) -> params
  train_log_prob(params, x [B, D], *, key) -> [B]   log p(x) under the ordering/mask `key` picks
  test_log_prob(params, x [B, D]) -> [B]            the exact log-likelihood that is reported
  sample(params, u [N, D]) -> x [N, D]              pixel d of sample n is u[n, d] < p(x_d = 1 | ...)
  Optional: logits(params, x [B, D]) -> [B, D], the conditionals' logits; sample_step(params, x, u, d) -> x, one network pass that draws pixel d (what a
  Python loop of D jitted calls runs), and sample_cached(params, u), a cheaper sampler with the
  same result. A conditional model takes `labels` [B] (int) as a keyword in all of them.
  """

  init: Callable[..., dict]
  train_log_prob: Callable[..., jax.Array]
  test_log_prob: Callable[..., jax.Array]
  sample: Callable[..., jax.Array]
  logits: Callable[..., jax.Array] | None = None
  sample_step: Callable[..., jax.Array] | None = None
  sample_cached: Callable[..., jax.Array] | None = None
  conditional: bool = False


def check_positive(**values) -> None:
  """A clear ValueError naming the first setting that is not a positive integer."""
  for name, value in values.items():
    items = value if isinstance(value, (tuple, list)) else (value,)
    if not items or any(not isinstance(v, int) or v < 1 for v in items):
      raise ValueError(f"{name} must be a positive integer (or a tuple of them), got {value!r}")


def random_orders(key: jax.Array, batch: int, num_inputs: int) -> jax.Array:
  """One uniformly random ordering of the D pixels per example: int32 [B, D]."""
  keys = jax.random.split(key, batch)
  return jax.vmap(lambda k: jax.random.permutation(k, num_inputs))(keys).astype(jnp.int32)
