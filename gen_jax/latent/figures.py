"""Figures of latent-variable models: reconstructions, interpolations, latent traversals.

Linear interpolation z(t) = (1-t) z_a + t z_b; spherical (Shoemake 1985, used for Gaussian
latents by White 2016, "Sampling Generative Networks"):
    slerp(z_a, z_b; t) = sin((1-t)Ω)/sin Ω · z_a + sin(tΩ)/sin Ω · z_b,  cos Ω = <z_a, z_b>/(|z_a||z_b|),
which keeps the norm typical of a high-dimensional Gaussian instead of passing near its mode.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax import viz
from gen_jax.latent import model as chain


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
  """Spherical interpolation of rows a, b [D] at times t [T] -> [T, D]; linear when a ∥ b."""
  cos = jnp.dot(a, b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b) + 1e-12)
  omega = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
  t = t[:, None]
  safe = jnp.where(omega < 1e-6, 1.0, jnp.sin(omega))
  spherical = (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / safe
  return jnp.where(omega < 1e-6, (1 - t) * a + t * b, spherical)


def interpolations(codes: jax.Array, steps: int, spherical: bool) -> jax.Array:
  """Pairs (codes[2i], codes[2i+1]) -> [pairs * steps, D], each row of the grid one pair."""
  t = jnp.linspace(0.0, 1.0, steps)
  linear = lambda a, b: (1 - t[:, None]) * a + t[:, None] * b
  spherical_at_t = lambda a, b: slerp(a, b, t)
  rows = [(spherical_at_t if spherical else linear)(codes[i], codes[i + 1]) for i in range(0, len(codes) - 1, 2)]
  return jnp.concatenate(rows)


def traversal(code: jax.Array, dims: np.ndarray, steps: int, span: float = 3.0) -> jax.Array:
  """One row per latent dim in `dims`: `code` with that coordinate swept over [-span, span]."""
  values = jnp.linspace(-span, span, steps)
  rows = [jnp.tile(code, (steps, 1)).at[:, d].set(values) for d in dims]
  return jnp.concatenate(rows)  # [len(dims) * steps, D]


def write_latent_figures(model_for, params, images: np.ndarray, workdir, *, steps: int = 10) -> list[Path]:
  """reconstructions.png, interpolation_linear.png, interpolation_slerp.png and traversal.png
  from training images [N, H, W, C] (the top latent z_L is the one interpolated)."""
  workdir, x = Path(workdir), jnp.asarray(images, jnp.float32)
  model = model_for(x.shape[1:])
  top = chain.encode_mean(model, params, x)  # [N, d_L]
  decode = jax.jit(lambda z: chain.decode_top(model, params, z))
  z1 = model.apply({"params": params}, 0, x[:32], method=chain.ChainVAE.q)[0]
  recon = jax.nn.sigmoid(model.apply({"params": params}, z1, method=chain.ChainVAE.decode))
  paths = [workdir / n for n in ("reconstructions.png", "interpolation_linear.png", "interpolation_slerp.png",
                                 "traversal.png")]
  pairs = np.concatenate([np.asarray(x[:32]).reshape(4, 8, *x.shape[1:]),
                          np.asarray(recon).reshape(4, 8, *x.shape[1:])], axis=1)  # originals over reconstructions
  viz.save_grid(viz.to_uint8(pairs.reshape(-1, *x.shape[1:])), paths[0], columns=8)
  for path, spherical in ((paths[1], False), (paths[2], True)):
    viz.save_grid(viz.to_uint8(decode(interpolations(top[:16], steps, spherical))), path, columns=steps)
  active = np.argsort(-np.asarray(jnp.var(top, axis=0)))[:8]  # the most used latent dims
  viz.save_grid(viz.to_uint8(decode(traversal(top[0], active, steps))), paths[3], columns=steps)
  return paths
