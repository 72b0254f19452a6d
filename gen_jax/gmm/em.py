"""One EM iteration for a Gaussian mixture, over chunks of the data (Dempster et al., 1977).

E-step: r_nk = π_k N(x_n|μ_k,Σ_k) / Σ_j π_j N(x_n|μ_j,Σ_j), in log space with logsumexp.
Sufficient statistics (weighted by sample weights w_n, summed chunk by chunk with `lax.scan`):
    N_k = Σ_n w_n r_nk,   S_k = Σ_n w_n r_nk x_n,   Q_k = Σ_n w_n r_nk (x_n - m_k)(x_n - m_k)ᵀ
where m_k is the component's current mean (the "shift"; diagonal and spherical moments use
m_k = 0, tied ones Σ_n w_n x_n x_nᵀ).
M-step in closed form: π_k = N_k / Σ_j N_j,  μ_k = S_k / N_k,  Σ_k = Q_k / N_k - δ_k δ_kᵀ + reg·I
with δ_k = μ_k - m_k. Shifting by m_k keeps full covariances exact in float32 even for a
singleton far from the data's centre (one-pass raw moments would cancel catastrophically).
Memory is bounded by one chunk: [C, K] responsibilities and at most [C, K, D] (full covariances).
Sharded data (chunks split over a `data` mesh axis) give per-device partial sums that jit adds.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gen_jax.gmm.params import GMMParams, joint_log_prob


class Stats(NamedTuple):
  nk: jax.Array              # [K] Σ w r
  sx: jax.Array              # [K, D] Σ w r x
  sxx: jax.Array             # full [K, D, D] | diag [K, D] | spherical [K] | tied [D, D]
  total_weight: jax.Array    # scalar Σ w
  log_likelihood: jax.Array  # scalar Σ w log p(x)
  worst_log_prob: jax.Array  # scalar: the lowest log p(x) of a point with w > 0
  worst_x: jax.Array         # [D]: that point (re-seeds a dead component)


def second_moments(x, wr, covariance_type, shift):
  """Q for one chunk: x [C, D], wr = w·r [C, K], shift m [K, D]."""
  if covariance_type == "full":
    diff = x[:, None, :] - shift[None]  # [C, K, D]
    return jnp.einsum("ckd,cke->kde", wr[:, :, None] * diff, diff)
  if covariance_type == "diag":
    return wr.T @ (x * x)
  if covariance_type == "spherical":
    return wr.T @ jnp.sum(x * x, 1)
  return (x * jnp.sum(wr, 1, keepdims=True)).T @ x  # tied: Σ w x xᵀ


def chunk_stats(x, w, resp, log_norm, covariance_type, shift) -> Stats:
  """Statistics of one chunk given responsibilities resp [C, K] and log p(x) [C]."""
  wr = w[:, None] * resp
  valid_log_norm = jnp.where(w > 0, log_norm, jnp.inf)
  worst = jnp.argmin(valid_log_norm)
  return Stats(jnp.sum(wr, 0), wr.T @ x, second_moments(x, wr, covariance_type, shift), jnp.sum(w),
               jnp.sum(w * log_norm), valid_log_norm[worst], x[worst])


def accumulate(resp_fn: Callable, x_chunks, w_chunks, covariance_type, shift) -> Stats:
  """Sums `chunk_stats` over x_chunks [M, C, D] with resp_fn(index, x) -> (resp, log p(x))."""

  def body(total, inputs):
    index, x, w = inputs
    s = chunk_stats(x, w, *resp_fn(index, x), covariance_type, shift)
    worse = s.worst_log_prob < total.worst_log_prob
    summed = jax.tree.map(jnp.add, total[:5], s[:5])
    return Stats(*summed, jnp.where(worse, s.worst_log_prob, total.worst_log_prob),
                 jnp.where(worse, s.worst_x, total.worst_x)), None

  first = jax.eval_shape(lambda: chunk_stats(x_chunks[0], w_chunks[0], *resp_fn(0, x_chunks[0]), covariance_type, shift))
  zero = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), first)
  zero = zero._replace(worst_log_prob=jnp.array(jnp.inf, first.worst_log_prob.dtype))
  indices = jnp.arange(x_chunks.shape[0])
  return jax.lax.scan(body, zero, (indices, x_chunks, w_chunks))[0]


def posterior(params: GMMParams):
  """resp_fn of the E-step: responsibilities and log p(x) under `params`."""

  def resp_fn(index, x):
    del index
    joint = joint_log_prob(params, x)  # [C, K]
    log_norm = jax.nn.logsumexp(joint, axis=1)
    return jnp.exp(joint - log_norm[:, None]), log_norm

  return resp_fn


def m_step(stats: Stats, covariance_type: str, reg_covar: float, shift) -> GMMParams:
  """Closed-form maximisation given the sufficient statistics.

  N_k gets scikit-learn's 10·eps guard, which also pulls the mean of an empty component to
  its shift m_k (instead of 0/0), so its covariance is reg·I: finite, and re-seeded later.
  """
  tiny = 10 * jnp.finfo(stats.nk.dtype).eps
  nk = stats.nk + tiny
  means = (stats.sx + tiny * shift) / nk[:, None]
  d = means.shape[1]
  eye = jnp.eye(d, dtype=means.dtype)
  if covariance_type == "full":
    delta = means - shift
    cov = stats.sxx / nk[:, None, None] - jnp.einsum("kd,ke->kde", delta, delta)
    cov = (cov + jnp.swapaxes(cov, 1, 2)) / 2 + reg_covar * eye
  elif covariance_type == "diag":
    cov = jnp.maximum(stats.sxx / nk[:, None] - means * means, 0) + reg_covar
  elif covariance_type == "spherical":
    cov = jnp.maximum(stats.sxx / nk - jnp.sum(means * means, 1), 0) / d + reg_covar
  else:  # tied
    cov = (stats.sxx - jnp.einsum("k,kd,ke->de", nk, means, means)) / jnp.sum(nk)
    cov = (cov + cov.T) / 2 + reg_covar * eye
  return GMMParams(nk / jnp.sum(nk), means, cov, covariance_type)


def data_covariance(stats: Stats, covariance_type: str, reg_covar: float):
  """The spread of all the data, in the shape of one component's covariance.

  For full covariances the mixture's own covariance Σ_k π_k Σ_k stands in (the moments are
  shifted per component, so the data's covariance is not at hand).
  """
  mean = jnp.sum(stats.sx, 0) / stats.total_weight
  if covariance_type == "full":
    return None
  if covariance_type == "diag":
    return jnp.maximum(jnp.sum(stats.sxx, 0) / stats.total_weight - mean * mean, 0) + reg_covar
  if covariance_type == "spherical":
    return jnp.maximum(jnp.sum(stats.sxx) / stats.total_weight - jnp.sum(mean * mean), 0) / mean.shape[0] + reg_covar
  return None  # tied: the shared covariance stays


def reseed_dead(params: GMMParams, stats: Stats, reg_covar: float, threshold: float = 1e-6) -> GMMParams:
  """Re-seeds the first component whose responsibility mass N_k < threshold·Σw.

  It moves to the worst-explained point with the data's covariance and one point's weight.
  A collapsing component thus stays finite and gets another chance instead of dying.
  """
  dead = stats.nk < threshold * stats.total_weight
  k = jnp.argmax(dead)
  any_dead = jnp.any(dead)
  means = jnp.where(any_dead, params.means.at[k].set(stats.worst_x), params.means)
  weights = jnp.where(any_dead, params.weights.at[k].set(1 / stats.total_weight), params.weights)
  cov, spread = params.covariances, data_covariance(stats, params.covariance_type, reg_covar)
  if params.covariance_type == "full":
    spread = jnp.einsum("k,kde->de", params.weights, cov)
  if spread is not None:
    cov = jnp.where(any_dead, cov.at[k].set(spread), cov)
  return params.replace(weights=weights / jnp.sum(weights), means=means, covariances=cov)


def combine_across(stats: Stats, axis_name: str) -> Stats:
  """Under pmap: the statistics of all devices (sums by psum, the worst point by pmin)."""
  sums = jax.lax.psum(tuple(stats[:5]), axis_name)
  worst = jax.lax.pmin(stats.worst_log_prob, axis_name)
  mine = (stats.worst_log_prob == worst).astype(stats.worst_x.dtype)
  worst_x = jax.lax.psum(mine * stats.worst_x, axis_name) / jax.lax.psum(mine, axis_name)
  return Stats(*sums, worst, worst_x)


def em_step(params: GMMParams, x_chunks, w_chunks, reg_covar: float, *, axis_name: str | None = None):
  """One EM iteration: (new params, mean log-likelihood of the *input* params).

  With `axis_name` (under pmap) each device holds a slice of the chunks and the statistics
  are summed over that axis before the M-step; under jit-sharding the compiler does it.
  """
  stats = accumulate(posterior(params), x_chunks, w_chunks, params.covariance_type, params.means)
  if axis_name is not None:
    stats = combine_across(stats, axis_name)
  new = reseed_dead(m_step(stats, params.covariance_type, reg_covar, params.means), stats, reg_covar)
  return new, stats.log_likelihood / stats.total_weight
