"""The denoising U-Net of "Deep Learning from Scratch 5" (ch. 9–10), width and depth configurable.

  ε_θ(x_t, t, y):  v = sinusoidal(t) [+ embed(y)]                       # [B, E]
    down_i:  ConvBlock(widths[i]) -> max-pool 2x2                       # per level, skip kept
    bottom:  ConvBlock(bottom_width)
    up_i:    bilinear x2 (cropped to the skip) -> concat skip -> ConvBlock(widths[i])
    out:     1x1 convolution to the image's C channels
  ConvBlock(c): [conv 3x3 -> norm -> ReLU] twice, + MLP(v) per channel (where: ConvBlock).

The book's net is widths (64, 128), bottom 256, BatchNorm, time embedding 100, v added to each
block's input (`dlfs5` config).
With `norm="group"` (GroupNorm, Ho et al. 2020) every sample is computed on its own, so a
sample does not depend on which other samples share its batch. Labels: `num_classes` > 0 adds a
learnt embedding of y; the extra index `num_classes` is the null label of classifier-free guidance.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

NORMS, INJECTS = ("group", "batch"), ("after_norm", "input")


def sinusoidal_embedding(t: jax.Array, dim: int) -> jax.Array:
  """[B] timesteps -> [B, dim]: sin(t ω_k), cos(t ω_k) with ω_k = 10000^(-2k/dim) (Vaswani et al.
  2017; the book interleaves sin and cos, which is the same features in another order)."""
  half = dim // 2
  omega = jnp.exp(-math.log(10000.0) * jnp.arange(half, dtype=jnp.float32) * 2 / dim)  # [dim/2]
  angles = t.astype(jnp.float32)[:, None] * omega[None, :]  # [B, dim/2]
  emb = jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)
  return jnp.pad(emb, ((0, 0), (0, dim - 2 * half)))  # odd dim: a zero column


class ConvBlock(nn.Module):
  """[conv 3x3 -> norm -> ReLU] twice, with the step's embedding v added per channel: to the
  input (`inject="input"`, the book's, which its BatchNorm keeps: the batch statistics mix
  samples with other t) or after the first norm (`"after_norm"`, Ho et al.'s ResBlock place: a
  per-sample norm would remove most of a per-channel constant added before it)."""

  features: int
  norm: str = "group"
  inject: str = "after_norm"

  @nn.compact
  def __call__(self, x: jax.Array, v: jax.Array, *, train: bool) -> jax.Array:
    c = x.shape[-1] if self.inject == "input" else self.features
    v = nn.Dense(c)(nn.relu(nn.Dense(c)(v)))[:, None, None, :]  # [B, 1, 1, c]: the book's Linear-ReLU-Linear
    h = x + v if self.inject == "input" else x  # [B, H, W, c_in]
    for i in range(2):
      # no bias: the norm that follows removes any per-channel constant (its gradient is 0, and
      # Adam would turn the rounding noise of that 0 into steps of size lr)
      h = nn.Conv(self.features, (3, 3), use_bias=False)(h)
      if self.norm == "batch":
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
      else:  # groups of 4 channels (32 groups from 128 channels up, as Ho et al.)
        h = nn.GroupNorm(num_groups=math.gcd(32, max(1, self.features // 4)))(h)
      if i == 0 and self.inject == "after_norm":
        h = h + v
      h = nn.relu(h)
    return h


class UNet(nn.Module):
  """ε_θ(x_t, t, y) -> [B, H, W, C], the shape of x_t (any H, W: odd sizes are cropped back)."""

  widths: Sequence[int] = (64, 128)
  bottom_width: int = 256
  time_dim: int = 100
  num_classes: int = 0   # > 0: conditional, labels in [0, num_classes]; num_classes = the null label
  norm: str = "group"
  inject: str = "after_norm"  # where each block adds the time (and label) embedding: ConvBlock

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array, labels: jax.Array | None = None, *,
               train: bool = False) -> jax.Array:
    if self.norm not in NORMS or self.inject not in INJECTS:
      raise ValueError(f"net.norm must be one of {', '.join(NORMS)} and net.inject one of {', '.join(INJECTS)}, "
                       f"got {self.norm!r} and {self.inject!r}")
    v = sinusoidal_embedding(t, self.time_dim)  # [B, E]
    if self.num_classes:
      v = v + nn.Embed(self.num_classes + 1, self.time_dim)(labels)  # + null label
    skips, h = [], x
    for w in self.widths:
      h = ConvBlock(w, self.norm, self.inject)(h, v, train=train)
      skips.append(h)
      h = nn.max_pool(h, (2, 2), strides=(2, 2), padding="SAME")  # [B, ceil(H/2), ceil(W/2), w]
    h = ConvBlock(self.bottom_width, self.norm, self.inject)(h, v, train=train)
    for w, skip in zip(reversed(self.widths), reversed(skips)):
      b, hh, ww, c = h.shape
      h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "bilinear")[:, :skip.shape[1], :skip.shape[2]]
      h = ConvBlock(w, self.norm, self.inject)(jnp.concatenate([h, skip], axis=-1), v, train=train)
    return nn.Conv(x.shape[-1], (1, 1))(h)  # [B, H, W, C]


class NoisyClassifier(nn.Module):
  """log p_φ(y | x_t, t) logits [B, classes]: the U-Net's down path (ConvBlocks with the time
  embedding, max-pool), its bottom block and a linear head on the flattened features: the
  time-aware classifier of classifier guidance (Dhariwal & Nichol 2021 use the U-Net's encoder
  half with attention pooling; on 28 x 28 digits a linear head keeps where the strokes are,
  which a spatial mean loses: a mean-pooled head learnt clean MNIST far slower here)."""

  num_classes: int = 10
  widths: Sequence[int] = (32, 64)
  bottom_width: int = 128
  time_dim: int = 100

  @nn.compact
  def __call__(self, x: jax.Array, t: jax.Array) -> jax.Array:
    v = sinusoidal_embedding(t, self.time_dim)  # [B, E]
    h = x
    for w in self.widths:
      h = nn.max_pool(ConvBlock(w)(h, v, train=False), (2, 2), strides=(2, 2), padding="SAME")
    h = ConvBlock(self.bottom_width)(h, v, train=False)  # [B, h, w, bottom]
    return nn.Dense(self.num_classes)(h.reshape(h.shape[0], -1))  # [B, classes]
