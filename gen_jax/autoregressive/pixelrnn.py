"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu 2016): Row LSTM and Diagonal BiLSTM layers
for binary images [H, W, C], in the pixel order of `pixelcnn` (rows, columns, channels).

Both start with a 7×7 mask-A convolution to 2h maps and end with two masked 1×1 ReLU layers and
one logit per pixel and channel; in between, LSTM layers of h units with residual connections
(x + 1×1(h)). Each LSTM step is
    [o, f, i, g] = σ/σ/σ/tanh(K_ss ⊛ h_prev + K_is ⊛ x),   c = f ⊙ c_prev + i ⊙ g,   h = o ⊙ tanh(c)   (eq. 3)
with the recurrence as one `lax.scan`:
  Row LSTM        a scan over rows: K_is is a 1×k convolution of row i under mask B (precomputed
                  for every row at once), K_ss a 1-D convolution of width k over h of row i-1.
                  Its field is a triangle above the pixel.
  Diagonal BiLSTM each row i is shifted right by i ("skew"), so that a scan over the columns of
                  the skewed map walks the image's diagonals; K_is is 1×1 under mask B, K_ss a
                  2×1 convolution over the previous column, i.e. the states at (i, j-1) and
                  (i-1, j). A second LSTM runs on the image mirrored left-right; its output,
                  shifted down one row, is added to the first's; that one also reads the
                  pixels (all in earlier rows once shifted), else the last pixel of the row above
                  would be in no feature it sees. Its field covers every earlier pixel.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gen_jax.autoregressive.common import BinaryAutoregressive, check_positive
from gen_jax.autoregressive.pixelcnn import channel_groups, image_model, masked_conv, masked_dense, shift_down


