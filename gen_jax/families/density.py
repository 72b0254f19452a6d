"""What the density-model families (gaussian, gmm) share: weighted sums that also work under
pmap, evaluation by log-likelihood/BIC/AIC, samples as points or images, and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import viz


def total(value, axis_name: str | None):
  """A sum over the batch shards: identity under jit-sharding, `psum` under pmap."""
  return value if axis_name is None else jax.lax.psum(value, axis_name)


def weighted_center(x, w, axis_name: str | None):
  """The weighted mean of x [N, D] over the whole (possibly pmap-split) batch.

  Deviations from a reference row are summed, so float32 rounding scales with the data's
  spread rather than its magnitude (heights near 170 cm: 4e-6 -> 1e-7 relative error)."""
  ref = x[0]
  local = w @ (x - ref) + jnp.sum(w) * ref
  return total(local, axis_name) / total(jnp.sum(w), axis_name)


def make_evaluate(log_prob: Callable, n_parameters: Callable[[object], int]):
  """evaluate(state, split, key) -> mean log-likelihood per point, BIC and AIC on the split."""

  def evaluate(state, split, key):
    del key
    w = np.asarray(split["weight"], np.float64)
    ll = np.asarray(log_prob(state.params, jnp.asarray(split["x"])), np.float64)
    n, total_ll, p = w.sum(), float(np.sum(w * ll)), n_parameters(state.params)
    return {"mean_log_likelihood": total_ll / n, "bic": -2 * total_ll + p * np.log(n),
            "aic": -2 * total_ll + 2 * p, "num_points": n, "iterations": int(state.step)}

  return evaluate


def make_sample(draw: Callable, image_shape: tuple | None):
  """sample(state, key, num) -> points [num, D], or uint8 images if the data were images."""

  def sample(state, key, num, labels=None):
    del labels
    x = np.asarray(draw(state.params, key, num))
    if image_shape is None:
      return x
    return viz.to_uint8(x).reshape(num, *image_shape)

  return sample


def make_report(log_prob: Callable, arrays: Callable[[object], dict], title: Callable[[object], str]):
  """report(state, train, workdir): params.npz, params.json (small fits) and density.png (D <= 2)."""

  def report(state, train, workdir):
    workdir = Path(workdir)
    values = {k: np.asarray(v) for k, v in arrays(state.params).items()}
    np.savez(workdir / "params.npz", **values)
    if sum(v.size for v in values.values()) <= 200:
      (workdir / "params.json").write_text(json.dumps({k: v.tolist() for k, v in values.items()}, indent=1) + "\n")
    x = np.asarray(train["x"])[np.asarray(train["weight"]) > 0]
    means = values.get("means")
    viz.plot_density(x, lambda g: log_prob(state.params, jnp.asarray(g, x.dtype)), workdir / "density.png",
                     title=title(state.params), centers=means if means is not None and means.shape[1] == 2 else None)

  return report


def image_shape(data_cfg) -> tuple | None:
  return (28, 28, 1) if data_cfg.source == "mnist" else None
