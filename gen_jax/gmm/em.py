"""One EM iteration for a Gaussian mixture, over chunks of the data (Dempster et al., 1977).

E-step: r_nk = π_k N(x_n|μ_k,Σ_k) / Σ_j π_j N(x_n|μ_j,Σ_j), in log space (one exp pass), with
the log-densities of a chunk from one dense product φ(x) A (`params.joint_coefficients`).
Sufficient statistics (weighted by sample weights w_n) from one more product per chunk,
summed chunk by chunk with `lax.scan`:
    (w r)ᵀ φ(x) = [Q_k | S_k | N_k] = [Σ_n w_n r_nk q(x_n) | Σ_n w_n r_nk x_n | Σ_n w_n r_nk]
with φ(x) = [q(x), x, 1] and q the second-order terms of the covariance type (`params.features`):
vech(x xᵀ) for full, x² for diag, |x|² for spherical; tied uses Σ_n w_n x_n x_nᵀ instead.
M-step in closed form: π_k = N_k / Σ_j N_j,  μ_k = S_k / N_k,  Σ_k = Q_k / N_k - μ_k μ_kᵀ + reg·I.
The data are centred by the caller, which keeps these one-pass moments accurate; a full or
tied covariance that rounding still leaves indefinite gets its negative eigenvalues floored.
Working memory is one chunk's [C, K] responsibilities and φ; `fit` keeps φ of all the data
when it takes at most `fit.FEATURE_BYTES` (1 GiB), else it is rebuilt chunk by chunk.
Sharded data (chunks split over a `data` mesh axis) give per-device partial sums that jit adds.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from gen_jax.gmm.params import GMMParams, features, joint_log_prob_fn, n_second_order, unvech


class Stats(NamedTuple):
  nk: jax.Array              # [K] Σ w r
  sx: jax.Array              # [K, D] Σ w r x
  sxx: jax.Array             # full [K, D(D+1)/2] | diag [K, D] | spherical [K] | tied [D, D]
  total_weight: jax.Array    # scalar Σ w
  log_likelihood: jax.Array  # scalar Σ w log p(x)
  worst_log_prob: jax.Array  # scalar: the lowest log p(x) of a point with w > 0
  worst_x: jax.Array         # [D]: that point (re-seeds a dead component)


def chunk_moments(x, phi, w, resp, covariance_type):
  """[K, F] moments (w r)ᵀ φ(x) of one chunk (tied: also Σ w x xᵀ [D, D], else None)."""
  wr = w[:, None] * resp  # [C, K]
  second = (x * w[:, None]).T @ x if covariance_type == "tied" else None
  return wr.T @ phi, second


def worst_point(log_prob, w_chunks, x_chunks):
  """(lowest log p(x) among points with w > 0, that point [D]) over chunks [M, C]."""
  valid = jnp.where(w_chunks > 0, log_prob, jnp.inf)
  lowest = jnp.min(valid)
  position = jnp.arange(valid.size).reshape(valid.shape)
  first = jnp.min(jnp.where(valid == lowest, position, valid.size))  # two plain reductions, no argmin
  size = valid.shape[1]
  return lowest, x_chunks[first // size, first % size]


def accumulate(resp_fn: Callable, x_chunks, w_chunks, covariance_type, phi_chunks=None) -> Stats:
  """Sums the statistics of x_chunks [M, C, D], w_chunks [M, C] given resp_fn(index, x, φ(x))
  -> (responsibilities [C, K], log p(x) [C]).

  `phi_chunks` (φ(x) [M, C, F], computed once per fit by the caller) saves recomputing φ at
  every pass. One chunk runs without a loop.
  """

  def chunk(index, x, w, phi):
    phi = features(x, covariance_type) if phi is None else phi
    resp, log_prob = resp_fn(index, x, phi)
    return chunk_moments(x, phi, w, resp, covariance_type), log_prob

  if x_chunks.shape[0] == 1:
    moments, log_prob = chunk(0, x_chunks[0], w_chunks[0], None if phi_chunks is None else phi_chunks[0])
    log_prob = log_prob[None]
  else:
    def body(total, inputs):
      moments, log_prob = chunk(*inputs)
      return jax.tree.map(jnp.add, total, moments), log_prob

    shapes = jax.eval_shape(lambda: chunk(0, x_chunks[0], w_chunks[0], None if phi_chunks is None else phi_chunks[0]))
    zero = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes[0])
    inputs = (jnp.arange(x_chunks.shape[0]), x_chunks, w_chunks, phi_chunks)
    moments, log_prob = jax.lax.scan(body, zero, inputs)
  (m, second), d = moments, x_chunks.shape[-1]
  q = n_second_order(covariance_type, d)
  sxx = second if covariance_type == "tied" else (m[:, 0] if covariance_type == "spherical" else m[:, :q])
  return Stats(m[:, -1], m[:, q:q + d], sxx, jnp.sum(w_chunks), jnp.sum(w_chunks * log_prob),
               *worst_point(log_prob, w_chunks, x_chunks))


def posterior(params: GMMParams):
  """resp_fn of the E-step: responsibilities and log p(x) under `params`."""

  joint_log_prob = joint_log_prob_fn(params)  # coefficients once per iteration, not per chunk

  def resp_fn(index, x, phi):
    del index, x
    joint = joint_log_prob(phi)  # [C, K]; the data are centred
    top = jax.lax.stop_gradient(jnp.max(joint, axis=1, keepdims=True))
    e = jnp.exp(joint - top)  # one exp pass gives both r and log p(x)
    total = jnp.sum(e, axis=1, keepdims=True)
    return e / total, (top + jnp.log(total))[:, 0]

  return resp_fn


def floor_eigenvalues(cov: jax.Array) -> jax.Array:
  """The nearest positive semi-definite matrices [..., D, D] (negative eigenvalues set to 0)."""
  values, vectors = jnp.linalg.eigh(cov)
  return jnp.einsum("...de,...e,...fe->...df", vectors, jnp.maximum(values, 0), vectors)


def positive_definite(cov: jax.Array, reg_covar: float) -> jax.Array:
  """cov + reg·I, repaired by an eigenvalue floor only when its Cholesky factorisation fails."""
  eye = jnp.eye(cov.shape[-1], dtype=cov.dtype)
  cov = (cov + jnp.swapaxes(cov, -1, -2)) / 2
  failed = jnp.any(jnp.isnan(jnp.linalg.cholesky(cov + reg_covar * eye)))
  cov = jax.lax.cond(failed, floor_eigenvalues, lambda c: c, cov)
  return cov + reg_covar * eye


def m_step(stats: Stats, covariance_type: str, reg_covar: float, shift) -> GMMParams:
  """Closed-form maximisation given the sufficient statistics.

  N_k gets scikit-learn's 10·eps guard, which also pulls the mean of an empty component to
  `shift` (its current mean) instead of 0/0: its covariance floors to reg·I, finite, and
  `reseed_dead` gives it a new place.
  """
  tiny = 10 * jnp.finfo(stats.nk.dtype).eps
  nk = stats.nk + tiny
  means = (stats.sx + tiny * shift) / nk[:, None]
  d = means.shape[1]
  if covariance_type == "full":
    cov = unvech(stats.sxx, d) / nk[:, None, None] - jnp.einsum("kd,ke->kde", means, means)
    cov = positive_definite(cov, reg_covar)
  elif covariance_type == "diag":
    cov = jnp.maximum(stats.sxx / nk[:, None] - means * means, 0) + reg_covar
  elif covariance_type == "spherical":
    cov = jnp.maximum(stats.sxx / nk - jnp.sum(means * means, 1), 0) / d + reg_covar
  else:  # tied
    cov = (stats.sxx - jnp.einsum("k,kd,ke->de", nk, means, means)) / jnp.sum(nk)
    cov = positive_definite(cov, reg_covar)
  return GMMParams(nk / jnp.sum(nk), means, cov, covariance_type)


def data_covariance(stats: Stats, covariance_type: str, reg_covar: float):
  """The spread of all the data, in the shape of one component's covariance (None for tied,
  whose shared covariance stays)."""
  mean = jnp.sum(stats.sx, 0) / stats.total_weight
  second = jnp.sum(stats.sxx, 0) / stats.total_weight
  if covariance_type == "full":
    return positive_definite(unvech(second, mean.shape[0]) - jnp.outer(mean, mean), reg_covar)
  if covariance_type == "diag":
    return jnp.maximum(second - mean * mean, 0) + reg_covar
  if covariance_type == "spherical":
    return jnp.maximum(second - jnp.sum(mean * mean), 0) / mean.shape[0] + reg_covar
  return None


def reseed_dead(params: GMMParams, stats: Stats, reg_covar: float, threshold: float = 1e-6) -> GMMParams:
  """Re-seeds the first component whose responsibility mass N_k < threshold·Σw.

  It moves to the worst-explained point with the data's covariance and one point's weight.
  A collapsing component thus stays finite and gets another chance instead of dying.
  """
  dead = stats.nk < threshold * stats.total_weight

  def reseed(params):
    k = jnp.argmax(dead)
    weights = params.weights.at[k].set(1 / stats.total_weight)
    cov, spread = params.covariances, data_covariance(stats, params.covariance_type, reg_covar)
    cov = cov if spread is None else cov.at[k].set(spread)
    return params.replace(weights=weights / jnp.sum(weights), means=params.means.at[k].set(stats.worst_x),
                          covariances=cov)

  # A cond on the M-step's output: the data covariance (a Cholesky, maybe an eigh) is formed
  # only when a component died, and never beside the M-step's own factorisations.
  return jax.lax.cond(jnp.any(dead), reseed, lambda p: p, params)


def combine_across(stats: Stats, axis_name: str) -> Stats:
  """Under pmap: the statistics of all devices (sums by psum, the worst point by pmin)."""
  sums = jax.lax.psum(tuple(stats[:5]), axis_name)
  worst = jax.lax.pmin(stats.worst_log_prob, axis_name)
  mine = (stats.worst_log_prob == worst).astype(stats.worst_x.dtype)
  worst_x = jax.lax.psum(mine * stats.worst_x, axis_name) / jax.lax.psum(mine, axis_name)
  return Stats(*sums, worst, worst_x)


def em_step(params: GMMParams, x_chunks, w_chunks, reg_covar: float, *, axis_name: str | None = None,
            phi_chunks=None):
  """One EM iteration: (new params, mean log-likelihood of the *input* params).

  With `axis_name` (under pmap) each device holds a slice of the chunks and the statistics
  are summed over that axis before the M-step; under jit-sharding the compiler does it.
  """
  stats = accumulate(posterior(params), x_chunks, w_chunks, params.covariance_type, phi_chunks)
  if axis_name is not None:
    stats = combine_across(stats, axis_name)
  new = reseed_dead(m_step(stats, params.covariance_type, reg_covar, params.means), stats, reg_covar)
  return new, stats.log_likelihood / stats.total_weight
