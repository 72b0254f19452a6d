"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016) and the gated PixelCNN (van den Oord,
Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu 2016), for binary images [H, W, C].

Pixels are ordered row by row, left to right, and within a pixel channel by channel, so
    log p(x) = Σ_{i,j,c} log p(x_{ijc} | x_{<i}, x_{i,<j}, x_{ij,<c}).
PixelCNN: a 7×7 convolution under mask A (the centre tap sees only earlier channels), residual
blocks of 3×3 convolutions under mask B (the centre tap may also see its own channel group), two
masked 1×1 layers, one logit per pixel and channel. Stacked masked k×k convolutions cannot see
the pixels above and to the right beyond a cone: the *blind spot*.
Gated PixelCNN: a vertical stack (k//2+1)×k that sees all rows ≤ i, shifted down one row before it
feeds a horizontal stack 1×(k//2+1) that sees row i up to column j; the gate
    y = tanh(W_f ∗ x + V_f h) ⊙ σ(W_g ∗ x + V_g h)        (eq. 4, h: the class label's embedding)
and a residual connection on the horizontal stack. Its field covers every earlier pixel.

Samplers: `sample` runs the whole network once per pixel inside one `lax.fori_loop`; the gated
model's `sample_cached` computes its vertical stack once per row (the row's activations depend on
the rows above only) and the horizontal stack per pixel on that one row.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax.autoregressive.common import BinaryAutoregressive, check_positive
from gen_jax.latent.bounds import bernoulli_log_prob


def channel_groups(features: int, channels: int) -> np.ndarray:
  """The colour channel (0..C-1) each of `features` feature maps belongs to: contiguous blocks."""
  if features < channels:
    raise ValueError(f"a masked layer needs at least one feature per channel: {features} < {channels}")
  return np.arange(features) * channels // features


def causal_mask(kernel: tuple[int, int], centre: tuple[int, int], in_groups, out_groups, *, mask_a: bool):
  """Mask [kh, kw, in, out]: taps before the centre (raster order) are open, taps after it shut;
  at the centre, output group g sees input groups < g (mask A) or ≤ g (mask B)."""
  (kh, kw), (ci, cj) = kernel, centre
  rows, cols = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
  before = ((rows < ci) | ((rows == ci) & (cols < cj))).astype(np.float32)
  mask = np.broadcast_to(before[:, :, None, None], (kh, kw, len(in_groups), len(out_groups))).copy()
  same = np.greater if mask_a else np.greater_equal
  mask[ci, cj] = same(np.asarray(out_groups)[None, :], np.asarray(in_groups)[:, None])
  return jnp.asarray(mask)


def masked_conv(features, kernel, centre, in_groups, out_groups, *, mask_a=False, padding=None, name=None):
  kh, kw = kernel
  pad = padding or ((centre[0], kh - 1 - centre[0]), (centre[1], kw - 1 - centre[1]))
  return nn.Conv(features, kernel, padding=pad, name=name,
                 mask=causal_mask(kernel, centre, in_groups, out_groups, mask_a=mask_a))


class MaskedDense(nn.Module):
  """A 1×1 convolution under mask B, as a product on the feature axis (XLA's CPU backend runs a
  1×1 `conv` ~4× slower than the same `dot`)."""
  features: int
  in_groups: tuple[int, ...]
  out_groups: tuple[int, ...]

  @nn.compact
  def __call__(self, x):  # [..., in] -> [..., out]
    mask = causal_mask((1, 1), (0, 0), self.in_groups, self.out_groups, mask_a=False)[0, 0]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), mask.shape)
    return x @ (kernel * mask) + self.param("bias", nn.initializers.zeros, (self.features,))


def masked_dense(features, in_groups, out_groups):
  return MaskedDense(features, tuple(int(g) for g in in_groups), tuple(int(g) for g in out_groups))


