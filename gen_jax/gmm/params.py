"""Gaussian-mixture parameters and the Cholesky factors of their precisions."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


@flax.struct.dataclass
class GMMParams:
  weights: jax.Array      # [K] mixing proportions π_k (sum to 1)
  means: jax.Array        # [K, D] component means μ_k
  covariances: jax.Array  # full [K, D, D] | diag [K, D] | spherical [K] | tied [D, D]
  covariance_type: str = flax.struct.field(pytree_node=False, default="full")

  @property
  def n_components(self) -> int:
    return self.means.shape[0]

  @property
  def dim(self) -> int:
    return self.means.shape[1]


def check_covariance_type(covariance_type: str) -> None:
  if covariance_type not in COVARIANCE_TYPES:
    raise ValueError(f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}; got {covariance_type!r}")


def covariance_shape(covariance_type: str, k: int, d: int) -> tuple[int, ...]:
  return {"full": (k, d, d), "diag": (k, d), "spherical": (k,), "tied": (d, d)}[covariance_type]


def n_parameters(covariance_type: str, k: int, d: int) -> int:
  """Free parameters: K-1 weights, K·D means, and the covariances of the given type."""
  cov = {"full": k * d * (d + 1) // 2, "diag": k * d, "spherical": k, "tied": d * (d + 1) // 2}[covariance_type]
  return (k - 1) + k * d + cov


def precision_factors(params: GMMParams) -> tuple[jax.Array, jax.Array]:
  """(P, log|P|) with Σ⁻¹ = P Pᵀ, from the Cholesky factor L of Σ (P = L⁻ᵀ by a triangular solve).

  full: P [K, D, D], log|P| [K]; tied: P [D, D], log|P| scalar;
  diag: P = σ⁻¹ [K, D]; spherical: P = σ⁻¹ [K]. No covariance is ever inverted or its
  determinant formed: log|Σ|^(-1/2) = -Σ_d log L_dd.
  """
  cov, kind = params.covariances, params.covariance_type
  if kind in ("full", "tied"):
    chol = jnp.linalg.cholesky(cov)  # [..., D, D] lower
    eye = jnp.eye(cov.shape[-1], dtype=cov.dtype)
    solve = lambda l: solve_triangular(l, eye, lower=True).T
    factor = jax.vmap(solve)(chol) if kind == "full" else solve(chol)
    return factor, -jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
  inv_std = jax.lax.rsqrt(cov)
  d = params.means.shape[1]
  log_det = jnp.sum(jnp.log(inv_std), axis=-1) if kind == "diag" else d * jnp.log(inv_std)
  return inv_std, log_det


def component_log_prob(params: GMMParams, x: jax.Array) -> jax.Array:
  """log N(x_n | μ_k, Σ_k) for x [N, D] -> [N, K].

  The squared Mahalanobis distance |Pᵀ(x - μ_k)|² is expanded into matrix products
  (x Pᵀ - μ Pᵀ, or Σ_d x²/σ² - 2 x μ/σ² + μ²/σ²) so the E-step runs on BLAS.
  """
  kind = params.covariance_type
  factor, log_det = precision_factors(params)
  shift = jax.lax.stop_gradient(jnp.mean(params.means, 0))  # expansions stay accurate far from 0
  x, mu = x - shift, params.means - shift
  d = x.shape[1]
  if kind == "full":
    y = jnp.einsum("nd,kde->nke", x, factor) - jnp.einsum("kd,kde->ke", mu, factor)[None]  # [N, K, D]
    maha = jnp.sum(y * y, axis=-1)
  elif kind == "tied":
    y, m = x @ factor, mu @ factor  # [N, D], [K, D]
    maha = jnp.sum(y * y, 1)[:, None] - 2 * y @ m.T + jnp.sum(m * m, 1)[None]
  elif kind == "diag":
    prec = factor * factor  # [K, D]
    maha = (x * x) @ prec.T - 2 * x @ (mu * prec).T + jnp.sum(mu * mu * prec, 1)[None]
  else:  # spherical
    prec = factor * factor  # [K]
    maha = (jnp.sum(x * x, 1)[:, None] - 2 * x @ mu.T + jnp.sum(mu * mu, 1)[None]) * prec[None]
  return -0.5 * (d * jnp.log(2 * jnp.pi).astype(x.dtype) + jnp.maximum(maha, 0)) + log_det[None]


def joint_log_prob(params: GMMParams, x: jax.Array) -> jax.Array:
  """log π_k + log N(x_n | μ_k, Σ_k) -> [N, K]."""
  return component_log_prob(params, x) + jnp.log(params.weights)[None]
