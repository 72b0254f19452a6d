"""The normal distribution fitted by maximum likelihood (closed form, one step).

`gen-jax train gaussian --data height.txt` fits N(μ, σ²); a two-column file gives N(μ, Σ).
"""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections

from gen_jax import gaussian, precision
from gen_jax.families import density
from gen_jax.registry import Family, register
from gen_jax.train import TrainState


@register("gaussian")
def build(config: ml_collections.ConfigDict, *, axis_name: str | None = None) -> Family:

  def init(key, example):
    del key  # the MLE needs no randomness
    d = example["x"].shape[1]
    dtype = jnp.asarray(example["x"]).dtype
    return TrainState.create(params=gaussian.Normal(jnp.zeros(d, dtype), jnp.eye(d, dtype=dtype)), opt_state={})

  @precision.exact  # the MLE is a reported value
  def update(state, batch, key):
    """μ̂ = Σ w x / Σ w,  Σ̂ = Σ w (x-μ̂)(x-μ̂)ᵀ / Σ w  (sums over all shards)."""
    del key
    x, w = batch["x"], batch["weight"]
    n = density.total(jnp.sum(w), axis_name)
    mean = density.weighted_center(x, w, axis_name)
    centred = x - mean
    dist = gaussian.Normal(mean, density.total((centred * w[:, None]).T @ centred, axis_name) / n)
    ll = density.total(w @ gaussian.log_prob(dist, x), axis_name) / n
    new_state = state.replace(step=state.step + 1, params=dist)
    return new_state, {"loss": -ll, "log_likelihood": ll, "converged": jnp.array(True)}

  def n_parameters(dist):
    d = dist.mean.shape[0]
    return d + d * (d + 1) // 2

  def title(dist):
    if dist.mean.shape[0] == 1:
      return f"N(μ={float(dist.mean[0]):.3f}, σ={float(jnp.sqrt(dist.covariance[0, 0])):.3f})"
    return f"N(μ={[round(float(m), 3) for m in dist.mean]}, Σ)"

  return Family(
      name="gaussian", init=init, update=update,
      evaluate=density.make_evaluate(gaussian.log_prob, n_parameters),
      sample=density.make_sample(lambda p, key, n: gaussian.sample(p, key, n), density.image_shape(config.data)),
      report=density.make_report(gaussian.log_prob, lambda p: {"mean": p.mean, "covariance": p.covariance}, title))
