"""`fit`: EM to convergence inside one jit (`lax.while_loop`), `n_init` restarts one after another.

The data are centred (weighted mean subtracted) before fitting so that the one-pass second
moments stay accurate in float32, then cut into fixed-size chunks padded with zero-weight
rows. With several devices the chunks are split over a `data` mesh axis and the sufficient
statistics are summed across devices by the compiler. Every product runs at full float32
precision (`gen_jax.precision.exact`).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from gen_jax import precision
from gen_jax.gmm.em import em_step
from gen_jax.train import sharding
from gen_jax.train.threads import xla_owns_the_cores
from gen_jax.gmm.init import INITS, initialize
from gen_jax.gmm.params import GMMParams, check_covariance_type, covariance_shape, features, joint_log_prob_x_fn, n_second_order


@dataclasses.dataclass(frozen=True)
class FitResult:
  params: GMMParams           # the fitted mixture (of the best restart)
  log_likelihood: np.ndarray  # [n_iter] mean log-likelihood per point before each M-step
  n_iter: int                 # EM iterations run
  converged: bool             # whether the gain fell below tol before max_iter
  restart_log_likelihood: np.ndarray  # [n_init] final mean log-likelihood of every restart


def check_data(x, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
  """x as [N, D] and weights [N], or a ValueError that names what was expected."""
  x = np.asarray(x)
  if x.ndim == 1:
    x = x[:, None]
  if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
    raise ValueError(f"x must be a non-empty [N, D] array (or [N] for 1-D data); got shape {x.shape}")
  if not np.issubdtype(x.dtype, np.number):
    raise ValueError(f"x must be numeric, got dtype {x.dtype}")
  if not np.issubdtype(x.dtype, np.floating):
    x = x.astype(np.float64)
  bad = int(np.sum(~np.isfinite(x)))
  if bad:
    raise ValueError(f"x has {bad} non-finite values (NaN or inf); remove or impute them first")
  w = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
  if w.shape != (len(x),) or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
    raise ValueError(f"sample_weight must be finite, non-negative, [N]={len(x)} values with a positive sum")
  return x, w


def chunk_size(n: int, k: int, d: int, covariance_type: str, devices: int = 1) -> int:
  """Rows per chunk, balanced so that padding stays below one row per chunk and device.

  A chunk holds its features φ(x) [C, F] and responsibilities [C, K]. Full covariances (F =
  D(D+1)/2 + D + 1) keep that near 1M values (cache-sized: measured fastest on CPU); the other
  types take 8M values: one chunk avoids per-chunk slice copies, measured 25% faster on
  (100,000 x 32, K=16, diag)."""
  per_row = k + n_second_order(covariance_type, d) + d + 1
  limit = max((2 ** 20 if covariance_type == "full" else 2 ** 23) // per_row, 256)
  chunks = math.ceil(n / limit)
  size = math.ceil(n / chunks)
  return math.ceil(size / devices) * devices


def chunked(x: np.ndarray, w: np.ndarray, size: int, dtype, mesh=None, center=None):
  """[N, D] -> zero-weight padded chunks [M, C, D] of x - center, and [M, C] (split over
  `mesh` if given). The centring is done in x's precision, then rounded to `dtype`."""
  m = math.ceil(len(x) / size)
  dtype = np.dtype(dtype)  # converted on the host: half the bytes to move in float32
  x_chunks = np.zeros((m * size, x.shape[1]), dtype)
  np.subtract(x, 0 if center is None else center, out=x_chunks[:len(x)], casting="same_kind")
  w_chunks = np.zeros(m * size, dtype)
  w_chunks[:len(w)] = w
  x_chunks, w_chunks = x_chunks.reshape(m, size, -1), w_chunks.reshape(m, size)
  if mesh is None:
    return jax.device_put(x_chunks), jax.device_put(w_chunks)
  return (jax.device_put(x_chunks, NamedSharding(mesh, P(None, "data", None))),
          jax.device_put(w_chunks, NamedSharding(mesh, P(None, "data"))))


FEATURE_BYTES = 2 ** 30  # φ(x) is kept for the whole fit when it needs at most this much