class PixelCNN(nn.Module):
  """x [B, H, W, C] -> logits [B, H, W, C] of p(x_ijc = 1 | earlier pixels)."""
  channels: int      # C
  features: int      # 2h: feature maps between the residual blocks
  num_blocks: int    # residual blocks (1×1 to h, k×k mask B, 1×1 to 2h)
  first_kernel: int  # the mask-A convolution (7 in the paper)
  kernel: int        # the mask-B convolutions (3)
  out_features: int  # the two masked 1×1 output layers

  @nn.compact
  def __call__(self, x, labels=None):
    del labels  # the plain PixelCNN is unconditional
    C, g = self.channels, lambda n: channel_groups(n, self.channels)
    k0, k = self.first_kernel, self.kernel
    h = masked_conv(self.features, (k0, k0), (k0 // 2, k0 // 2), g(C), g(self.features), mask_a=True)(x)
    half = self.features // 2
    for _ in range(self.num_blocks):  # [B, H, W, 2h]
      r = masked_dense(half, g(self.features), g(half))(nn.relu(h))
      r = masked_conv(half, (k, k), (k // 2, k // 2), g(half), g(half))(nn.relu(r))
      h = h + masked_dense(self.features, g(half), g(self.features))(nn.relu(r))
    h = masked_dense(self.out_features, g(self.features), g(self.out_features))(nn.relu(h))
    return masked_dense(C, g(self.out_features), g(C))(nn.relu(h))


def gate(a: jax.Array) -> jax.Array:
  """tanh(a_f) ⊙ σ(a_g) for a = [a_f, a_g] split on the feature axis."""
  a_f, a_g = jnp.split(a, 2, axis=-1)
  return jnp.tanh(a_f) * jax.nn.sigmoid(a_g)


def shift_down(v: jax.Array) -> jax.Array:
  """Row i gets row i-1 (row 0 gets zeros): [B, H, W, F]."""
  return jnp.pad(v, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


class GatedPixelCNN(nn.Module):
  """Vertical and horizontal stacks of gated layers, optionally conditional on a class label."""
  channels: int      # C
  features: int      # p: feature maps of each stack
  num_layers: int    # gated layers
  first_kernel: int  # k of the first layer
  kernel: int        # k of the others
  out_features: int  # the two masked 1×1 output layers
  num_classes: int   # 0: unconditional; else labels in [0, num_classes) shift every gate

  def setup(self):
    C, p = self.channels, self.features
    groups, pair = channel_groups(p, C), np.tile(channel_groups(p, C), 2)
    vertical, links, horizontal, residuals = [], [], [], []
    for layer in range(self.num_layers):
      k = self.first_kernel if layer == 0 else self.kernel
      in_groups = channel_groups(C, C) if layer == 0 else groups
      # vertical: rows i - k//2 .. i, every column: nothing to mask, the shift makes it causal
      vertical.append(nn.Conv(2 * p, (k // 2 + 1, k), padding=((k // 2, 0), (k // 2, k // 2))))
      links.append(nn.Dense(2 * p))  # vertical -> horizontal, from the row above
      horizontal.append(masked_conv(2 * p, (1, k // 2 + 1), (0, k // 2), in_groups, pair, mask_a=layer == 0))
      residuals.append(masked_dense(p, groups, groups))
    self.vertical_convs, self.links, self.horizontal_convs, self.residuals = vertical, links, horizontal, residuals
    if self.num_classes:
      self.vertical_labels = nn.Embed(self.num_classes, 2 * p * self.num_layers)
      self.horizontal_labels = nn.Embed(self.num_classes, 2 * p * self.num_layers)
    self.out_hidden = masked_dense(self.out_features, groups, channel_groups(self.out_features, C))
    self.out_logits = masked_dense(C, channel_groups(self.out_features, C), channel_groups(C, C))

  def _label_shift(self, stack, labels):  # -> per layer V·h [B, 1, 1, 2p] (or 0)
    if not self.num_classes:
      return [0.0] * self.num_layers
    if labels is None:
      raise ValueError("this gated PixelCNN is conditional (net.num_classes > 0): it needs labels")
    embed = self.vertical_labels if stack == "vertical" else self.horizontal_labels
    shifts = jnp.split(embed(labels), self.num_layers, axis=-1)  # each [B, 2p]
    return [s[:, None, None, :] for s in shifts]

  def vertical(self, x, labels=None):
    """The vertical pre-activations of every layer, shifted down one row: [L, B, H, W, 2p].
    Row i depends on the rows above i only."""
    v, out = x, []
    for conv, shift in zip(self.vertical_convs, self._label_shift("vertical", labels)):
      a = conv(v)
      out.append(shift_down(a))
      v = gate(a + shift)
    return jnp.stack(out)

  def horizontal(self, x, vertical, labels=None):
    """Logits [B, R, W, C] of R rows x [B, R, W, C] given their rows' `vertical` [L, B, R, W, 2p]."""
    h = x
    for layer, shift in enumerate(self._label_shift("horizontal", labels)):
      a = self.horizontal_convs[layer](h) + self.links[layer](vertical[layer])
      y = self.residuals[layer](gate(a + shift))
      h = y if layer == 0 else h + y
    return self.out_logits(nn.relu(self.out_hidden(nn.relu(h))))

  def __call__(self, x, labels=None):
    return self.horizontal(x, self.vertical(x, labels), labels)


def make(config: ml_collections.ConfigDict, shape: tuple[int, int, int], *, gated: bool) -> BinaryAutoregressive:
  """The model of `config.net` for images of `shape` (H, W, C), on flat pixels x [B, D = H·W·C]."""
  net, C, num_classes = config.net, shape[-1], int(config.net.get("num_classes", 0))
  depth = {"net.num_layers": net.num_layers} if gated else {}
  check_positive(**{"net.features": net.features, "net.first_kernel": net.first_kernel,
                    "net.kernel": net.kernel, "net.out_features": net.out_features}, **depth)
  if gated:
    model = GatedPixelCNN(C, net.features, net.num_layers, net.first_kernel, net.kernel, net.out_features,
                          num_classes)
  else:
    if net.features % 2 or net.num_blocks < 0 or num_classes:
      raise ValueError(f"PixelCNN needs an even net.features, net.num_blocks >= 0 and no labels, got "
                       f"{net.features}, {net.num_blocks}, num_classes={num_classes}")
    model = PixelCNN(C, net.features, net.num_blocks, net.first_kernel, net.kernel, net.out_features)
  return image_model(model, shape, conditional=bool(num_classes), row_cache=gated)


def image_model(model: nn.Module, shape: tuple[int, int, int], *, conditional: bool,
                row_cache: bool = False) -> BinaryAutoregressive:
  """The model functions of a network `model.apply(variables, x [B, H, W, C], labels)` -> logits
  [B, H, W, C] whose logit (i, j, c) sees only earlier pixels; `row_cache`: it also has the
  gated model's `vertical` and `horizontal` methods."""
  H, W, C = shape
  D = H * W * C
  images = lambda x: x.reshape(x.shape[0], H, W, C)
  apply = lambda params, *args, **kw: model.apply({"params": params}, *args, **kw)
  logits = lambda params, x, labels=None: apply(params, images(x), labels).reshape(x.shape[0], D)
  log_prob = lambda params, x, labels=None: bernoulli_log_prob(x, logits(params, x, labels))

  def draw(flat_logits, x, u, t):  # pixel t of flat x [N, T] from its logits [N, T]
    p = jax.nn.sigmoid(flat_logits[:, t])
    return x.at[:, t].set((u[:, t] < p).astype(x.dtype))

  def sample_step(params, x, u, d, labels=None):
    """One network pass: x [N, D] with pixel d drawn."""
    return draw(logits(params, x, labels), x, u, d)

  def sample(params, u, labels=None):
    """D passes of the whole network inside one `lax.fori_loop`."""
    return jax.lax.fori_loop(0, D, lambda d, x: sample_step(params, x, u, d, labels), jnp.zeros_like(u))

  def sample_cached(params, u, labels=None):
    """Gated model: per row i, the vertical stack once (rows < i are final), then W·C passes of the
    horizontal stack over row i alone."""
    N, u_rows = u.shape[0], images(u)

    def row(i, x):  # x [N, H, W, C]
      v_i = jax.lax.dynamic_slice_in_dim(apply(params, x, labels, method="vertical"), i, 1, axis=2)
      u_i = jax.lax.dynamic_slice_in_dim(u_rows, i, 1, axis=1).reshape(N, W * C)

      def pixel(t, x_i):  # x_i [N, W·C]: row i so far
        row_logits = apply(params, x_i.reshape(N, 1, W, C), v_i, labels, method="horizontal")
        return draw(row_logits.reshape(N, W * C), x_i, u_i, t)

      x_i = jax.lax.fori_loop(0, W * C, pixel, jnp.zeros((N, W * C), u.dtype))
      return jax.lax.dynamic_update_slice_in_dim(x, x_i.reshape(N, 1, W, C), i, axis=1)

    return jax.lax.fori_loop(0, H, row, jnp.zeros((N, H, W, C), u.dtype)).reshape(N, D)

  return BinaryAutoregressive(
      init=lambda key, x, labels=None: model.init({"params": key}, images(x), labels)["params"],
      train_log_prob=lambda params, x, *, key, labels=None: log_prob(params, x, labels),
      test_log_prob=log_prob, sample=sample, logits=logits, sample_step=sample_step,
      sample_cached=sample_cached if row_cache else None, conditional=conditional)
