"""Initial mixture parameters: k-means++ seeding (Arthur & Vassilvitskii, 2007), k-means
(Lloyd), random responsibilities, or parameters given by the caller.

Each initialiser makes responsibilities for every point; one M-step turns them into
parameters, exactly as scikit-learn's `GaussianMixture` does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.gmm.em import accumulate, m_step
from gen_jax.gmm.params import GMMParams

INITS = ("kmeans++", "kmeans", "random")
KMEANS_ITERATIONS = 30


def kmeans_plus_plus(key, x, w, k):
  """k centers [K, D]: the first drawn ∝ w, each next ∝ w·D², D the distance to the nearest."""
  keys = jax.random.split(key, k)
  first = x[jax.random.categorical(keys[0], jnp.log(w))]
  centers = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)
  d2 = jnp.sum((x - first) ** 2, 1)

  def body(i, carry):
    centers, d2 = carry
    logits = jnp.where(w > 0, jnp.log(w * d2 + 1e-30), -jnp.inf)
    center = x[jax.random.categorical(keys[i], logits)]
    return centers.at[i].set(center), jnp.minimum(d2, jnp.sum((x - center) ** 2, 1))

  return jax.lax.fori_loop(1, k, body, (centers, d2))[0]


def nearest(centers):
  """resp_fn: one-hot responsibility of the nearest center."""

  def resp_fn(index, x, phi):
    del index, phi
    d2 = jnp.sum(x * x, 1)[:, None] - 2 * x @ centers.T + jnp.sum(centers * centers, 1)[None]
    return jax.nn.one_hot(jnp.argmin(d2, 1), centers.shape[0], dtype=x.dtype), jnp.zeros(x.shape[0], x.dtype)

  return resp_fn


def lloyd(centers, x_chunks, w_chunks):
  """KMEANS_ITERATIONS rounds of Lloyd's algorithm; an empty cluster keeps its center."""

  def body(_, centers):
    # N_k and S_k are all Lloyd needs; "spherical" has the narrowest statistics ("tied" would
    # also form Σ w x xᵀ [D, D] at every round)
    stats = accumulate(nearest(centers), x_chunks, w_chunks, "spherical")
    moved = stats.sx / jnp.maximum(stats.nk, 1e-30)[:, None]
    return jnp.where((stats.nk > 0)[:, None], moved, centers)

  return jax.lax.fori_loop(0, KMEANS_ITERATIONS, body, centers)


def random_resp(key, k):
  """resp_fn: uniform random responsibilities, normalised per point (scikit-learn's "random")."""

  def resp_fn(index, x, phi):
    del phi
    u = jax.random.uniform(jax.random.fold_in(key, index), (x.shape[0], k), x.dtype)
    return u / jnp.sum(u, 1, keepdims=True), jnp.zeros(x.shape[0], x.dtype)

  return resp_fn


def initialize(key, x_chunks, w_chunks, k: int, covariance_type: str, init: str, reg_covar: float) -> GMMParams:
  """Initial parameters from chunked data x_chunks [M, C, D] with weights w_chunks [M, C]."""
  if init == "random":
    resp_fn, centers = random_resp(key, k), jnp.zeros((k, x_chunks.shape[-1]), x_chunks.dtype)  # data are centred
  else:
    flat_x, flat_w = x_chunks.reshape(-1, x_chunks.shape[-1]), w_chunks.reshape(-1)
    centers = kmeans_plus_plus(key, flat_x, flat_w, k)
    if init == "kmeans":
      centers = lloyd(centers, x_chunks, w_chunks)
    resp_fn = nearest(centers)
  stats = accumulate(resp_fn, x_chunks, w_chunks, covariance_type)
  return m_step(stats, covariance_type, reg_covar, centers)
