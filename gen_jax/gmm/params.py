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


def n_second_order(covariance_type: str, d: int) -> int:
  """Columns of φ(x) that hold second-order terms: D(D+1)/2, D, 1 or 0 (tied)."""
  return {"full": d * (d + 1) // 2, "diag": d, "spherical": 1, "tied": 0}[covariance_type]


def features(x: jax.Array, covariance_type: str) -> jax.Array:
  """φ(x) = [q(x), x, 1] [C, F], the per-point features that make both EM steps dense products:
  the E-step's log-densities are φ(x) A and the M-step's statistics are (w r)ᵀ φ(x).
  q(x) is vech(x xᵀ) (full, in `vech_indices` order), x² (diag), |x|² (spherical), none (tied)."""
  d = x.shape[1]
  if covariance_type == "full":  # static slices, not a gather: row i of the upper triangle
    q = [x[:, i:i + 1] * x[:, i:] for i in range(d)]
  elif covariance_type == "diag":
    q = [x * x]
  elif covariance_type == "spherical":
    q = [jnp.sum(x * x, 1, keepdims=True)]
  else:
    q = []
  return jnp.concatenate([*q, x, jnp.ones((x.shape[0], 1), x.dtype)], 1)


def unvech(v: jax.Array, d: int) -> jax.Array:
  """[..., D(D+1)/2] upper-triangle values -> symmetric [..., D, D]."""
  rows, cols = vech_indices(d)
  upper = jnp.zeros((*v.shape[:-1], d, d), v.dtype).at[..., rows, cols].set(v)
  return upper + jnp.swapaxes(upper, -1, -2) - upper * jnp.eye(d, dtype=v.dtype)


def log_normalizers(params: GMMParams):
  """(c_k = log π_k + log|P_k| - D/2 log 2π [K], P) with P the precision factors."""
  factor, log_det = precision_factors(params)
  d = params.dim
  return log_det + jnp.log(params.weights) - 0.5 * d * jnp.log(2 * jnp.pi).astype(params.means.dtype), factor


def joint_coefficients(params: GMMParams):
  """(A [F, K], c [K], P_tied) with log π_k + log N(x | μ_k, Σ_k) = φ(x) A - ½|Pᵀx|² (≤ c_k).

  Expanding the squared Mahalanobis distance (x - μ_k)ᵀ Λ_k (x - μ_k), Λ_k = P_k P_kᵀ, over
  φ(x) = [q(x), x, 1] gives the columns of A:
    full       [-½ vech'(Λ_k) (off-diagonals doubled), Λ_k μ_k, c_k - ½ μ_kᵀΛ_kμ_k]
    diag       [-½ σ_k⁻², σ_k⁻² μ_k, c_k - ½ Σ_d μ_kd² σ_kd⁻²]
    spherical  [-½ σ_k⁻², σ_k⁻² μ_k, c_k - ½ σ_k⁻² |μ_k|²]
    tied       [Λ μ_k, c_k - ½ μ_kᵀΛμ_k], and -½|Pᵀx|², the same for every k, apart (P_tied)
  The expansion is accurate for data centred near the means (`fit` centres them); c_k, the
  value at distance 0, bounds it against rounding. P_tied is None unless tied.
  """
  kind, mu = params.covariance_type, params.means
  c, factor = log_normalizers(params)
  if kind == "full":
    rows, cols = vech_indices(mu.shape[1])
    precision = jnp.einsum("kde,kfe->kdf", factor, factor)  # [K, D, D]
    twice = jnp.where(rows == cols, 1.0, 2.0).astype(mu.dtype)
    quadratic, linear = -0.5 * precision[:, rows, cols] * twice, jnp.einsum("kde,ke->kd", precision, mu)
  elif kind in ("diag", "spherical"):
    prec = factor * factor  # diag [K, D], spherical [K]
    quadratic = -0.5 * (prec if kind == "diag" else prec[:, None])
    linear = mu * (prec if kind == "diag" else prec[:, None])
  else:
    quadratic, linear = jnp.zeros((mu.shape[0], 0), mu.dtype), mu @ factor @ factor.T
  constant = c - 0.5 * jnp.sum(mu * linear, 1)
  a = jnp.concatenate([quadratic, linear, constant[:, None]], 1).T  # [F, K]
  return a, c, (factor if kind == "tied" else None)


def joint_log_prob_fn(params: GMMParams, *, clamp: bool = False):
  """f(φ(x)) -> log π_k + log N(x_n | μ_k, Σ_k) [C, K] for centred data, its coefficients
  computed once. The E-step leaves `clamp` off (it would cost a pass over [C, K]); with it,
  each value is clamped at its bound c_k (a squared distance is never negative)."""
  a, c, tied_factor = joint_coefficients(params)

  def f(phi):
    joint = phi @ a
    if tied_factor is not None:
      y = phi[:, :-1] @ tied_factor  # Pᵀx [C, D]
      joint = joint - 0.5 * jnp.sum(y * y, 1, keepdims=True)
    return jnp.minimum(joint, c[None]) if clamp else joint

  return f


def joint_log_prob_x_fn(params: GMMParams):
  """g(x) -> log π_k + log N(x_n | μ_k, Σ_k) [N, K] for any (uncentred) x [N, D], clamped, its
  coefficients computed once: x and the means are first shifted by the mean of the means,
  keeping the expansions accurate."""
  shift = jax.lax.stop_gradient(jnp.mean(params.means, 0))
  f = joint_log_prob_fn(params.replace(means=params.means - shift), clamp=True)
  return lambda x: f(features(x - shift, params.covariance_type))


def joint_log_prob(params: GMMParams, x: jax.Array) -> jax.Array:
  """log π_k + log N(x_n | μ_k, Σ_k) for x [N, D] -> [N, K] (see `joint_log_prob_x_fn`)."""
  return joint_log_prob_x_fn(params)(x)
