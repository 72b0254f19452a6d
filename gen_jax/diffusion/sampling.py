"""Samplers compiled end to end: every step inside one `lax.scan`, seed-invariant per sample.

`eps_fn(x_t [N, H, W, C], t [N] int32) -> ε̂ [N, H, W, C]` is the (possibly guided) noise
prediction. `keys` [N] holds one key per sample (the caller's `fold_in(key, sample_index)`):
sample i starts from x_T ~ N(0, I) drawn with `fold_in(keys[i], 0)` and its step-t noise is
drawn with `fold_in(keys[i], t)`, so it is the same whatever the batch size or device count.
Both samplers form x̂_0 = (x_t - √(1 - ᾱ_t) ε̂)/√ᾱ_t, clipped to the data range [-1, 1] with
`clip` (as the DDPM paper's code does; without clipping the ancestral mean below is the book's
1/√α_t (x_t - β_t/√(1 - ᾱ_t) ε̂)).

Ancestral (Ho et al. 2020, Alg. 2), t = T..1:
    x_{t-1} = μ̃_t(x_t, x̂_0) + σ_t z,  σ_t² = β_t ("beta") or β̃_t ("posterior"); z = 0 at t = 1.
DDIM (Song, Meng & Ermon 2021, eq. 12) over τ_S > ... > τ_1 > τ_0 = 0:
    x_{τ'} = √ᾱ_{τ'} x̂_0 + √(1 - ᾱ_{τ'} - σ²) ε̂ + σ z,
    σ = η √((1 - ᾱ_{τ'})/(1 - ᾱ_τ)) √(1 - ᾱ_τ/ᾱ_{τ'})   (η = 0: deterministic; η = 1: DDPM-like).
Guidance (classifier-free, Ho & Salimans 2022): ε̂ = ε̂(x, ∅) + γ (ε̂(x, y) - ε̂(x, ∅));
γ = 1 is the plain conditional model, γ = 0 the unconditional one.
Classifier guidance (Dhariwal & Nichol 2021, Alg. 2): with a classifier p_φ(y | x_t, t) trained
on noisy images, ε̂' = ε̂ - s √(1 - ᾱ_t) ∇_{x_t} log p_φ(y | x_t, t), the ε of the score
∇ log p(x_t) + s ∇ log p_φ(y | x_t) (both samplers read ε̂').
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.diffusion.schedules import Schedule, ddim_timesteps, posterior, predict_x0

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
VARIANCES = ("beta", "posterior")


def per_sample_normal(keys: jax.Array, t, shape) -> jax.Array:
  """z_i ~ N(0, I) of `shape` from fold_in(keys[i], t): [N, *shape]."""
  return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, t), shape, jnp.float32))(keys)


def _x0(s: Schedule, x, t, eps, clip: bool):
  x0 = predict_x0(s, x, t, eps)
  return jnp.clip(x0, -1.0, 1.0) if clip else x0


def ancestral(eps_fn: EpsFn, s: Schedule, keys: jax.Array, shape, *, variance: str = "beta",
              clip: bool = True) -> jax.Array:
  """x_0 [N, *shape] after all T ancestral steps."""
  if variance not in VARIANCES:
    raise ValueError(f"sample.variance must be one of {', '.join(VARIANCES)}, got {variance!r}")
  n = keys.shape[0]

  def step(x, t):  # x = x_t -> x_{t-1}
    tt = jnp.full((n,), t, jnp.int32)
    mean, post_var = posterior(s, _x0(s, x, tt, eps_fn(x, tt), clip), x, tt)
    var = post_var if variance == "posterior" else s.beta[t]
    z = per_sample_normal(keys, t, shape)
    return mean + jnp.where(t > 1, jnp.sqrt(var), 0.0) * z, None

  x_T = per_sample_normal(keys, 0, shape)
  x0, _ = jax.lax.scan(step, x_T, jnp.arange(s.num_steps, 0, -1, dtype=jnp.int32))
  return x0


def ddim(eps_fn: EpsFn, s: Schedule, keys: jax.Array, shape, *, steps: int, eta: float = 0.0,
         clip: bool = True) -> jax.Array:
  """x_0 [N, *shape] after S = `steps` DDIM steps."""
  n = keys.shape[0]
  taus = ddim_timesteps(s.num_steps, steps)
  pairs = jnp.asarray(np.stack([taus, np.append(taus[1:], 0)], axis=1))  # [S, 2]: (τ, τ')

  def step(x, pair):
    t, t_prev = pair[0], pair[1]
    tt = jnp.full((n,), t, jnp.int32)
    eps = eps_fn(x, tt)
    x0 = _x0(s, x, tt, eps, clip)
    eps = (x - s.sqrt_alpha_bar[t] * x0) / s.sqrt_one_minus_alpha_bar[t]  # the noise of the clipped x̂_0
    var_t, var_prev = s.sqrt_one_minus_alpha_bar[t] ** 2, s.sqrt_one_minus_alpha_bar[t_prev] ** 2  # 1 - ᾱ
    sigma = eta * jnp.sqrt(var_prev / var_t * (1.0 - s.alpha_bar[t] / s.alpha_bar[t_prev]))
    z = per_sample_normal(keys, t, shape)
    direction = jnp.sqrt(jnp.maximum(var_prev - sigma ** 2, 0.0))
    return s.sqrt_alpha_bar[t_prev] * x0 + direction * eps + sigma * z, None

  x0, _ = jax.lax.scan(step, per_sample_normal(keys, 0, shape), pairs)
  return x0


def classifier_free(eps_cond_uncond: Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]],
                    guidance) -> EpsFn:
  """ε̂ = ε̂_∅ + γ (ε̂_y - ε̂_∅) from a function returning (ε̂_y, ε̂_∅); γ may be traced (vmap)."""

  def eps_fn(x, t):
    eps_y, eps_null = eps_cond_uncond(x, t)
    return eps_null + guidance * (eps_y - eps_null)

  return eps_fn


def classifier_guided(eps_fn: EpsFn, log_p: Callable[[jax.Array, jax.Array], jax.Array], s: Schedule,
                      scale) -> EpsFn:
  """ε̂' = ε̂ - scale √(1 - ᾱ_t) ∇_x log p_φ(y | x_t, t), from `log_p(x [N, ...], t [N]) -> [N]`
  (each sample's log-probability of its own label; samples do not interact, so the gradient of
  the sum is each sample's own gradient)."""
  grad = jax.grad(lambda x, t: jnp.sum(log_p(x, t)))

  def eps_fn_guided(x, t):
    sigma = s.sqrt_one_minus_alpha_bar[t].reshape((-1,) + (1,) * (x.ndim - 1))  # [N, 1, ...]
    return eps_fn(x, t) - scale * sigma * grad(x, t)

  return eps_fn_guided
