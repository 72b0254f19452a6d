"""MADE: the masked autoencoder for distribution estimation (Germain, Gregor, Murray & Larochelle 2015).

An MLP D -> H_1 -> ... -> H_L -> D whose weights are masked so that output d sees only the
inputs before d in an ordering m^0 (a permutation of 1..D). Every hidden unit k of layer l
gets a connectivity number m^l(k) ~ U{min m^{l-1}, ..., D-1} and
    hidden masks  M^l[j, k] = [m^l(k) >= m^{l-1}(j)]       output mask  M^V[k, d] = [m^0(d) > m^L(k)]
(eqs. 12-13), so the outputs are the logits of p(x_d | x_<d). Connectivity-agnostic training
draws one of `net.num_masks` masks per step; the test likelihood averages the probabilities of
`eval.num_masks` of them (log-mean-exp over masks, under `vmap`), still an exact likelihood of
a mixture. Mask m is a function of (`net.mask_seed`, m) only, drawn inside jit.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from gen_jax.autoregressive.common import BinaryAutoregressive, check_positive
from gen_jax.latent.bounds import bernoulli_log_prob


def connectivity(key: jax.Array, num_inputs: int, widths: tuple, order_agnostic: bool) -> list[jax.Array]:
  """[m^0 [D], m^1 [H_1], ..., m^L [H_L]] (int32): the ordering, then each hidden layer's numbers."""
  keys = jax.random.split(key, len(widths) + 1)
  m = [jax.random.permutation(keys[0], num_inputs) + 1 if order_agnostic else jnp.arange(1, num_inputs + 1)]
  for k, width in zip(keys[1:], widths):
    low = jnp.minimum(jnp.min(m[-1]), num_inputs - 1)
    m.append(jax.random.randint(k, (width,), low, num_inputs))  # in [low, D - 1]
  return [v.astype(jnp.int32) for v in m]


def masks(m: list[jax.Array]) -> list[jax.Array]:
  """The float masks [in, out] of every layer from the connectivity numbers (eqs. 12-13)."""
  hidden = [(out[None, :] >= inp[:, None]) for inp, out in zip(m[:-1], m[1:])]
  output = m[0][None, :] > m[-1][:, None]
  return [mask.astype(jnp.float32) for mask in (*hidden, output)]


class MaskedDense(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:  # [B, in], mask [in, out]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return x @ (kernel * mask) + bias


class MADE(nn.Module):
  num_inputs: int          # D pixels
  widths: tuple[int, ...]  # hidden layer widths H_1..H_L (ReLU)

  @nn.compact
  def __call__(self, x: jax.Array, layer_masks: list[jax.Array]) -> jax.Array:
    """Logits [B, D] of p(x_d = 1 | x_<d) for x [B, D]."""
    h = x
    for width, mask in zip(self.widths, layer_masks[:-1]):
      h = nn.relu(MaskedDense(width)(h, mask))
    return MaskedDense(self.num_inputs)(h, layer_masks[-1])


def make(config: ml_collections.ConfigDict, shape: tuple[int, ...]) -> BinaryAutoregressive:
  num_inputs = math.prod(shape)  # D: the pixels, in raster order
  net = config.net
  widths = tuple(net.widths)
  if widths:
    check_positive(**{"net.widths": widths})
  check_positive(**{"net.num_masks": net.num_masks, "eval.num_masks": config.eval.num_masks})
  model = MADE(num_inputs, widths)
  # keys are made where they are used: this function may first run inside a trace
  numbers_of = lambda index: connectivity(jax.random.fold_in(jax.random.key(net.mask_seed), index), num_inputs,
                                          widths, bool(net.order_agnostic))
  masks_of = lambda index: masks(numbers_of(index))
  log_prob = lambda params, x, index: bernoulli_log_prob(x, model.apply({"params": params}, x, masks_of(index)))

  def test_log_prob(params, x):
    """log (1/M) Σ_m p_m(x) over the first M = eval.num_masks masks: [B]."""
    per_mask = jax.vmap(lambda index: log_prob(params, x, index))(jnp.arange(config.eval.num_masks))  # [M, B]
    return jax.nn.logsumexp(per_mask, axis=0) - math.log(config.eval.num_masks)

  def sample(params, u):
    """D passes of the network under mask 0, pixel o_d drawn at pass d (`lax.fori_loop`)."""
    m = numbers_of(0)
    layer_masks, order = masks(m), jnp.argsort(m[0])  # order[d]: the pixel drawn d-th

    def draw(d, x):  # x [N, D], pixels drawn so far (the rest 0)
      pixel = order[d]
      p = jax.nn.sigmoid(model.apply({"params": params}, x, layer_masks)[:, pixel])
      return x.at[:, pixel].set((u[:, pixel] < p).astype(x.dtype))

    return jax.lax.fori_loop(0, num_inputs, draw, jnp.zeros_like(u))

  return BinaryAutoregressive(
      init=lambda key, x: model.init({"params": key}, x, masks_of(0))["params"],
      train_log_prob=lambda params, x, *, key: log_prob(params, x, jax.random.randint(key, (), 0, net.num_masks)),
      test_log_prob=test_log_prob, sample=sample)
