"""Noise schedules and the closed forms of the forward process (Ho, Jain & Abbeel 2020, "DDPM").

Time runs t = 0, 1, ..., T with t = 0 the data: every array below has T + 1 entries and
entry 0 is the clean image's, β_0 = 0 and ᾱ_0 = 1 *exactly*. (The book's code indexes β from
0 and then wraps ᾱ_{t-1} around to ᾱ_{T-1} at its first step; here ᾱ_{t-1} at t = 1 is ᾱ_0 = 1,
so the posterior variance at t = 1 is 0 by construction, not by zeroing a noise term.)

  q(x_t | x_0)          = N(√ᾱ_t x_0, (1 - ᾱ_t) I),       ᾱ_t = Π_{s<=t} (1 - β_s)
  q(x_{t-1} | x_t, x_0) = N(c0_t x_0 + ct_t x_t, β̃_t I),
      c0_t = √ᾱ_{t-1} β_t / (1 - ᾱ_t),  ct_t = √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t),
      β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · β_t.
"""

from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

SCHEDULES = ("linear", "cosine")


@flax.struct.dataclass
class Schedule:
  """The per-timestep constants, each [T + 1] float32 (index 0: t = 0, the data), computed in
  float64 first: 1 - ᾱ_1 = β_1 = 1e-4 would lose 3 of float32's 7 digits if formed in float32."""

  beta: jax.Array                      # β_t, β_0 = 0
  alpha_bar: jax.Array                 # ᾱ_t, ᾱ_0 = 1
  alpha_bar_prev: jax.Array            # ᾱ_{t-1} (entry 0 repeats ᾱ_0 = 1)
  sqrt_alpha_bar: jax.Array            # √ᾱ_t
  sqrt_one_minus_alpha_bar: jax.Array  # √(1 - ᾱ_t)
  posterior_var: jax.Array             # β̃_t, β̃_0 = β̃_1 = 0
  posterior_c0: jax.Array              # c0_t = √ᾱ_{t-1} β_t / (1 - ᾱ_t)  (c0_1 = 1)
  posterior_ct: jax.Array              # ct_t = √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t)  (ct_1 = 0)

  @property
  def num_steps(self) -> int:
    return self.beta.shape[0] - 1


def betas(kind: str, T: int, *, beta_1: float = 1e-4, beta_T: float = 0.02, cosine_s: float = 0.008) -> np.ndarray:
  """β_1..β_T [T] in float64: "linear" from beta_1 to beta_T (Ho et al.), or "cosine"
  (Nichol & Dhariwal 2021: ᾱ_t = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), β_t <= 0.999)."""
  if T < 1:
    raise ValueError(f"the number of diffusion steps T must be >= 1, got {T}")
  if kind == "linear":
    return np.linspace(beta_1, beta_T, T, dtype=np.float64)
  if kind == "cosine":
    f = np.cos((np.arange(T + 1, dtype=np.float64) / T + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
    return np.minimum(1.0 - f[1:] / f[:-1], 0.999)
  raise ValueError(f"unknown noise schedule {kind!r}; valid: {', '.join(SCHEDULES)}")


def make_schedule(kind: str, T: int, **kwargs) -> Schedule:
  """The schedule's constants, computed in float64 and stored as float32."""
  beta = np.concatenate([[0.0], betas(kind, T, **kwargs)])  # [T + 1]
  alpha_bar = np.cumprod(1.0 - beta)  # ᾱ_0 = 1 exactly
  prev = np.concatenate([[1.0], alpha_bar[:-1]])
  one_minus = np.concatenate([[1.0], 1.0 - alpha_bar[1:]])  # entry 0 unused (avoids 0/0)
  post = np.where(np.arange(T + 1) > 0, (1.0 - prev) / one_minus * beta, 0.0)
  c0, ct = np.sqrt(prev) * beta / one_minus, np.sqrt(1.0 - beta) * (1.0 - prev) / one_minus
  as32 = lambda a: jnp.asarray(a, jnp.float32)
  return Schedule(beta=as32(beta), alpha_bar=as32(alpha_bar), alpha_bar_prev=as32(prev),
                  sqrt_alpha_bar=as32(np.sqrt(alpha_bar)), sqrt_one_minus_alpha_bar=as32(np.sqrt(1.0 - alpha_bar)),
                  posterior_var=as32(post), posterior_c0=as32(c0), posterior_ct=as32(ct))


SCHEDULE_KEYS = ("num_steps", "schedule", "beta_1", "beta_T")  # the config.diffusion keys that fix q


def schedule_from_config(dc) -> Schedule:
  """The schedule of a `config.diffusion` block (the ddpm family and its noisy classifier share it)."""
  return make_schedule(dc.schedule, dc.num_steps, beta_1=dc.beta_1, beta_T=dc.beta_T)


def _per_example(a: jax.Array, t: jax.Array, ndim: int) -> jax.Array:
  """a[t] for t [B], shaped [B, 1, ..., 1] to broadcast against [B, H, W, C]."""
  return a[t].reshape(t.shape + (1,) * (ndim - t.ndim))


def q_sample(s: Schedule, x0: jax.Array, t: jax.Array, eps: jax.Array) -> jax.Array:
  """x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε, a draw of q(x_t | x_0) for the given noise ε; t [B]."""
  nd = x0.ndim
  return _per_example(s.sqrt_alpha_bar, t, nd) * x0 + _per_example(s.sqrt_one_minus_alpha_bar, t, nd) * eps


def predict_x0(s: Schedule, x_t: jax.Array, t: jax.Array, eps: jax.Array) -> jax.Array:
  """x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t: the data the predicted noise points back to."""
  nd = x_t.ndim
  return (x_t - _per_example(s.sqrt_one_minus_alpha_bar, t, nd) * eps) / _per_example(s.sqrt_alpha_bar, t, nd)


def posterior(s: Schedule, x0: jax.Array, x_t: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(mean, variance) of q(x_{t-1} | x_t, x_0) for t >= 1; the variance is [B, 1, 1, 1]."""
  nd = x_t.ndim
  c0, ct = _per_example(s.posterior_c0, t, nd), _per_example(s.posterior_ct, t, nd)
  return c0 * x0 + ct * x_t, _per_example(s.posterior_var, t, nd)


def ddim_timesteps(T: int, S: int) -> np.ndarray:
  """The S timesteps DDIM visits, from T down (Song, Meng & Ermon 2021, "uniform" skipping):
  τ_i = round(i·T/S) for i = S..1, then the jump to t = 0. S = 3, T = 1000: [1000, 667, 333]
  (in the 0-based indexing of the book's code, the first step is T - 1)."""
  if not 1 <= S <= T:
    raise ValueError(f"DDIM steps must be in [1, T = {T}], got {S}")
  return np.round(np.arange(S, 0, -1) * T / S).astype(np.int32)
