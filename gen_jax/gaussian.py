"""Maximum-likelihood normal distributions, 1-D and D-dimensional.

For x_1..x_N ~ N(μ, Σ) the MLE is the sample mean and the (biased, 1/N) sample covariance:
    μ̂ = 1/N Σ_n x_n,   Σ̂ = 1/N Σ_n (x_n - μ̂)(x_n - μ̂)ᵀ.
Log-density through the Cholesky factor L of Σ (Σ = L Lᵀ), never an explicit inverse:
    log N(x|μ,Σ) = -½ |L⁻¹(x-μ)|² - Σ_d log L_dd - (D/2) log 2π.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from gen_jax import precision


@flax.struct.dataclass
class Normal:
  mean: jax.Array        # [D] μ
  covariance: jax.Array  # [D, D] Σ


@jax.jit
@precision.exact
def mle(x: jax.Array, weights: jax.Array | None = None) -> Normal:
  """μ̂ and Σ̂ of x [N, D] (optionally weighted by w [N]); two passes for accuracy."""
  w = jnp.ones(x.shape[0], x.dtype) if weights is None else weights
  w = w / jnp.sum(w)
  mean = w @ x
  centred = x - mean
  return Normal(mean, (centred * w[:, None]).T @ centred)


@jax.jit
@precision.exact
def log_prob(dist: Normal, x: jax.Array) -> jax.Array:
  """log N(x_n | μ, Σ) for x [N, D] -> [N]."""
  chol = jnp.linalg.cholesky(dist.covariance)
  z = solve_triangular(chol, (x - dist.mean).T, lower=True)  # [D, N]
  d = x.shape[1]
  return -0.5 * jnp.sum(z * z, 0) - jnp.sum(jnp.log(jnp.diagonal(chol))) - 0.5 * d * jnp.log(2 * jnp.pi).astype(x.dtype)


@precision.exact
def sample(dist: Normal, key: jax.Array, n: int) -> jax.Array:
  """n draws [n, D]; draw i uses fold_in(key, i) only."""
  chol = jnp.linalg.cholesky(dist.covariance)
  eps = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), dist.mean.shape, dist.mean.dtype))(jnp.arange(n))
  return dist.mean + eps @ chol.T
