"""gen_jax: the classic generative models in JAX/Flax.

One training engine (`gen_jax.train`), one seam for model families (`gen_jax.registry`),
reproducible data (`gen_jax.data`) and sample-quality metrics (`gen_jax.metrics`).
"""

__version__ = "0.1.0"
