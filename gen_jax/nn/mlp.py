"""A multilayer perceptron."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax


class MLP(nn.Module):
  """Flatten -> [Dense -> activation -> dropout] * len(hidden) -> Dense(out).

  The last hidden activation is sown as `intermediates/features` (the penultimate layer).
  """

  hidden: Sequence[int]
  out: int
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    h = x.reshape(x.shape[0], -1)  # [B, D]
    for width in self.hidden:
      h = self.activation(nn.Dense(width)(h))  # [B, width]
      h = nn.Dropout(self.dropout, deterministic=not train)(h)
    self.sow("intermediates", "features", h)
    return nn.Dense(self.out)(h)  # [B, out]
