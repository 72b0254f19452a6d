"""gen_jax: the classic generative models in JAX/Flax.

One training engine (`gen_jax.train`), one seam for model families (`gen_jax.registry`),
reproducible data (`gen_jax.data`) and sample-quality metrics (`gen_jax.metrics`).

Importing gen_jax asks XLA for deterministic GPU kernels (`--xla_gpu_deterministic_ops=true`
added to XLA_FLAGS unless they name the flag already): without it, reductions that XLA
compiles to atomic additions sum in a different order from run to run, and two identical EM
fits on an H100 differed by 3e-5. Import gen_jax before JAX first computes anything (the flag
is read when the backend starts); set GEN_JAX_DETERMINISTIC=0 to leave XLA_FLAGS alone.
"""

import os


def _deterministic_gpu_kernels() -> None:
  flags = os.environ.get("XLA_FLAGS", "")
  if os.environ.get("GEN_JAX_DETERMINISTIC", "1") != "0" and "xla_gpu_deterministic_ops" not in flags:
    os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()


_deterministic_gpu_kernels()

__version__ = "0.1.0"