def lstm_update(gates: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(h, c) from the pre-activations [..., 4h] = [o, f, i, g] and the previous cell c [..., h]."""
  o, f, i, g = jnp.split(gates, 4, axis=-1)
  c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
  return jax.nn.sigmoid(o) * jnp.tanh(c), c


def conv1d(h: jax.Array, kernel: jax.Array, padding: tuple[int, int]) -> jax.Array:
  """h [B, L, F] ⊛ kernel [k, F, G] along L -> [B, L, G]."""
  return jax.lax.conv_general_dilated(h, kernel, (1,), (padding,), dimension_numbers=("NWC", "WIO", "NWC"))


class RowLSTM(nn.Module):
  units: int       # h
  kernel: int      # k of K_is and K_ss
  channels: int    # C

  @nn.compact
  def __call__(self, x, pixels=None):  # [B, H, W, F] -> h [B, H, W, units]
    del pixels
    B, H, W, F = x.shape
    k, n = self.kernel, self.units
    groups, quad = channel_groups(F, self.channels), np.tile(channel_groups(n, self.channels), 4)
    x_gates = masked_conv(4 * n, (1, k), (0, k // 2), groups, quad)(x)  # [B, H, W, 4h], K_is for all rows
    K_ss = self.param("K_ss", nn.initializers.lecun_normal(), (k, n, 4 * n))

    def row(carry, x_gates_i):  # carry (h, c) of row i-1: [B, W, h]
      h, c = carry
      h, c = lstm_update(x_gates_i + conv1d(h, K_ss, (k // 2, k // 2)), c)
      return (h, c), h

    zeros = jnp.zeros((B, W, n), x.dtype)
    _, h = jax.lax.scan(row, (zeros, zeros), jnp.moveaxis(x_gates, 1, 0))  # over rows: [H, B, W, h]
    return jnp.moveaxis(h, 0, 1)


def skew(x: jax.Array) -> jax.Array:
  """[B, H, W, F] -> [B, H, W + H - 1, F], row i shifted right by i (zeros elsewhere)."""
  H, W = x.shape[1:3]
  rows = [jnp.pad(x[:, i], ((0, 0), (i, H - 1 - i), (0, 0))) for i in range(H)]
  return jnp.stack(rows, axis=1)


def unskew(x: jax.Array, width: int) -> jax.Array:
  """The inverse of `skew`: [B, H, W + H - 1, F] -> [B, H, W, F]."""
  return jnp.stack([x[:, i, i:i + width] for i in range(x.shape[1])], axis=1)


class DiagonalLSTM(nn.Module):
  units: int
  channels: int
  masked: bool = True  # K_is under mask B; False for an input that is all in earlier rows

  @nn.compact
  def __call__(self, x):  # [B, H, W, F] -> h [B, H, W, units], left to right along the diagonals
    B, H, W, F = x.shape
    n = self.units
    groups, quad = channel_groups(F, self.channels), np.tile(channel_groups(n, self.channels), 4)
    K_is = masked_dense(4 * n, groups, quad) if self.masked else nn.Dense(4 * n)
    x_gates = skew(K_is(x))  # [B, H, W + H - 1, 4h]
    K_ss = self.param("K_ss", nn.initializers.lecun_normal(), (2, n, 4 * n))  # taps: rows i-1, i

    def column(carry, x_gates_j):  # carry (h, c) of column j-1 of the skewed map: [B, H, h]
      h, c = carry
      h, c = lstm_update(x_gates_j + conv1d(h, K_ss, (1, 0)), c)
      return (h, c), h

    zeros = jnp.zeros((B, H, n), x.dtype)
    _, h = jax.lax.scan(column, (zeros, zeros), jnp.moveaxis(x_gates, 2, 0))  # [W + H - 1, B, H, h]
    return unskew(jnp.moveaxis(h, 0, 2), W)


class DiagonalBiLSTM(nn.Module):
  units: int
  channels: int

  @nn.compact
  def __call__(self, x, pixels):  # features [B, H, W, F], the image [B, H, W, C]
    left = DiagonalLSTM(self.units, self.channels)(x)
    # the right-to-left map is moved one row down, so it may read all of its rows, the pixels
    # too: a feature at (i, j) never holds pixel (i, j), and no feature lies right of the row's end
    both = jnp.concatenate([x, pixels], axis=-1)[:, :, ::-1]
    right = DiagonalLSTM(self.units, self.channels, masked=False)(both)[:, :, ::-1]
    return left + shift_down(right)


LAYERS = {"row_lstm": lambda units, kernel, channels: RowLSTM(units, kernel, channels),
          "diagonal_bilstm": lambda units, kernel, channels: DiagonalBiLSTM(units, channels)}


class PixelRNN(nn.Module):
  """x [B, H, W, C] -> logits [B, H, W, C] of p(x_ijc = 1 | earlier pixels)."""
  channels: int      # C
  layer: str         # "row_lstm" | "diagonal_bilstm"
  units: int         # h: LSTM units; 2h maps between layers
  num_layers: int    # LSTM layers, each with a residual connection
  first_kernel: int  # the mask-A convolution (7)
  kernel: int        # Row LSTM: k of K_is and K_ss (3)
  out_features: int  # the two masked 1×1 output layers

  @nn.compact
  def __call__(self, x, labels=None):
    del labels  # unconditional
    C, g, k0 = self.channels, lambda n: channel_groups(n, self.channels), self.first_kernel
    h = masked_conv(2 * self.units, (k0, k0), (k0 // 2, k0 // 2), g(C), g(2 * self.units), mask_a=True)(x)
    for _ in range(self.num_layers):
      state = LAYERS[self.layer](self.units, self.kernel, C)(h, x)  # [B, H, W, h]
      h = h + masked_dense(2 * self.units, g(self.units), g(2 * self.units))(state)
    h = masked_dense(self.out_features, g(2 * self.units), g(self.out_features))(nn.relu(h))
    return masked_dense(C, g(self.out_features), g(C))(nn.relu(h))


def make(config: ml_collections.ConfigDict, shape: tuple[int, int, int]) -> BinaryAutoregressive:
  """The PixelRNN of `config.net` for images of `shape` (H, W, C), on flat pixels x [B, D]."""
  net = config.net
  if net.layer not in LAYERS:
    raise ValueError(f"net.layer must be one of {', '.join(LAYERS)}, got {net.layer!r}")
  check_positive(**{"net.units": net.units, "net.num_layers": net.num_layers, "net.first_kernel": net.first_kernel,
                    "net.kernel": net.kernel, "net.out_features": net.out_features})
  model = PixelRNN(shape[-1], net.layer, net.units, net.num_layers, net.first_kernel, net.kernel, net.out_features)
  return image_model(model, shape, conditional=False)
