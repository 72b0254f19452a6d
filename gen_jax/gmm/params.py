"""Gaussian-mixture parameters and the Cholesky factors of their precisions."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
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


def vech_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
  """Row and column indices of the upper triangle (diagonal included) of a D x D matrix."""
  return np.triu_indices(d)


def second_order(x: jax.Array, covariance_type: str):
  """φ(x), the per-point features EM multiplies by its coefficients and sums:
  vech(x xᵀ) [C, D(D+1)/2] (full), [x², x] [C, 2D] (diag), |x|² [C, 1] (spherical), None (tied)."""
  if covariance_type == "full":
    rows, cols = vech_indices(x.shape[1])
    return x[:, rows] * x[:, cols]
  if covariance_type == "diag":
    return jnp.concatenate([x * x, x], 1)
  if covariance_type == "spherical":
    return jnp.sum(x * x, 1, keepdims=True)
  return None


def unvech(v: jax.Array, d: int) -> jax.Array:
  """[..., D(D+1)/2] upper-triangle values -> symmetric [..., D, D]."""
  rows, cols = vech_indices(d)
  upper = jnp.zeros((*v.shape[:-1], d, d), v.dtype).at[..., rows, cols].set(v)
  return upper + jnp.swapaxes(upper, -1, -2) - upper * jnp.eye(d, dtype=v.dtype)


def mahalanobis_terms(params: GMMParams):
  """The coefficients of the squared Mahalanobis distances |Pᵀ(x - μ_k)|², once per EM
  iteration (not per chunk), each expanded into dense matrix products over φ(x):
    full       vech(x xᵀ)·vech'(Λ_k) - 2 xᵀΛ_kμ_k + μ_kᵀΛ_kμ_k, Λ_k = P_k P_kᵀ (off-diagonals doubled)
    diag       [x², x]·[σ_k⁻², -2μ_kσ_k⁻²] + Σ_d μ_kd² σ_kd⁻²
    spherical  (|x|² - 2 x·μ_k + |μ_k|²) σ_k⁻²
    tied       |Pᵀx|² - 2 (Pᵀx)·(Pᵀμ_k) + |Pᵀμ_k|²
  The expansions are accurate for data centred near the means (`fit` centres them)."""
  kind, mu = params.covariance_type, params.means
  factor, log_det = precision_factors(params)
  if kind == "full":
    rows, cols = vech_indices(mu.shape[1])
    precision = jnp.einsum("kde,kfe->kdf", factor, factor)  # [K, D, D]
    twice = jnp.where(rows == cols, 1.0, 2.0).astype(mu.dtype)
    b = jnp.einsum("kde,ke->kd", precision, mu)  # Λ_k μ_k [K, D]
    terms = (jnp.concatenate([precision[:, rows, cols] * twice, -2 * b], 1).T, jnp.sum(mu * b, 1))
  elif kind == "diag":
    prec = factor * factor  # [K, D]
    terms = (jnp.concatenate([prec, -2 * mu * prec], 1).T, jnp.sum(mu * mu * prec, 1))
  elif kind == "spherical":
    terms = (mu, factor * factor, jnp.sum(mu * mu, 1))
  else:
    terms = (factor, mu @ factor)
  return terms, log_det


def mahalanobis(terms, kind: str, x: jax.Array, features) -> jax.Array:
  """Squared Mahalanobis distances [C, K] of x [C, D] with φ(x) = `features`."""
  if kind == "full":
    coefficients, c = terms  # [D(D+1)/2 + D, K], [K]
    t = features.shape[1]
    return features @ coefficients[:t] + x @ coefficients[t:] + c[None]
  if kind == "diag":
    coefficients, c = terms  # [2D, K], [K]
    return features @ coefficients + c[None]
  if kind == "spherical":
    mu, prec, mu2 = terms
    return (features - 2 * x @ mu.T + mu2[None]) * prec[None]
  factor, m = terms
  y = x @ factor  # [C, D]
  return jnp.sum(y * y, 1)[:, None] - 2 * y @ m.T + jnp.sum(m * m, 1)[None]


def joint_log_prob_fn(params: GMMParams):
  """f(x, φ(x)) -> log π_k + log N(x_n | μ_k, Σ_k) [C, K], its coefficients computed once."""
  terms, log_det = mahalanobis_terms(params)
  d, kind = params.dim, params.covariance_type
  const = log_det + jnp.log(params.weights) - 0.5 * d * jnp.log(2 * jnp.pi).astype(params.means.dtype)
  return lambda x, features: const[None] - 0.5 * jnp.maximum(mahalanobis(terms, kind, x, features), 0)


def joint_log_prob(params: GMMParams, x: jax.Array) -> jax.Array:
  """log π_k + log N(x_n | μ_k, Σ_k) for x [N, D] -> [N, K], for any (uncentred) x: x and
  the means are first shifted by the mean of the means, keeping the expansions accurate."""
  shift = jax.lax.stop_gradient(jnp.mean(params.means, 0))
  centred = params.replace(means=params.means - shift)
  x = x - shift
  return joint_log_prob_fn(centred)(x, second_order(x, params.covariance_type))
