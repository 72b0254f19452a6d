"""Encoders and decoders of images, MLP or convolutional, shared by the latent-variable models.

`Encoder` maps images [B, H, W, C] to a vector [B, out]; `Decoder` maps vectors [B, D] to
per-pixel outputs [B, H, W, C] (logits, means, ...) for the image shape it is given, so no
family hard-codes 28x28x1. The convolutional decoder upsamples by nearest-neighbour resize +
3x3 convolution rather than a transposed convolution: the same function class, and much faster
on XLA's CPU backend (jax-ml/jax#23783).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": nn.relu, "tanh": jnp.tanh, "elu": nn.elu, "leaky_relu": nn.leaky_relu,
    "softplus": nn.softplus, "gelu": nn.gelu,
}
ARCHS = ("mlp", "conv")


def activation(name: str) -> Callable[[jax.Array], jax.Array]:
  if name not in ACTIVATIONS:
    raise ValueError(f"unknown activation {name!r}; valid: {', '.join(sorted(ACTIVATIONS))}")
  return ACTIVATIONS[name]


def check_arch(arch: str) -> str:
  if arch not in ARCHS:
    raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(ARCHS)}")
  return arch


class Encoder(nn.Module):
  """mlp: Flatten -> [Dense(w) -> act] per width -> Dense(out).
  conv: [Conv 4x4 stride 2 (w) -> act] per width -> Flatten -> Dense(out).

  The last hidden activation is sown as `intermediates/hidden` (the sparse autoencoder's
  activity penalty reads the code itself, not this)."""

  arch: str
  widths: Sequence[int]
  out: int
  act: str = "relu"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    f = activation(self.act)
    h = x  # [B, H, W, C] (or [B, D] for an MLP on vectors)
    if self.arch == "conv":
      for width in self.widths:
        h = f(nn.Conv(width, (4, 4), strides=(2, 2))(h))  # [B, ceil(H/2), ceil(W/2), width]
      h = h.reshape(h.shape[0], -1)
    else:
      h = h.reshape(h.shape[0], -1)  # [B, D]
      for width in self.widths:
        h = f(nn.Dense(width)(h))  # [B, width]
    return nn.Dense(self.out)(h)  # [B, out]


class Decoder(nn.Module):
  """mlp: [Dense(w) -> act] per width -> Dense(H*W*C*channels_per_pixel) -> reshape.
  conv: Dense -> [h0, w0, widths[0]] -> [resize x2 -> Conv 3x3 (w) -> act] per width ->
  Conv 3x3 -> crop to [H, W]. `shape` is the image shape (H, W, C); the output has
  `C * channels_per_pixel` channels (e.g. 2 for a Gaussian's mean and log-variance).

  Called with images `x` [G, H, W, C] and z [G*K, D] (K latents per image, image-major),
  it also returns x·out [G*K], the sum over pixels of each image times each of its K outputs
  (the data term of a Bernoulli log-likelihood). For the mlp the last layer is affine,
  out = h W + b, so x·out = h·(W x) + b·x: a product with the hidden units instead of a pass
  over the K outputs of H*W*C pixels (IWAE-5000 evaluates 5,000 per image)."""

  arch: str
  widths: Sequence[int]
  shape: tuple[int, int, int]
  act: str = "relu"
  channels_per_pixel: int = 1

  @nn.compact
  def __call__(self, z: jax.Array, x: jax.Array | None = None):
    f = activation(self.act)
    height, width, channels = self.shape
    out_channels = channels * self.channels_per_pixel
    h = z  # [B, D]
    if self.arch == "conv":
      factor = 2 ** len(self.widths)
      h0, w0 = math.ceil(height / factor), math.ceil(width / factor)
      h = f(nn.Dense(h0 * w0 * self.widths[0])(h)).reshape(z.shape[0], h0, w0, self.widths[0])
      for w in self.widths:
        b, hh, ww, c = h.shape
        h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")  # [B, 2h, 2w, c]
        h = f(nn.Conv(w, (3, 3))(h))
      out = nn.Conv(out_channels, (3, 3))(h)[:, :height, :width]  # [B, H, W, C*k]
      return out if x is None else (out, self._x_dot_out(x, out))
    for w in self.widths:
      h = f(nn.Dense(w)(h))  # [B, w]
    head = nn.Dense(height * width * out_channels)
    out = head(h).reshape(z.shape[0], height, width, out_channels)
    if x is None:
      return out
    xf = self._flat_images(x, z)  # [G, H*W*C]
    kernel, bias = head.variables["params"]["kernel"], head.variables["params"]["bias"]  # [w, HWC], [HWC]
    wx = xf @ kernel.T  # [G, w]
    x_dot = jnp.sum(h.reshape(xf.shape[0], -1, h.shape[-1]) * wx[:, None, :], -1) + (xf @ bias)[:, None]
    return out, x_dot.reshape(-1)  # [G*K]

  def _flat_images(self, x, z):
    if self.channels_per_pixel != 1 or x.shape[1:] != tuple(self.shape) or z.shape[0] % x.shape[0]:
      raise ValueError(f"x·out needs one output per pixel and images [G, {', '.join(map(str, self.shape))}] "
                       f"with G dividing the {z.shape[0]} latents; got images {x.shape}")
    return x.reshape(x.shape[0], -1)

  def _x_dot_out(self, x, out):
    xf = self._flat_images(x, out)  # [G, HWC]
    return jnp.sum(out.reshape(xf.shape[0], -1, xf.shape[1]) * xf[:, None, :], -1).reshape(-1)


def check_images(x, shape=None, *, model: str, pixels: str = "") -> None:
  """A clear ValueError unless x is a batch of images [B, H, W, C] (of `shape` if given);
  the message names the model that expects them (and `pixels`, their range, if given)."""
  if getattr(x, "ndim", 0) != 4 or (shape is not None and tuple(x.shape[1:]) != tuple(shape)):
    want = "[B, H, W, C]" if shape is None else f"[B, {', '.join(map(str, shape))}]"
    raise ValueError(f"{model} expects images {want}{pixels}, got an array of shape {getattr(x, 'shape', None)}")


def check_labels(labels, num: int, num_classes: int) -> np.ndarray:
  """`labels` as int32 [num], or a clear ValueError unless they are num integers in [0, num_classes)."""
  labels = np.asarray(labels)
  if labels.shape != (num,) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 \
      or labels.max() >= num_classes:
    values = f"[{labels.min()}, {labels.max()}]" if labels.size else "none"
    raise ValueError(f"labels must be {num} integers in [0, {num_classes}), got shape {labels.shape} "
                     f"with values in {values}")
  return labels.astype(np.int32)


class ImageShape:
  """The image shape (H, W, C) a family's networks were built for, recorded from the example
  batch whenever `init` is traced (also under `jax.eval_shape`, which is how a run is restored),
  so that `sample` knows it without hard-coding 28x28x1."""

  def __init__(self):
    self.shape: tuple[int, int, int] | None = None

  def record(self, x) -> tuple[int, int, int]:
    if np.ndim(x) != 4:
      raise ValueError(f"expected images [B, H, W, C] in [0, 1], got shape {np.shape(x)}")
    self.shape = tuple(int(s) for s in np.shape(x)[1:])
    return self.shape

  def get(self) -> tuple[int, int, int]:
    if self.shape is None:
      raise RuntimeError("the image shape is not known yet: init (or restore) the state first")
    return self.shape

  def test_images(self, images, limit: int = -1) -> np.ndarray:
    """The first `limit` (all if <= 0) test images, or a clear ValueError unless they have the
    shape the model was built for."""
    x = np.asarray(images)
    if x.shape[1:] != self.get():
      raise ValueError(f"test images have shape {x.shape[1:]}, the model was built for {self.get()}")
    return x[:limit] if limit and limit > 0 else x


def to_uint8(images) -> np.ndarray:
  """[0, 1] floats -> uint8 [N, H, W, C]."""
  return np.round(np.clip(np.asarray(images, np.float32), 0, 1) * 255).astype(np.uint8)