def precompute_features(x_chunks, covariance_type):
  """φ(x) of every chunk, once per fit, when it fits in FEATURE_BYTES; else None (EM then
  recomputes φ chunk by chunk at every pass: slower, same result)."""
  shape = jax.eval_shape(lambda c: features(c, covariance_type), x_chunks[0])
  if x_chunks.shape[0] * shape.size * shape.dtype.itemsize > FEATURE_BYTES:
    return None
  return jax.vmap(lambda c: features(c, covariance_type))(x_chunks)


def run_em(params, x_chunks, w_chunks, *, tol, max_iter, reg_covar):
  """EM until |gain| < tol or max_iter: (params, history [max_iter], n_iter, converged)."""
  history = jnp.full((max_iter,), jnp.nan, x_chunks.dtype)
  phi_chunks = precompute_features(x_chunks, params.covariance_type)

  def cond(carry):
    _, it, _, _, converged = carry
    return (it < max_iter) & ~converged

  def body(carry):
    params, it, previous, history, _ = carry
    params, ll = em_step(params, x_chunks, w_chunks, reg_covar, phi_chunks=phi_chunks)
    converged = (it > 0) & (jnp.abs(ll - previous) < tol)
    return params, it + 1, ll, history.at[it].set(ll), converged

  start = (params, jnp.int32(0), jnp.array(-jnp.inf, x_chunks.dtype), history, jnp.array(False))
  params, it, _, history, converged = jax.lax.while_loop(cond, body, start)
  return params, history, it, converged


@functools.partial(jax.jit, static_argnames=("k", "covariance_type", "init", "tol", "max_iter", "reg_covar"))
@precision.exact
def _fit(keys, x_chunks, w_chunks, init_params, *, k, covariance_type, init, tol, max_iter, reg_covar):
  em = functools.partial(run_em, x_chunks=x_chunks, w_chunks=w_chunks, tol=tol, max_iter=max_iter, reg_covar=reg_covar)
  if init_params is not None:
    params, history, it, converged = em(init_params)
    return params, history, it, converged, history[it - 1][None]

  def restart(key):
    return em(initialize(key, x_chunks, w_chunks, k, covariance_type, init, reg_covar))

  # lax.map, not vmap: under vmap the lax.cond around the eigenvalue floor becomes a select,
  # so a batched eigh and a batched Cholesky run side by side, and jaxlib 0.10's CPU LAPACK
  # kernels, which each block a thread of XLA's pool while waiting for their batch, deadlock
  # there (seen in 4 of 8 fits of 3,000 x 50, K=10). One restart is one pass of the map.
  params, history, it, converged = jax.lax.map(restart, keys)
  finals = jnp.take_along_axis(history, (it - 1)[:, None], axis=1)[:, 0]  # [n_init]
  best = jnp.argmax(jnp.where(jnp.isnan(finals), -jnp.inf, finals))
  return (*jax.tree.map(lambda a: a[best], (params, history, it, converged)), finals)


def _check_init_params(init_params: GMMParams, k, d, covariance_type) -> None:
  expected = {"weights": (k,), "means": (k, d), "covariances": covariance_shape(covariance_type, k, d)}
  if init_params.covariance_type != covariance_type:
    raise ValueError(f"init_params are {init_params.covariance_type!r}, but covariance_type={covariance_type!r}")
  for name, shape in expected.items():
    if tuple(np.shape(getattr(init_params, name))) != shape:
      raise ValueError(f"init_params.{name} must have shape {shape}, got {np.shape(getattr(init_params, name))}")


