"""InfoGAN's code sweeps (Chen et al. 2016, fig. 2): change one code, hold the rest.

  code_categorical.png   row r: one noise z_r; column k: c_cat = k (continuous codes 0)
  code_continuous_j.png  row k: c_cat = k, one shared z; columns: c_j from -2 to 2 (the
                         training range is (-1, 1): the outer columns extrapolate, as in the paper)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import viz
from gen_jax.gan.codes import CodeSpec, Inputs

SWEEP = np.linspace(-2.0, 2.0, 10, dtype=np.float32)


def categorical_sweep(spec: CodeSpec, key: jax.Array, rows: int = 10) -> Inputs:
  """[rows · K] inputs: z_r repeated over c_cat = 0..K-1."""
  k = spec.categorical
  z = jnp.repeat(jax.random.normal(key, (rows, spec.noise_dim)), k, axis=0)  # [rows·K, D]
  cont = jnp.zeros((rows * k, spec.continuous)) if spec.continuous else None
  return Inputs(z, jnp.tile(jnp.arange(k, dtype=jnp.int32), rows), cont)


def continuous_sweep(spec: CodeSpec, key: jax.Array, j: int) -> Inputs:
  """[K · 10] inputs: one z, row c_cat = k, column c_j = SWEEP[col], other codes 0."""
  k, n = max(spec.categorical, 1), len(SWEEP)
  z = jnp.broadcast_to(jax.random.normal(key, (spec.noise_dim,)), (k * n, spec.noise_dim))
  cont = jnp.zeros((k * n, spec.continuous)).at[:, j].set(jnp.tile(jnp.asarray(SWEEP), k))
  labels = jnp.repeat(jnp.arange(k, dtype=jnp.int32), n) if spec.categorical else None
  return Inputs(z, labels, cont)


def write_code_sweeps(spec: CodeSpec, render: Callable[[Inputs], jax.Array], workdir, *, seed: int = 0) -> None:
  """Writes the sweeps above; `render(inputs)` gives images [N, H, W, C] in [0, 1]."""
  workdir, key = Path(workdir), jax.random.key(seed)
  if spec.categorical:
    grid = render(categorical_sweep(spec, key))
    viz.save_grid(viz.to_uint8(grid), workdir / "code_categorical.png", columns=spec.categorical)
  for j in range(spec.continuous):
    grid = render(continuous_sweep(spec, jax.random.fold_in(key, 1), j))
    viz.save_grid(viz.to_uint8(grid), workdir / f"code_continuous_{j}.png", columns=len(SWEEP))
