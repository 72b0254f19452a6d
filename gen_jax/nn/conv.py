"""A small convolutional network (the MNIST judge network)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax


class ConvNet(nn.Module):
  """[Conv3x3 -> ReLU -> (Conv3x3 -> ReLU) -> MaxPool2] per width -> Dense -> ReLU -> Dense(out).

  The penultimate Dense activation is sown as `intermediates/features`.
  """

  widths: Sequence[int] = (32, 64)
  dense: int = 128
  out: int = 10
  dropout: float = 0.0
  double_conv: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    h = x  # [B, H, W, C]
    for width in self.widths:
      h = nn.relu(nn.Conv(width, (3, 3))(h))
      if self.double_conv:
        h = nn.relu(nn.Conv(width, (3, 3))(h))
      h = nn.max_pool(h, (2, 2), strides=(2, 2))  # [B, H/2, W/2, width]
    h = h.reshape(h.shape[0], -1)
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    h = nn.relu(nn.Dense(self.dense)(h))  # [B, dense]
    self.sow("intermediates", "features", h)
    h = nn.Dropout(self.dropout, deterministic=not train)(h)
    return nn.Dense(self.out)(h)  # [B, out]