@xla_owns_the_cores()
def fit(x, n_components: int, *, key, covariance_type: str = "full", tol: float = 1e-3, max_iter: int = 100,
        n_init: int = 1, init: str = "kmeans++", reg_covar: float = 1e-6, sample_weight=None,
        init_params: GMMParams | None = None, shard: bool = True) -> FitResult:
  """Fits a K-component Gaussian mixture to x [N, D] by EM (maximum likelihood).

  Returns the best of `n_init` restarts (highest final log-likelihood). The dtype is JAX's
  default float (float64 under `jax_enable_x64`). `init_params` (a `GMMParams`) starts EM from
  given parameters: a warm start; then `init` and `n_init` are not used.
  """
  x, w = check_data(x, sample_weight)
  check_covariance_type(covariance_type)
  n, d = x.shape
  support = int(np.sum(w > 0))
  if not isinstance(n_components, (int, np.integer)) or not 1 <= n_components <= support:
    raise ValueError(f"n_components must be an integer in [1, {support}] (the number of weighted points); got {n_components}")
  if init not in INITS:
    raise ValueError(f"init must be one of {', '.join(INITS)}, or pass init_params; got {init!r}")
  if tol < 0 or max_iter < 1 or n_init < 1 or reg_covar < 0:
    raise ValueError(f"need tol >= 0, max_iter >= 1, n_init >= 1, reg_covar >= 0; got {tol}, {max_iter}, {n_init}, {reg_covar}")
  dtype = jnp.asarray(0.0).dtype  # float32, or float64 under jax_enable_x64
  center = (w @ x) / w.sum()  # [D]
  devices = jax.device_count() if shard else 1
  mesh = sharding.make_mesh() if devices > 1 else None
  x_chunks, w_chunks = chunked(x, w, chunk_size(n, n_components, d, covariance_type, devices), dtype, mesh, center)
  shift = jnp.asarray(center, dtype)
  if init_params is not None:
    _check_init_params(init_params, n_components, d, covariance_type)
    init_params = jax.tree.map(lambda a: jnp.asarray(a, dtype), init_params)
    init_params = init_params.replace(means=init_params.means - shift)
  params, history, it, converged, finals = _fit(jax.random.split(key, n_init), x_chunks, w_chunks, init_params,
                                        k=int(n_components), covariance_type=covariance_type, init=init,
                                        tol=float(tol), max_iter=int(max_iter), reg_covar=float(reg_covar))
  params = params.replace(means=params.means + shift)
  it = int(it)
  return FitResult(params, np.asarray(history)[:it], it, bool(converged), np.asarray(finals))


def _by_chunks(reduce, params: GMMParams, x) -> jax.Array:
  """reduce(joint log-probabilities [C, K]) over row chunks of x: bounded memory for any N."""
  x = jnp.asarray(x, params.means.dtype)
  x = x[:, None] if x.ndim == 1 and params.dim == 1 else x
  n = x.shape[0]
  size = chunk_size(n, params.n_components, params.dim, params.covariance_type)
  chunks = jnp.pad(x, ((0, -n % size), (0, 0))).reshape(-1, size, x.shape[1])
  joint_log_prob = joint_log_prob_x_fn(params)  # Cholesky factors once, not per chunk
  out = jax.lax.map(lambda c: reduce(joint_log_prob(c)), chunks)
  return out.reshape(-1, *out.shape[2:])[:n]


@jax.jit
@precision.exact
def log_prob(params: GMMParams, x) -> jax.Array:
  """log p(x_n) = logsumexp_k [log π_k + log N(x_n | μ_k, Σ_k)] for x [N, D] -> [N]."""
  return _by_chunks(lambda joint: jax.nn.logsumexp(joint, axis=1), params, x)


@jax.jit
@precision.exact
def predict_proba(params: GMMParams, x) -> jax.Array:
  """Responsibilities p(k | x_n) [N, K]."""
  return _by_chunks(lambda joint: jax.nn.softmax(joint, axis=1), params, x)


@jax.jit
@precision.exact
def predict(params: GMMParams, x) -> jax.Array:
  """The most probable component of each point [N]."""
  return _by_chunks(lambda joint: jnp.argmax(joint, axis=1), params, x)


@functools.partial(jax.jit, static_argnames=("n",))
@precision.exact
def sample(params: GMMParams, key, n: int) -> tuple[jax.Array, jax.Array]:
  """n draws (x [n, D], component [n]); draw i uses fold_in(key, i) only."""
  kind, cov = params.covariance_type, params.covariances
  if kind in ("full", "tied"):
    chol = jnp.linalg.cholesky(cov)
    scale = (lambda z, e: chol[z] @ e) if kind == "full" else (lambda z, e: chol @ e)
  else:
    std = jnp.sqrt(cov)
    scale = lambda z, e: std[z] * e

  def one(i):
    k_component, k_noise = jax.random.split(jax.random.fold_in(key, i))
    z = jax.random.categorical(k_component, jnp.log(params.weights))
    eps = jax.random.normal(k_noise, (params.dim,), params.means.dtype)
    return params.means[z] + scale(z, eps), z

  return jax.vmap(one)(jnp.arange(n))
