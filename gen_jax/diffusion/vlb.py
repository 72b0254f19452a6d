"""The variational bound of a diffusion model in nats and bits/dim (Ho et al. 2020, eq. 5).

  -log p(x_0) <= L_T + Σ_{t=2..T} L_{t-1} + L_0,
  L_T     = KL(q(x_T | x_0) || N(0, I))                                  (closed form)
  L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_θ(x_{t-1} | x_t)), x_t ~ q(x_t | x_0)
          = ||μ̃_t - μ_θ||² / (2σ_t²) + D/2 (β̃_t/σ_t² - 1 - log(β̃_t/σ_t²))
  L_0     = -log p_θ(x_0 | x_1): a Gaussian N(μ_θ(x_1, 1), β_1) integrated over each pixel's bin
            of width 2/255 (the edge bins reach ±∞), on data x_0 in [-1, 1] made of 256 levels.
σ_t² is the sampler's variance (β_t or β̃_t); the decoder at t = 1 uses β_1 (β̃_1 = 0).
The sum over t has T - 1 terms, each a network call per image: with `num_t` > 0 it is the
unbiased estimate (T - 1) · mean of L_{t-1} over `num_t` timesteps drawn uniformly from 2..T.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from gen_jax.diffusion.schedules import Schedule, posterior, predict_x0, q_sample

BIN = 1.0 / 255.0  # half a bin of 256 levels on [-1, 1]


def gaussian_kl(mean_q, var_q, mean_p, var_p) -> jax.Array:
  """KL(N(mean_q, var_q I) || N(mean_p, var_p I)) summed over every axis but the first [B]."""
  terms = 0.5 * (jnp.log(var_p) - jnp.log(var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)
  return jnp.sum(terms.reshape(terms.shape[0], -1), axis=-1)


def discretized_gaussian_log_prob(x0: jax.Array, mean: jax.Array, std) -> jax.Array:
  """log ∫_bin N(u; mean, std²) du per image [B] for x0 in [-1, 1] on the 256-level grid."""
  upper = jnp.where(x0 > 1.0 - BIN, 1.0, ndtr((x0 + BIN - mean) / std))
  lower = jnp.where(x0 < -1.0 + BIN, 0.0, ndtr((x0 - BIN - mean) / std))
  log_p = jnp.log(jnp.maximum(upper - lower, 1e-12))
  return jnp.sum(log_p.reshape(log_p.shape[0], -1), axis=-1)


def vlb_terms(eps_fn: Callable, s: Schedule, x0: jax.Array, keys: jax.Array, *, num_t: int,
              variance: str = "beta") -> dict[str, jax.Array]:
  """{"prior": L_T, "diffusion": Σ_{t>=2} L_{t-1}, "decoder": L_0, "total"} per image [B], nats.
  keys [B]: one per image (noises and timesteps drawn from fold_in of it)."""
  b, T = x0.shape[0], s.num_steps
  prior = gaussian_kl(s.sqrt_alpha_bar[T] * x0, s.sqrt_one_minus_alpha_bar[T] ** 2, 0.0, 1.0)
  normal = lambda ks: jax.vmap(lambda k: jax.random.normal(k, x0.shape[1:], jnp.float32))(ks)
  fold = lambda i, j=None: jax.vmap(lambda k: jax.random.fold_in(k, i) if j is None
                                    else jax.random.fold_in(jax.random.fold_in(k, i), j))(keys)

  def kl_at(t, eps):  # t [B]
    x_t = q_sample(s, x0, t, eps)
    mean_q, var_q = posterior(s, x0, x_t, t)
    mean_p, _ = posterior(s, predict_x0(s, x_t, t, eps_fn(x_t, t)), x_t, t)
    var_p = var_q if variance == "posterior" else s.beta[t].reshape(-1, *(1,) * (x0.ndim - 1))
    return gaussian_kl(mean_q, var_q, mean_p, var_p)

  one = jnp.ones((b,), jnp.int32)
  x_1 = q_sample(s, x0, one, normal(fold(1)))
  mean_1 = predict_x0(s, x_1, one, eps_fn(x_1, one))  # μ_θ(x_1, 1) = x̂_0 (ᾱ_0 = 1)
  decoder = -discretized_gaussian_log_prob(x0, mean_1, jnp.sqrt(s.beta[1]))
  if T == 1:
    diffusion = jnp.zeros((b,), jnp.float32)
  elif num_t <= 0:  # every t: T - 1 network calls per image
    diffusion = jax.lax.fori_loop(2, T + 1, lambda t, acc: acc + kl_at(t * one, normal(fold(t))), jnp.zeros((b,)))
  else:
    def one_t(acc, i):
      t = jax.vmap(lambda k: jax.random.randint(k, (), 2, T + 1))(fold(T + 2, i))  # [B], uniform on 2..T
      return acc + kl_at(t, normal(fold(T + 1, i))), None
    total, _ = jax.lax.scan(one_t, jnp.zeros((b,)), jnp.arange(num_t))
    diffusion = (T - 1) * total / num_t
  return {"prior": prior, "diffusion": diffusion, "decoder": decoder, "total": prior + diffusion + decoder}

