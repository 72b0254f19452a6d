"""Gaussian mixtures by EM in the training engine: one `update` is one EM iteration.

The maths are `gen_jax.gmm.em.em_step`, the same function that `gen_jax.gmm.fit` runs inside
one `lax.while_loop`; here the engine drives it step by step (checkpoints, resume, logs) and
stops when the gain in mean log-likelihood falls below `tol` (the `converged` metric).
`opt_state` keeps the previous iteration's mean log-likelihood: EM has no optimizer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from gen_jax import gmm, precision
from gen_jax.families import density
from gen_jax.gmm.em import em_step
from gen_jax.gmm.fit import chunk_size
from gen_jax.gmm.init import INITS, initialize
from gen_jax.gmm.params import check_covariance_type
from gen_jax.registry import Family, register
from gen_jax.train import TrainState


@register("gmm")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:
  k, kind, reg = config.n_components, config.covariance_type, config.reg_covar
  check_covariance_type(kind)
  if not isinstance(k, int) or k < 1:
    raise ValueError(f"n_components must be a positive integer, got {k!r}")
  if config.init not in INITS:
    raise ValueError(f"init must be one of {', '.join(INITS)}, got {config.init!r}")
  if config.tol < 0 or reg < 0:
    raise ValueError(f"tol and reg_covar must be >= 0, got {config.tol} and {reg}")

  def centred_chunks(x, w):
    """x [N, D] -> centred zero-weight-padded chunks [M, C, D], weights [M, C], and the centre."""
    n, d = x.shape
    size = chunk_size(n, k, d, kind)
    center = density.weighted_center(x, w, axis_name)
    x_chunks = jnp.pad(x - center, ((0, -n % size), (0, 0))).reshape(-1, size, d)
    return x_chunks, jnp.pad(w, (0, -n % size)).reshape(-1, size), center

  @jax.jit
  @precision.exact
  def init(key, example):
    x, w = jnp.asarray(example["x"]), jnp.asarray(example["weight"])
    if k > x.shape[0]:
      raise ValueError(f"n_components={k} exceeds the {x.shape[0]} data points")
    x_chunks, w_chunks, center = centred_chunks(x, w)
    params = initialize(key, x_chunks, w_chunks, k, kind, config.init, reg)
    return TrainState.create(params=params.replace(means=params.means + center),
                             opt_state={"log_likelihood": jnp.array(-jnp.inf, x.dtype)})

  @precision.exact  # EM statistics are algorithmic values, whatever config.matmul_precision says
  def update(state, batch, key):
    del key  # EM is deterministic given its initialisation
    x_chunks, w_chunks, center = centred_chunks(batch["x"], batch["weight"])
    params = state.params.replace(means=state.params.means - center)
    params, ll = em_step(params, x_chunks, w_chunks, reg, axis_name=axis_name)
    converged = jnp.abs(ll - state.opt_state["log_likelihood"]) < config.tol
    new_state = state.replace(step=state.step + 1, params=params.replace(means=params.means + center),
                              opt_state={"log_likelihood": ll})
    return new_state, {"loss": -ll, "log_likelihood": ll, "converged": converged}

  def title(params):
    return f"Gaussian mixture, K={k}, {kind} covariances"

  arrays = lambda p: {"weights": p.weights, "means": p.means, "covariances": p.covariances}
  return Family(
      name="gmm", init=init, update=update,
      evaluate=density.make_evaluate(gmm.log_prob, lambda p: gmm.n_parameters(kind, p.n_components, p.dim)),
      sample=density.make_sample(lambda p, key, n: gmm.sample(p, key, n)[0], density.image_shape(config.data)),
      report=density.make_report(gmm.log_prob, arrays, title))
