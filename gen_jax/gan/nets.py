"""The two networks of a GAN: a generator z -> image in [-1, 1] and a discriminator (or critic).

Both are MLPs (Goodfellow et al. 2014) or convolutional in the DCGAN recipe (Radford, Metz &
Chintala 2016): the generator projects z to a small grid, then doubles the resolution once per
width with batch norm and ReLU, tanh at the output; the discriminator halves it with stride-2
4x4 convolutions and LeakyReLU(0.2). The discriminator has no batch norm, so each sample's
logit depends on that sample only (the per-sample gradient penalty of WGAN-GP needs this).
Shapes come from the data (`shape` = (H, W, C)); grids that do not divide are cropped.

Upsampling by 2 (`upsample`):
  "transpose"  a 4x4 stride-2 transposed convolution (DCGAN's).
  "subpixel"   a k x k convolution to 4·C channels at the low resolution, then depth-to-space
               (Shi et al. 2016): an ordinary convolution, which XLA's CPU backend runs far
               faster than a transposed one (jax-ml/jax#23783). Each output phase of a 4x4
               stride-2 transposed convolution reads a 2x2 input neighbourhood. k = 2 (padding
               one row and column before): every phase reads inputs {m-1, m}, and the layer *is*
               a 4x4 stride-2 transposed convolution, weight for weight (16·C_in·C_out of them,
               the same products), with its output grid aligned half a step from "SAME"'s.
               k = 3 ("SAME"): a superset that contains the SAME-aligned transposed
               convolution, at 9/4 of its products.
  "resize"     nearest-neighbour x2, then a 3x3 convolution (Odena et al. 2016).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ARCHS, UPSAMPLES, CONDITIONINGS = ("mlp", "conv"), ("subpixel", "transpose", "resize"), ("projection", "input")


def depth_to_space(h: jax.Array) -> jax.Array:
  """[B, h, w, 4C] -> [B, 2h, 2w, C]: channel block (i, j) becomes output phase (i, j)."""
  b, hh, ww, c4 = h.shape
  h = h.reshape(b, hh, ww, 2, 2, c4 // 4).transpose(0, 1, 3, 2, 4, 5)  # [B, h, 2, w, 2, C]
  return h.reshape(b, 2 * hh, 2 * ww, c4 // 4)


class Upsample(nn.Module):
  """x2 resolution, `features` output channels, by the method `how` (module docstring)."""

  features: int
  how: str = "subpixel"
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  subpixel_kernel: int = 3        # 2: exactly a 4x4 stride-2 transposed convolution; 3: a superset

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:  # [B, h, w, c] -> [B, 2h, 2w, features]
    if self.how == "transpose":
      return nn.ConvTranspose(self.features, (4, 4), strides=(2, 2), padding="SAME", kernel_init=self.kernel_init)(h)
    if self.how == "subpixel":
      k = self.subpixel_kernel
      if k not in (2, 3):
        raise ValueError(f"net.subpixel_kernel must be 2 or 3, got {k}")
      padding = ((1, 0), (1, 0)) if k == 2 else "SAME"
      return depth_to_space(nn.Conv(4 * self.features, (k, k), padding=padding, kernel_init=self.kernel_init)(h))
    b, hh, ww, c = h.shape
    h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
    return nn.Conv(self.features, (3, 3), kernel_init=self.kernel_init)(h)


def _kernel_init(std: float):
  """DCGAN initialises every weight from N(0, 0.02²); std = 0 keeps Flax's LeCun normal."""
  return nn.initializers.normal(std) if std > 0 else nn.initializers.lecun_normal()


class Generator(nn.Module):
  """G(z, y) -> images [B, H, W, C] in [-1, 1]. With `num_classes` > 0 the label y enters
  through a learnt embedding concatenated to z (the conditional GAN of Mirza & Osindero 2014)."""

  arch: str                       # "mlp" | "conv"
  shape: tuple[int, int, int]     # (H, W, C), from the data
  widths: Sequence[int]           # mlp: hidden widths; conv: channels of the base grid, then per x2
  batch_norm: bool = False        # BN before each hidden ReLU (DCGAN)
  upsample: str = "subpixel"      # conv only: "subpixel" | "transpose" | "resize"
  num_classes: int = 0
  embed_dim: int = 16
  init_std: float = 0.0
  dense: Sequence[int] = ()       # conv only: hidden Dense layers before the projection (InfoGAN: 1024)
  subpixel_kernel: int = 3        # conv, "subpixel": 2 or 3 (Upsample)

  @nn.compact
  def __call__(self, z: jax.Array, labels: jax.Array | None = None, *, train: bool) -> jax.Array:
    kinit = _kernel_init(self.init_std)
    act = lambda h: nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(h) if self.batch_norm else h)
    h = z  # [B, D]
    if self.num_classes:
      h = jnp.concatenate([h, nn.Embed(self.num_classes, self.embed_dim)(labels)], axis=-1)  # [B, D + E]
    height, width, channels = self.shape
    if self.arch == "mlp":
      for w in self.widths:
        h = act(nn.Dense(w, kernel_init=kinit)(h))  # [B, w]
      return jnp.tanh(nn.Dense(height * width * channels, kernel_init=kinit)(h)).reshape(-1, height, width, channels)
    for w in self.dense:
      h = act(nn.Dense(w, kernel_init=kinit)(h))  # [B, w]
    factor = 2 ** len(self.widths)
    h0, w0 = math.ceil(height / factor), math.ceil(width / factor)
    h = act(nn.Dense(h0 * w0 * self.widths[0], kernel_init=kinit)(h).reshape(-1, h0, w0, self.widths[0]))  # BN per channel
    for w in self.widths[1:]:
      h = act(Upsample(w, self.upsample, kinit, self.subpixel_kernel)(h))  # [B, 2h, 2w, w]
    h = Upsample(channels, self.upsample, kinit, self.subpixel_kernel)(h)  # [B, H', W', C]
    return jnp.tanh(h[:, :height, :width])  # [B, H, W, C]


class Discriminator(nn.Module):
  """D(x, y) -> (logits [B], Q outputs [B, q_outputs] or None).

  With `num_classes` > 0 the label y enters by `conditioning`:
    "projection"  l(x, y) = ψ(φ(x)) + <e_y, φ(x)>, a learnt class embedding e_y against the
                  trunk's features φ(x) (Miyato & Koyama 2018, "cGANs with Projection Discriminator");
    "input"       one more input plane, a learnt embedding of y reshaped to [H, W, 1]
                  (concatenation, as Mirza & Osindero 2014).
  With `q_outputs` > 0 an InfoGAN head Q(c | x) (one hidden layer) shares the trunk."""

  arch: str                       # "mlp" | "conv"
  widths: Sequence[int]           # mlp: hidden widths; conv: channels of the stride-2 4x4 convolutions
  leak: float = 0.2
  num_classes: int = 0
  q_outputs: int = 0
  q_hidden: int = 128
  init_std: float = 0.0
  dense: Sequence[int] = ()       # conv only: hidden Dense layers after the convolutions (InfoGAN: 1024)
  conditioning: str = "projection"  # "projection" | "input" (see above)
  batch_norm: bool = False        # BN after every hidden layer but the first (DCGAN, InfoGAN); not with WGAN-GP

  @nn.compact
  def __call__(self, x: jax.Array, labels: jax.Array | None = None, *, train: bool = False):
    kinit = _kernel_init(self.init_std)
    layers = []  # hidden layers so far: the first one gets no BN

    def act(h):
      if self.batch_norm and layers:
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
      layers.append(h.shape)
      return nn.leaky_relu(h, self.leak)
    b, height, width, _ = x.shape
    h = x  # [B, H, W, C]
    if self.num_classes and self.conditioning == "input":
      plane = nn.Embed(self.num_classes, height * width)(labels).reshape(b, height, width, 1)
      h = jnp.concatenate([h, plane.astype(h.dtype)], axis=-1)  # [B, H, W, C + 1]
    if self.arch == "conv":
      for w in self.widths:
        h = act(nn.Conv(w, (4, 4), strides=(2, 2), kernel_init=kinit)(h))  # [B, ceil(H/2), ceil(W/2), w]
    h = h.reshape(b, -1)
    for w in (self.widths if self.arch == "mlp" else self.dense):
      h = act(nn.Dense(w, kernel_init=kinit)(h))  # [B, w]
    logits = nn.Dense(1, kernel_init=kinit)(h)[:, 0]  # [B]
    if self.num_classes and self.conditioning == "projection":
      logits = logits + jnp.sum(nn.Embed(self.num_classes, h.shape[-1])(labels) * h, axis=-1)  # + <e_y, φ(x)>
    q = None
    if self.q_outputs:
      q = nn.Dense(self.q_outputs)(act(nn.Dense(self.q_hidden, kernel_init=kinit)(h)))  # [B, K + J]
    return logits, q
